"""Which isolation layers this machine offers, probed once per process.

Each layer is detected by trying it, not by guessing from the platform (see ``sandbox.md`` §3e).
A missing layer degrades with a warning; ``AUTOGRADE_REQUIRE_SANDBOX=1`` makes it an error.
"""
from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field

CGROUP_V1 = "/sys/fs/cgroup"
CGROUP_UNIFIED = "/sys/fs/cgroup/unified"
SANDBOX_UID = 65534  # nobody

HINTS = {
    "bubblewrap": "bwrap not installed or not usable (Debian/Ubuntu: apt-get install bubblewrap): "
                  "running without namespace isolation (student code could see this machine's files "
                  "and network)",
    "seccomp": "pyseccomp not importable (pip install pyseccomp): sockets are not blocked by a "
               "syscall filter",
    "cgroup-memory": "no writable cgroup v1 memory controller (needs root): memory is guarded only by "
                     "RLIMIT_AS",
    "cgroup-pids": "no writable cgroup v1 pids controller (needs root): process count is guarded only "
                   "by RLIMIT_NPROC",
    "uid-drop": "not root or no setpriv/nobody: student code runs as your own user",
    "rlimits": "prlimit (util-linux) not found: no CPU, file-size or address-space limits",
    "kill-tree": "no cgroup.kill: a process that escapes its process group could outlive its time "
                 "limit",
}


@dataclass(frozen=True)
class Layers:
    available: frozenset[str]
    missing: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.available

    def as_report(self) -> dict:
        return {"active": sorted(self.available), "missing": dict(sorted(self.missing.items()))}


def _bwrap_works() -> bool:
    bwrap = shutil.which("bwrap")
    if not bwrap or not os.path.exists("/usr/bin/true"):
        return False
    args = [bwrap, "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
            "--unshare-all", "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    try:
        return subprocess.run(args + ["/usr/bin/true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _seccomp_works() -> bool:
    try:
        import pyseccomp  # noqa: F401
    except Exception:  # noqa: BLE001 - missing libseccomp raises OSError or ImportError
        return False
    return True


def _writable(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _uid_drop_works() -> bool:
    try:
        pwd.getpwuid(SANDBOX_UID)
    except KeyError:
        return False
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


@functools.lru_cache(maxsize=1)
def detect() -> Layers:
    probes = {
        "bubblewrap": _bwrap_works,
        "seccomp": _seccomp_works,
        "cgroup-memory": lambda: os.geteuid() == 0 and _writable(f"{CGROUP_V1}/memory")
        and os.path.exists(f"{CGROUP_V1}/memory/memory.limit_in_bytes"),
        "cgroup-pids": lambda: os.geteuid() == 0 and _writable(f"{CGROUP_V1}/pids"),
        "uid-drop": _uid_drop_works,
        "rlimits": lambda: shutil.which("prlimit") is not None,
        "kill-tree": lambda: os.geteuid() == 0 and _writable(CGROUP_UNIFIED),
    }
    available, missing = set(), {}
    for name, probe in probes.items():
        try:
            ok = probe()
        except Exception:  # noqa: BLE001 - a probe that crashes means the layer is absent
            ok = False
        if ok:
            available.add(name)
        else:
            missing[name] = HINTS[name]
    return Layers(frozenset(available), missing)


def sandbox_required() -> bool:
    return os.environ.get("AUTOGRADE_REQUIRE_SANDBOX", "") not in ("", "0", "false", "no")


class SandboxUnavailable(RuntimeError):
    """A layer is missing while ``AUTOGRADE_REQUIRE_SANDBOX`` demands all of them."""


class GraderBroken(RuntimeError):
    """The grader itself cannot grade here (its worker does not start, or cannot import NumPy): no
    score may come of it, and nothing that looks like one may be written."""
