"""Stop a grading process and everything it started, and remove what it left in the temp folder.

A grading process may be stuck anywhere (a blocking read, a loop in C), so it is asked first
(SIGTERM: the pool's worker loop closes its grader, which kills its sandbox and reference workers
and removes its temp folder) and killed after a grace period. The processes it had started are
noted before the signal, since they are re-parented (and so no longer found as its children) once
it is gone; the sandbox workers run in their own process groups, so they are killed one by one.
Read from ``/proc`` (Linux, like the sandbox): no dependency for this.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from ..tempdirs import sweep_stale

GRACE_S = 5.0


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> list[tuple[int, int]]:
    """Every process below ``pid`` as (pid, start time), so a reused pid is never signalled."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit() and (info := _stat(int(entry))):
            children.setdefault(info[0], []).append((int(entry), info[1]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def kill_listed(processes: list[tuple[int, int]]) -> None:
    """SIGKILL those of ``processes`` still alive with the same start time."""
    for pid, started in processes:
        info = _stat(pid)
        if info and info[1] == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def started(pid: int | None) -> int | None:
    """The start time of ``pid`` (taken at spawn, so a pid reused later is told apart)."""
    info = _stat(pid) if pid else None
    return info[1] if info else None


def stop(process, born: int | None, grace: float = GRACE_S) -> None:
    """SIGTERM a ``multiprocessing.Process`` started at ``born`` (:func:`started`), SIGKILL it after
    ``grace`` seconds, kill what it had started, then remove its ``autograde-<pid>-...`` folders."""
    pid = process.pid
    if pid is None:
        return

    def tree() -> list[tuple[int, int]]:  # none when the pid is no longer that process's
        return descendants(pid) if born is not None and started(pid) == born else []

    processes = tree()
    if process.is_alive():
        process.terminate()
        process.join(grace)
    if process.is_alive():
        processes += tree()  # what it started during the grace period
        process.kill()
        process.join(grace)
    kill_listed(processes)
    if started(pid) is None:  # gone, and its pid not taken by another process (maybe another grader)
        sweep_stale(pids={pid})
