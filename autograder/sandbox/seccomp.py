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


def build_filter():
    import pyseccomp as sc

    flt = sc.SyscallFilter(defaction=sc.ALLOW)
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


def bpf_file():
    """An open, rewound temporary file holding the compiled filter (pass its fd to bwrap)."""
    fh = tempfile.TemporaryFile()
    build_filter().export_bpf(fh)
    fh.flush()
    fh.seek(0)
    return fh


def load_in_process() -> None:
    """Without bubblewrap: load the filter into the current process (call just before exec)."""
    build_filter().load()
