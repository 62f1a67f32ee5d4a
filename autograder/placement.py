"""Dataset placement: put the rubric's dataset files where the course's scripts look for them.

Every file placed is the data directory's own (generated, or installed by an instructor) or a
rubric fixture, never a student's; files are hard-linked where possible and made world-readable,
since the sandbox's uid reads them. Cut copies (``head``: only the first N items, so the held-out
rest stays with the judge) are made once per grader, in a folder the grader owns and removes.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
from pathlib import Path, PurePosixPath

import numpy as np

from .intake import Submission, make_folders
from .worker.paths import MANIFEST


class HeadCache:
    """Cut copies of dataset files, made once each, kept in ``folder`` (removed with the grader)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._made: dict[tuple, Path] = {}

    def head_of(self, path: Path, head: dict[str, int]) -> Path:
        """A copy of a dataset file (a dict of arrays, .pkl or .npz) with only the first rows of some
        entries, or of an IDX file (MNIST's format, keyed by its file name) with only its first
        items. The file is the data directory's own, never a student's, so unpickling it is safe."""
        from .data import idx

        is_idx = path.name.endswith("-ubyte")
        if (is_idx or path.suffix == ".npy") and path.name not in head:
            return path
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, tuple(sorted(head.items())))
        if key in self._made and self._made[key].exists():
            return self._made[key]
        if is_idx:
            content = {path.name: idx.read(path)}
        elif path.suffix == ".npy":
            content = {path.name: np.load(path, allow_pickle=False)}
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as loaded:
                content = {k: loaded[k] for k in loaded.files}
        else:
            with open(path, "rb") as fh:
                content = pickle.load(fh)  # noqa: S301 - the data directory's file, see above
        for entry, rows in head.items():
            if entry in content:
                content[entry] = content[entry][:rows]
        out = self.folder / f"{len(self._made)}" / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        if is_idx:
            idx.write(out, content[path.name])
        elif path.suffix == ".npy":
            np.save(out, content[path.name])
        elif path.suffix == ".npz":
            np.savez(out, **content)
        else:
            with open(out, "wb") as fh:
                pickle.dump(content, fh, protocol=4)
        self._made[key] = out
        return out


def provide_data(submission: Submission, rubric, heads: HeadCache, keys: set[str] | None = None) -> None:
    """Put the rubric's dataset files next to the scripts that read them (read-only, world-readable);
    ``keys``: only next to these files (the rest of the manifest is kept), so a dataset is made only
    when something will read it.

    Whatever the student put in the way never stops it: a file where a folder goes, or a folder or
    link where a data file goes, is moved aside with a note (never followed), and a placement that
    still fails is a note: the questions that need the data lose their points, the rest is graded."""
    if not rubric.data:
        return
    from . import data

    placed: list[str] = []
    if keys is not None and (submission.root / MANIFEST).is_file() and not (submission.root / MANIFEST).is_symlink():
        placed += json.loads((submission.root / MANIFEST).read_text())  # ours: only the trusted reference calls this
    for placement in rubric.data:
        if keys is not None and placement.next_to not in keys:
            continue
        anchor = submission.files.get(placement.next_to)
        if anchor is None or (placement.optional and data.resolve(placement.dataset, make=False) is None):
            continue
        try:
            placed += _place(submission, rubric, placement, heads, anchor)
        except OSError as exc:
            submission.problems.append(f"the course's {', '.join(placement.files)} could not be put next to "
                                       f"{anchor.name}: {exc.strerror or exc}")
    write_manifest(submission.root, placed)


def write_manifest(root: Path, placed: list[str]) -> None:
    """What the course provides, for the worker's path tolerance (``worker/paths.py``): each file,
    and each folder with a trailing slash. A student's file of that name is replaced."""
    manifest = root / MANIFEST
    if os.path.lexists(manifest):
        os.unlink(manifest)
    manifest.write_text(json.dumps(sorted(set(placed))))
    os.chmod(manifest, 0o644)


def _place(submission: Submission, rubric, placement, heads: HeadCache, anchor: Path) -> list[str]:
    """Place one entry's files; return what was placed (relative paths, folders ending in /)."""
    from . import data

    root = submission.root
    # lexically, never through a link; a folder outside the submission (a flat zip's ../data)
    # becomes the folder of that name in its root
    folder = Path(os.path.normpath(anchor.parent / placement.into))
    if not folder.is_relative_to(root) or folder == root:
        folder = root / (PurePosixPath(placement.into).name or "data")
    placed = [folder.relative_to(root).as_posix() + "/"]
    source = (rubric.path(placement.fixture) if placement.fixture
              else data.resolve(placement.dataset).folder)
    for name in placement.files:
        rel = (folder / (placement.prefix + name)).relative_to(root)  # may hold folders: MNIST/raw/...
        target = make_folders(root, PurePosixPath(rel.parent.as_posix()), submission.problems) / rel.name
        if os.path.lexists(target):
            if stat.S_ISREG(os.lstat(target).st_mode):
                target.unlink()  # the student's copy of course data is replaced by ours
            else:
                submission.move_aside(target, f"the grader puts the course's {name} there")
        origin = heads.head_of(source / name, placement.head) if placement.head else source / name
        if origin.is_dir():  # an ImageFolder split: the whole tree, file by file
            shutil.copytree(origin, target, copy_function=_link_or_copy)
            _fix_tree_modes(target)
            placed.append(rel.as_posix() + "/")
            continue
        _link_or_copy(origin, target)
        os.chmod(target, 0o644)
        placed.append(rel.as_posix())
    return placed


def _link_or_copy(origin, target) -> None:
    try:
        os.link(origin, target)
    except OSError:
        shutil.copyfile(origin, target)


def _fix_tree_modes(root: Path) -> None:
    os.chmod(root, 0o755)
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
