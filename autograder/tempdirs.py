"""Temporary folders the grader owns: private (0700), named by the owning process, always removed.

Everything a grade makes on the host (staged submissions, the staged reference, cut dataset files,
notebook kernels' socket folders, the reference worker's working copy) lives in one folder per
grader, ``autograde-<pid>-<random>`` in the temp folder (``TMPDIR`` if set). It is mode 0700, so no
other user can read the reference through it, and it is removed when the grader closes. A grader
killed outright (SIGKILL, a batch supervisor's time-out) cannot clean up after itself: its folder
keeps its pid in the name, and the next grader on the machine removes folders of processes that no
longer exist (:func:`sweep_stale`).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "autograde-"
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")


def private_dir(kind: str = "grader", parent: str | Path | None = None) -> Path:
    """A new folder only this user can enter, named after this process (for :func:`sweep_stale`)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-{kind}-", dir=parent))
    os.chmod(folder, 0o700)
    return folder


def remove(folder: str | Path | None) -> None:
    """Remove a folder made here; files in it may be read-only or still held open (never raises)."""
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)


def owner_pid(name: str) -> int | None:
    """The pid in an ``autograde-<pid>-...`` name, or None for any other name."""
    match = _OWNED.match(name)
    return int(match.group(1)) if match else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(parent: str | Path | None = None, pids: set[int] | None = None) -> list[Path]:
    """Remove this user's grader folders whose owning process is gone (or, given ``pids``, whose
    owner is one of those: a supervisor sweeps after a process it killed)."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        pid = owner_pid(entry.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        if (pids is not None and pid in pids) or (pids is None and not process_alive(pid)):
            remove(entry.path)
            removed.append(Path(entry.path))
    return removed
