"""Scripts that chain: the files each script wrote, and which of them a later script read.

The course runs its scripts in handout order in one folder: ``run_q3.py`` saves
``q3_weights.pickle`` and ``run_q4.py`` loads it. The worker runs them the same way (the grader
loads a script's predecessors first, :attr:`FileSpec.after`), and records here, for the report, where
each file a later script read came from: written by an earlier script in this grade, or the copy the
student handed in (when the earlier script did not write one: it failed, or saves elsewhere).
"""
from __future__ import annotations

import os

MAX_FILES = 5000      # files looked at per scan (a submission with more is not a course layout)
MAX_RECORDS = 20
KEPT_SUFFIXES = (".pickle", ".pkl", ".npy", ".npz", ".pt", ".pth", ".h5")  # what scripts hand on: weights

_handed_in: dict[str, tuple] = {}   # relative path -> (mtime_ns, size) when the worker started
_written: dict[str, str] = {}       # relative path -> the script that last wrote it
_records: list[dict] = []
_root: list[str] = []


def _handed_in_named(name: str) -> list[str]:
    """The hand-in's files of that base name, shallowest first."""
    return sorted((rel for rel in _handed_in if os.path.basename(rel) == os.path.basename(str(name))),
                  key=lambda rel: (rel.count(os.sep), rel))


def handed_in(name: str) -> str:
    """The path of the file ``name`` as the student handed it in (the shallowest of that name), for a
    probe that grades it when the script that should have written it did not finish in time."""
    found = _handed_in_named(name)
    if not _root or not found:
        raise FileNotFoundError(f"no {os.path.basename(str(name))} was handed in")
    return os.path.join(_root[0], found[0])


def scan(workdir: str) -> dict[str, tuple]:
    """Regular files under ``workdir`` (links not followed), with their mtime and size."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(workdir):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if os.path.stat.S_ISREG(info.st_mode):
                found[os.path.relpath(path, workdir)] = (info.st_mtime_ns, info.st_size)
            if len(found) >= MAX_FILES:
                return found
    return found


def begin(workdir: str) -> None:
    """The hand-in as the worker copied it (once per worker)."""
    if not _root:
        _root.append(workdir)
        _handed_in.update(scan(workdir))


def wrote(script: str, before: dict[str, tuple], after: dict[str, tuple]) -> None:
    for rel, stamp in after.items():
        if before.get(rel) != stamp:
            _written[rel] = script


def read(script: str, opened: list[str], after: list[str]) -> None:
    """Where the data files ``script`` opened (base names, from :mod:`.watch`) came from, for a
    script that runs after others (``after``): an earlier script's output, or the hand-in."""
    for name in dict.fromkeys(opened):
        if not name.endswith(KEPT_SUFFIXES) or len(_records) >= MAX_RECORDS:
            continue
        writers = [(rel, w) for rel, w in _written.items() if os.path.basename(rel) == name and w != script]
        if writers:
            rel, writer = writers[-1]
            _records.append({"script": script, "file": rel, "from": writer})
        elif after:
            handed = _handed_in_named(name)
            if handed:
                _records.append({"script": script, "file": handed[0], "from": "", "after": list(after)[:5]})


def record() -> list[dict]:
    return list(_records)
