"""Build the command line that starts a worker with every available isolation layer.

The chain, outermost first (each link only when its layer exists):

1. ``sh`` writes its own pid into the worker's cgroups, then execs the rest (no ``preexec_fn``,
   so starting workers from threads is safe);
2. ``prlimit`` sets the rlimit backstops (address space, CPU seconds, file size, open files, core);
3. ``bwrap`` builds an empty root with a read-only ``/usr``, the interpreter, the worker package
   and the submission, a size-limited private ``/tmp``, and new pid/net/ipc/uts namespaces; it
   loads the seccomp filter just before exec;
4. ``setpriv`` drops to uid/gid 65534 with no capabilities (root only; ``sandbox.md`` §2.1 design A);
5. the interpreter runs the worker.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

from pydantic import BaseModel, Field

from .layers import SANDBOX_UID, Layers

WORKER_PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "worker")
WORKER_MOUNT = "/opt/autograde"
SUBMISSION_MOUNT = "/submission"
# Import the worker package from its folder under the name ``agworker``, whatever that folder is.
BOOT = ("import importlib.util as u, sys; s = u.spec_from_file_location('agworker', {pkg!r} + "
        "'/__init__.py', submodule_search_locations=[{pkg!r}]); m = u.module_from_spec(s); "
        "sys.modules['agworker'] = m; s.loader.exec_module(m); "
        "from agworker.main import main; main()")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
PASSTHROUGH_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG")
ETC_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/fonts",
             "/etc/matplotlibrc")


class Limits(BaseModel):
    """Resource budgets of one worker; per-question time and memory come from the rubric."""

    memory_mb: int = Field(2048, ge=64, description="cgroup memory limit (OOM kill above it)")
    address_space_mb: int = Field(6144, ge=256, description="RLIMIT_AS backstop")
    max_pids: int = Field(128, ge=8, description="cgroup pids.max: processes plus threads")
    scratch_mb: int = Field(256, ge=16, description="size of the private /tmp (tmpfs)")
    file_size_mb: int = Field(64, ge=1, description="RLIMIT_FSIZE: largest file the code may write")
    cpu_seconds: int = Field(1800, ge=10, description="RLIMIT_CPU over the worker's whole life")
    threads: int = Field(1, ge=1, le=16, description="BLAS/OpenMP threads")


@dataclass
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]


def worker_env(limits: Limits, scratch: str | None = None) -> dict[str, str]:
    """The worker's whole environment. ``scratch``: a host folder the grader owns and removes, for a
    worker outside bubblewrap (the trusted reference, a laptop without it): its temp files and
    home go there, never into the host's shared temp folder."""
    home = scratch or "/tmp"
    env = {"HOME": home, "USER": "nobody", "LOGNAME": "nobody", "PATH": "/usr/bin:/bin",
           "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "LANG": "C.UTF-8"}
    if scratch:
        env.update(TMPDIR=scratch, MPLCONFIGDIR=os.path.join(scratch, "matplotlib"))
    env.update({var: str(limits.threads) for var in THREAD_VARS})
    # OpenMP threads that spin while they wait for work: with more threads than free cores (two
    # graders side by side, a rubric of two threads each) PyTorch's training ran 20x slower
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env.update({var: os.environ[var] for var in PASSTHROUGH_VARS if var in os.environ})
    return env


def interpreter_dirs() -> list[str]:
    """Directories the worker's interpreter needs: the base installation and the venv, if any."""
    dirs = []
    for path in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))):
        path = os.path.realpath(path)
        if not any(path == d or path.startswith(d + os.sep) for d in dirs):
            dirs = [d for d in dirs if not d.startswith(path + os.sep)] + [path]
    return dirs


def worker_args(req_fd: int, resp_fd: int, source: str, shims: list[str], package: str,
                reap: bool = False) -> list[str]:
    return [sys.executable, "-I", "-c", BOOT.format(pkg=package), "--req-fd", str(req_fd),
            "--resp-fd", str(resp_fd), "--source", source, "--shims", ",".join(shims)] + (["--reap"] if reap else [])


def plan(layers: Layers, limits: Limits, source: str, req_fd: int, resp_fd: int, shims: list[str],
         cgroup_procs: list[str], seccomp_fd: int | None, scratch: str | None = None) -> LaunchPlan:
    """The worker, started with every available layer."""
    def worker(package: str, submission: str) -> list[str]:
        # a private pid namespace makes reaping strays after each probe safe
        return worker_args(req_fd, resp_fd, submission, shims, package, reap=layers.has("bubblewrap"))

    return sandboxed(layers, limits, source, worker, cgroup_procs, seccomp_fd, scratch=scratch)


def confined(limits: Limits, command: list[str], cgroup_procs: list[str], scratch: str) -> LaunchPlan:
    """A trusted process (the reference worker) under the memory and rlimit backstops only: it runs
    the reference on a student's arrays, and those must not take the grader's machine with them."""
    rlimits = Layers(frozenset({"rlimits"}))
    if shutil.which("setpriv"):  # it dies with the grader: a killed grader must not leave it running
        command = ["setpriv", "--pdeathsig", "KILL", "--"] + command
    return LaunchPlan(_wrap(command, rlimits, limits, cgroup_procs), worker_env(limits, scratch))


def sandboxed(layers: Layers, limits: Limits, source: str, command, cgroup_procs: list[str],
              seccomp_fd: int | None, shared_dir: str | None = None, scratch: str | None = None) -> LaunchPlan:
    """Any command inside the sandbox: ``command(worker_package, submission)`` gives its argv with
    the paths it will see. ``shared_dir`` is bound read-write at the same path on both sides (a
    Jupyter kernel's ipc sockets and the probe's request and reply files). ``scratch`` is the host
    folder for temp files when there is no bubblewrap (and so no private /tmp)."""
    if not layers.has("bubblewrap"):
        return LaunchPlan(_wrap(command(WORKER_PACKAGE, source), layers, limits, cgroup_procs),
                          worker_env(limits, scratch))
    env = worker_env(limits)

    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    as_root = layers.has("uid-drop")
    if not as_root:
        argv += ["--unshare-user", "--disable-userns"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/lib", "/lib64", "/bin", "/sbin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for path in ETC_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.scratch_mb << 20), "--tmpfs", "/tmp"]
    for path in interpreter_dirs():
        argv += _parents(path) + ["--ro-bind", path, path]
    argv += ["--dir", WORKER_MOUNT, "--ro-bind", WORKER_PACKAGE, f"{WORKER_MOUNT}/agworker",
             "--ro-bind", source, SUBMISSION_MOUNT]
    if shared_dir:
        argv += _parents(shared_dir) + ["--bind", shared_dir, shared_dir]
    argv += ["--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv.append("--")
    if as_root:
        argv += ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"]
    argv += command(f"{WORKER_MOUNT}/agworker", SUBMISSION_MOUNT)
    return LaunchPlan(_wrap(argv, layers, limits, cgroup_procs), env)


def _parents(path: str) -> list[str]:
    """bwrap creates missing parents mode 0700; a dropped uid could not traverse them (§2.1)."""
    args, parts = [], path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        args += ["--perms", "0755", "--dir", "/" + "/".join(parts[:i])]
    return args


def _wrap(argv: list[str], layers: Layers, limits: Limits, cgroup_procs: list[str]) -> list[str]:
    if layers.has("rlimits"):
        cpu = limits.cpu_seconds
        argv = ["prlimit", f"--as={limits.address_space_mb << 20}", f"--cpu={cpu}:{cpu + 1}",
                f"--fsize={limits.file_size_mb << 20}", "--nofile=256", "--core=0",
                f"--nproc={max(limits.max_pids * 4, 512)}", "--"] + argv
    if cgroup_procs:
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 121; shift; done; shift; exec "$@"'
        argv = ["/bin/sh", "-c", script, "sh", *cgroup_procs, "--"] + argv
    return argv
