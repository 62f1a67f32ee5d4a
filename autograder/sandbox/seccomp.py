"""The syscall filter: no sockets but AF_UNIX, no io_uring, no namespace or kernel-admin calls.

Built with pyseccomp (libseccomp, preinstalled on Debian) and exported as BPF for
``bwrap --seccomp FD``, so bwrap can still configure loopback over netlink before it loads it.
"""
from __future__ import annotations

import errno
import socket
import tempfile

DENY_EPERM = (
    "ptrace", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "kexec_load", "open_by_handle_at", "unshare", "setns", "mount", "umount2", "pivot_root",
    "chroot", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
)
DENY_ENOSYS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")
CLONE_NEWUSER = 0x10000000


def build_filter(allow_inet: bool = False):
    """``allow_inet`` lets IPv4 sockets through, for a Jupyter kernel: ipykernel binds a pipe on
    127.0.0.1 and libzmq aborts when ``socket()`` fails. Only ever used inside bwrap's network
    namespace, where 127.0.0.1 is the sandbox's own loopback and nothing else is routable."""
    import pyseccomp as sc

    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    if allow_inet:
        # EINVAL ("protocol family not available", socket(2)): libzmq's interface lookup treats it
        # as "no such interface" and goes on, where EPERM from a netlink socket aborts the kernel
        flt.add_rule(sc.ERRNO(errno.EINVAL), "socket", sc.Arg(0, sc.GT, socket.AF_INET))
        flt.add_rule(sc.ERRNO(errno.EINVAL), "socket", sc.Arg(0, sc.LT, socket.AF_UNIX))
    else:
        flt.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    for name in DENY_EPERM:
        _try_rule(flt, sc.ERRNO(errno.EPERM), name)
    for name in DENY_ENOSYS:
        _try_rule(flt, sc.ERRNO(errno.ENOSYS), name)
    return flt


def _try_rule(flt, action, name):
    try:
        flt.add_rule(action, name)
    except (RuntimeError, ValueError, OSError):  # a syscall this kernel/arch does not know
        pass


def bpf_file(allow_inet: bool = False):
    """An open, rewound temporary file holding the compiled filter (pass its fd to bwrap)."""
    fh = tempfile.TemporaryFile()
    build_filter(allow_inet).export_bpf(fh)
    fh.flush()
    fh.seek(0)
    return fh


def load_in_process() -> None:
    """Without bubblewrap: load the filter into the current process (call just before exec)."""
    build_filter().load()
