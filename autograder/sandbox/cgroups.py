"""Per-worker control groups: cgroup v1 for memory and process limits, v2 for kill-all.

On these machines the v2 hierarchy has no memory or pids controller (``sandbox.md`` §0), so limits
go through v1 files and the whole-tree kill through the unified group's ``cgroup.kill``.
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid

from .layers import CGROUP_UNIFIED, CGROUP_V1, Layers


class WorkerCgroups:
    """The groups of one worker process tree; create, limit, inspect, kill, remove."""

    def __init__(self, layers: Layers, memory_bytes: int, max_pids: int):
        name = f"autograde-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.paths: dict[str, str] = {}
        if layers.has("cgroup-memory"):
            self.paths["memory"] = os.path.join(CGROUP_V1, "memory", name)
        if layers.has("cgroup-pids"):
            self.paths["pids"] = os.path.join(CGROUP_V1, "pids", name)
        if layers.has("kill-tree"):
            self.paths["unified"] = os.path.join(CGROUP_UNIFIED, name)
        for path in self.paths.values():
            os.mkdir(path)
        if "pids" in self.paths:
            _write(self.paths["pids"], "pids.max", max_pids)
        self.set_memory(memory_bytes)

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(p, "cgroup.procs") for p in self.paths.values()]

    def set_memory(self, memory_bytes: int) -> None:
        """(Re)set the memory budget; raising it always works, lowering may be refused (EBUSY)."""
        path = self.paths.get("memory")
        if not path:
            return
        with contextlib.suppress(OSError):
            _write(path, "memory.limit_in_bytes", memory_bytes)
            # memsw exists only with swap accounting; without swap the plain limit is enough
            if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                _write(path, "memory.memsw.limit_in_bytes", memory_bytes)

    def reset_peak(self) -> None:
        """Start counting the peaks below afresh (the next request's own)."""
        path = self.paths.get("memory")
        if path:
            with contextlib.suppress(OSError):
                _write(path, "memory.max_usage_in_bytes", 0)
        for pid in self._pids():
            with contextlib.suppress(OSError):
                _write(f"/proc/{pid}", "clear_refs", 5)  # resets VmHWM, the peak resident set

    def peak_mb(self) -> float | None:
        """The most memory the group held since ``reset_peak``, page cache included (what the memory
        limit counts before it reclaims): read from the kernel, never from the student's process."""
        path = self.paths.get("memory")
        if not path:
            return None
        try:
            with open(os.path.join(path, "memory.max_usage_in_bytes")) as fh:
                return int(fh.read()) / (1 << 20)
        except (OSError, ValueError):
            return None

    def peak_rss_mb(self) -> float | None:
        """The peak resident memory of the group's processes since ``reset_peak``, summed (what the
        code itself held; the kernel's VmHWM of each, read by the grader from /proc)."""
        total, seen = 0, False
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            total += int(line.split()[1])
                            seen = True
            except (OSError, ValueError, IndexError):
                continue
        return total / 1024 if seen else None

    def _pids(self) -> list[int]:
        path = self.paths.get("memory") or self.paths.get("pids")
        if not path:
            return []
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:
                return [int(line) for line in fh if line.strip().isdigit()][:256]
        except OSError:
            return []

    def oom_kills(self) -> int:
        path = self.paths.get("memory")
        if not path:
            return 0
        try:
            with open(os.path.join(path, "memory.oom_control")) as fh:
                for line in fh:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def kill_all(self) -> None:
        """Kill every process in this worker's group, never a group the caller itself is in: for a
        moment after launch the launcher is still in its caller's group, and a cleanup that killed
        "the group of that process" would kill the grader (or the test runner)."""
        path = self.paths.get("unified")
        if path and not holds_self(path):
            with contextlib.suppress(OSError):
                _write(path, "cgroup.kill", 1)

    def remove(self, wait_s: float = 2.0) -> None:
        """Remove every group once empty (a killed task takes a moment to leave)."""
        deadline = time.monotonic() + wait_s
        for path in self.paths.values():
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    self.kill_all()
                    time.sleep(0.01)


def sweep_stale() -> list[str]:
    """Remove empty worker groups whose grader process is gone (it was killed before its cleanup)."""
    from ..tempdirs import owner_pid, process_alive

    removed = []
    for root in (os.path.join(CGROUP_V1, "memory"), os.path.join(CGROUP_V1, "pids"), CGROUP_UNIFIED):
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            pid = owner_pid(name)
            if pid is None or pid == os.getpid() or process_alive(pid):
                continue
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(root, name))  # fails, as it should, if a process is still in it
                removed.append(os.path.join(root, name))
    return removed


def holds_self(path: str) -> bool:
    """Whether this process (or the group it belongs to) is ``path`` or below it."""
    try:
        with open(os.path.join(path, "cgroup.procs")) as fh:
            if str(os.getpid()) in fh.read().split():
                return True
        with open("/proc/self/cgroup") as fh:
            mine = [line.rstrip("\n").split(":", 2)[2] for line in fh if line.startswith("0::")]
    except OSError:
        return False
    own = os.path.relpath(path, CGROUP_UNIFIED)
    return any(m.strip("/") == own or m.strip("/").startswith(own + "/") for m in mine)


def _write(folder: str, name: str, value) -> None:
    with open(os.path.join(folder, name), "w") as fh:
        fh.write(str(value))
