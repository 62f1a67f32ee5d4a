"""A Jupyter kernel inside the sandbox, driven by a trusted client outside it (``sandbox.md`` §2.9).

The kernel is started with the same chain as a worker (cgroups, rlimits, bubblewrap, uid drop,
seccomp), its argv ``python -m ipykernel_launcher -f {connection_file}``. TCP cannot cross the
sandbox's network namespace, so the kernel talks over ``ipc`` transport: unix sockets in a folder
bound read-write at the same path on both sides, which also carries the probe's request and reply
files. Interrupts travel as control messages (the kernel signals itself), because the kernel is in
its own pid namespace and session, out of reach of a signal to the launcher's process group.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from . import launch, seccomp
from .capped_client import capped_context
from .cgroups import WorkerCgroups
from ..tempdirs import private_dir
from .layers import Layers

MAX_SHARED_PARENT = 80

KERNEL_ARGS = ["-m", "ipykernel_launcher", "-f", "{connection_file}", "--HistoryManager.enabled=False"]


class SandboxedKernelManager(AsyncKernelManager):
    """A KernelManager whose kernel process is the sandbox chain built by :mod:`.launch`."""

    def configure(self, argv: list[str], env: dict, pass_fds: tuple[int, ...], log, preexec=None) -> None:
        self._sandbox_argv, self._outer_env, self._pass_fds, self._preexec = argv, env, pass_fds, preexec
        self._log = log
        self._kernel_spec = KernelSpec(argv=argv, display_name="autograde sandbox", language="python",
                                       interrupt_mode="message")

    @property
    def kernel_spec(self):
        return self._kernel_spec

    def client(self, **kwargs):
        """A client whose sockets refuse oversized messages (see :mod:`.capped_client`)."""
        self._client_context = capped_context()
        kwargs.setdefault("context", self._client_context)
        return super().client(**kwargs)

    def destroy_client_context(self) -> None:
        context = getattr(self, "_client_context", None)
        if context is not None:
            context.destroy(linger=0)
            self._client_context = None

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        return [a.replace("{connection_file}", self.connection_file) for a in self._sandbox_argv]

    async def _async_launch_kernel(self, kernel_cmd, **kw) -> None:
        os.chmod(self.connection_file, 0o644)  # the kernel's uid reads it
        kw.update(env=self._outer_env, pass_fds=self._pass_fds, stdout=self._log, stderr=subprocess.STDOUT)
        if self._preexec:
            kw["preexec_fn"] = self._preexec
        await super()._async_launch_kernel(kernel_cmd, **kw)


class KernelSandbox:
    """Everything one sandboxed kernel needs outside: its shared folder, cgroups and seccomp file."""

    def __init__(self, source: str, layers: Layers, limits: launch.Limits, sandboxed: bool,
                 scratch: str | os.PathLike | None = None):
        self.layers, self.limits, self.sandboxed = layers, limits, sandboxed
        self.scratch = str(scratch) if scratch is not None else None
        # in the grader's own folder when its path is short (a unix socket path must stay under
        # 108 bytes), else in the temp folder under a name the sweep of dead graders knows
        if self.scratch and len(self.scratch) <= MAX_SHARED_PARENT:
            self.shared = tempfile.mkdtemp(prefix="k-", dir=self.scratch)
        else:
            self.shared = str(private_dir("kernel"))
        # sticky and world-writable: the kernel's uid writes its sockets and replies here, and cannot
        # remove or replace the files the grader made (the reply files, see notebooks.py)
        os.chmod(self.shared, 0o1777 if sandboxed else 0o700)
        self.cgroups = None
        if sandboxed and any(layers.has(n) for n in ("cgroup-memory", "cgroup-pids", "kill-tree")):
            self.cgroups = WorkerCgroups(layers, limits.memory_mb << 20, limits.max_pids)
        self._bpf = seccomp.bpf_file(allow_inet=True) if sandboxed and layers.has("bubblewrap") and layers.has("seccomp") else None
        self.source = source
        self.log = tempfile.TemporaryFile()  # the kernel's own stdout/stderr (start-up failures)

    def manager(self) -> SandboxedKernelManager:
        def kernel(package: str, submission: str) -> list[str]:
            self.package, self.submission = package, submission
            return [sys.executable, *KERNEL_ARGS]

        if self.sandboxed:
            plan = launch.sandboxed(self.layers, self.limits, self.source, kernel,
                                    self.cgroups.procs_files if self.cgroups else [],
                                    self._bpf.fileno() if self._bpf else None, shared_dir=self.shared,
                                    scratch=self.shared)
            outer_env = dict(os.environ)
            if not self.layers.has("bubblewrap"):
                outer_env = dict(plan.env)
        else:
            plan = launch.LaunchPlan(kernel(launch.WORKER_PACKAGE, self.source),
                                     launch.worker_env(self.limits, self.shared))
            outer_env = dict(plan.env, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        km = SandboxedKernelManager(transport="ipc", ip=os.path.join(self.shared, "k"),
                                    connection_file=os.path.join(self.shared, "kernel.json"))
        preexec = None
        if self.sandboxed and not self.layers.has("bubblewrap") and self.layers.has("seccomp"):
            preexec = seccomp.load_in_process
        km.configure(plan.argv, outer_env, (self._bpf.fileno(),) if self._bpf else (), self.log, preexec)
        return km

    def log_tail(self, limit: int = 1500) -> str:
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - limit))
        return self.log.read().decode("utf-8", "replace")

    def kill_all(self) -> None:
        if self.cgroups:
            self.cgroups.kill_all()

    def close(self) -> None:
        self.kill_all()
        if self.cgroups:
            self.cgroups.remove()
            self.cgroups = None
        if self._bpf:
            self._bpf.close()
            self._bpf = None
        self.log.close()
        import shutil

        shutil.rmtree(self.shared, ignore_errors=True)

