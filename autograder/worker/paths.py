"""Forgive a path that is not there when the course provides a file of that name.

Students' scripts open their data where it was on their own laptop: ``../data/nist36_train.mat``
from ``python/``, ``data/...`` from the homework's root, ``images/01_list.jpg``, or
``C:\\Users\\me\\hw5\\data\\nist36_train.mat``. A TA would fix the path and regrade; here, when
student code asks for a file or folder that does not exist and the grader placed one of the same name
(the data the rubric provides: ``.autograde-provided.json`` in the submission's root lists them), it
gets that one. Only a missing path is redirected, only to a provided file, and only for reading;
every redirect is recorded and reported ("run_q3.py opened ... and was given ...").
"""
from __future__ import annotations

import builtins
import io
import json
import os

MANIFEST = ".autograde-provided.json"
MAX_RECORDED = 50
_state: dict = {}
_redirects: dict[str, str] = {}


def install(workdir: str) -> None:
    """Read what the grader provided and wrap the calls that open or list paths (once)."""
    try:
        with open(os.path.join(workdir, MANIFEST)) as fh:
            provided = [p for p in json.load(fh) if isinstance(p, str)]
    except (OSError, ValueError):
        provided = []
    by_name: dict[tuple[str, bool], list[str]] = {}  # (name, is a folder) -> relative paths
    for rel in provided:
        parts = rel.strip("/").split("/")
        by_name.setdefault((parts[-1], rel.endswith("/")), []).append(rel.strip("/"))
    first = not _state
    _state.update(workdir=workdir, by_name=by_name)
    if first:
        _wrap()


def record() -> dict[str, str]:
    return dict(_redirects)


def provided_for(path, folder: bool = False) -> str | None:
    """The provided file (or ``folder``) a missing ``path`` stands for: same name, and of several the
    one sharing the most trailing folders with it (``../data/x.mat`` over ``other/x.mat``). Files and
    folders are kept apart, so ``os.makedirs("../data")`` still makes a folder of its own."""
    try:
        text = os.fsdecode(path)
    except TypeError:
        return None
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts or not _state:
        return None
    candidates = _state["by_name"].get((parts[-1], folder), [])
    if not candidates:
        return None

    def shared_tail(rel: str) -> int:
        theirs, n = rel.split("/"), 0
        while n < min(len(theirs), len(parts)) and theirs[-1 - n] == parts[-1 - n]:
            n += 1
        return n

    best = max(candidates, key=lambda rel: (shared_tail(rel), -len(rel)))
    full = os.path.join(_state["workdir"], best)
    if len(_redirects) < MAX_RECORDED:
        _redirects.setdefault(text[:300], best)
    return full


def _missing(path) -> bool:
    try:
        return not isinstance(path, int) and not os.path.lexists(path)
    except (TypeError, ValueError):
        return False


def _wrap() -> None:
    original_open = builtins.open

    def open_(file, mode="r", *args, **kwargs):
        if "r" in mode and not any(c in mode for c in "wax+") and _missing(file):
            file = provided_for(file) or file
        return original_open(file, mode, *args, **kwargs)

    builtins.open = io.open = open_

    for name in ("listdir", "scandir"):
        original = getattr(os, name)

        def listing(path=".", _original=original):
            if _missing(path):
                path = provided_for(path, folder=True) or path
            return _original(path)

        setattr(os, name, listing)

    for name, folder in (("exists", False), ("isfile", False), ("isdir", True)):
        original = getattr(os.path, name)

        def check(path, _original=original, _folder=folder):
            if _original(path):
                return True
            substitute = provided_for(path, _folder) if _missing(path) else None
            return bool(substitute) and _original(substitute)

        setattr(os.path, name, check)

    original_stat = os.stat

    def stat(path, *args, **kwargs):
        try:
            return original_stat(path, *args, **kwargs)
        except FileNotFoundError:
            substitute = provided_for(path)
            if substitute is None:
                raise
            return original_stat(substitute, *args, **kwargs)

    os.stat = stat
