"""Take a submission (zip or folder) into a clean, world-readable staging folder, and find its files.

Hostile archives never get past here: entries with absolute paths, ``..`` or symlinks are skipped
(and reported), and sizes are counted while reading, not trusted from the zip's directory, so a
zip bomb stops at the limit. Files are found by name wherever the student put them.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILES = 2000
MAX_TOTAL_BYTES = 200 << 20
MAX_FILE_BYTES = 100 << 20
# .autograde-kit: a student's self-check kit (autograder.kit) is never part of the submission
IGNORED_PARTS = {"__MACOSX", ".git", "__pycache__", ".ipynb_checkpoints", ".DS_Store", ".autograde-kit"}


class IntakeError(Exception):
    """The submission cannot be graded at all; the message is for the student and the TA."""


@dataclass
class Submission:
    root: Path
    origin: str
    digest: str
    files: dict[str, Path] = field(default_factory=dict)   # module name -> staged file
    missing: list[str] = field(default_factory=list)       # required file names not found
    problems: list[str] = field(default_factory=list)      # skipped entries and other notes
    by_pattern: dict[str, str] = field(default_factory=dict)  # module name -> file found by pattern

    @property
    def python_files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.py") if p.is_file())

    def module_paths(self, names, file_specs: dict) -> dict[str, dict]:
        """What the worker loads for these names: where each file is and whether it is a script."""
        return {n: {"path": str(self.files[n].relative_to(self.root)),
                    "as": file_specs[n].run_as_for(self.files[n].name),
                    **({"watch": file_specs[n].watch} if getattr(file_specs[n], "watch", None) else {})}
                for n in names if n in self.files}


def stage(source: str | Path, dest: Path, file_specs: dict, spec_dir: Path | None = None,
          trusted: bool = False) -> Submission:
    """Copy ``source`` into ``dest`` (created), find the rubric's files, put provided files in place.

    ``trusted`` (the repository's own reference solutions) follows file symlinks, so two courses
    that share a file byte for byte (handouts 000 and 004's nn.py) keep one copy of it."""
    source = Path(source)
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)
    problems: list[str] = []
    if source.is_dir():
        _copy_folder(source, dest, problems, follow_links=trusted)
    elif source.is_file():
        _extract_zip(source, dest, problems)
    else:
        raise IntakeError(f"{source}: no such file or folder")
    if not any(p.is_file() for p in dest.rglob("*")):
        raise IntakeError(f"{source.name}: the submission is empty")
    sub = Submission(dest, str(source), _digest(dest), problems=problems)
    _locate(sub, file_specs, spec_dir)
    return sub


def _safe_relpath(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return path


def _extract_zip(source: Path, dest: Path, problems: list[str]) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise IntakeError(f"{source.name}: not a zip file (or a damaged one); submit a .zip of your "
                          "code folder") from None
    except OSError as exc:
        raise IntakeError(f"{source.name}: cannot be read ({exc.strerror})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_FILES:
            raise IntakeError(f"{source.name}: {len(entries)} entries, more than the {MAX_FILES} allowed")
        total = 0
        for info in entries:
            rel = _safe_relpath(info.filename)
            mode = info.external_attr >> 16
            if rel is None:
                problems.append(f"skipped {info.filename!r}: a path outside the submission folder")
                continue
            if stat.S_ISLNK(mode):
                problems.append(f"skipped {info.filename!r}: symbolic links are not accepted")
                continue
            if info.is_dir() or IGNORED_PARTS & set(rel.parts):
                continue
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                total += _copy_capped(archive.open(info), target, MAX_TOTAL_BYTES - total, info.filename)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError, OSError) as exc:
                if isinstance(exc, IntakeError):
                    raise
                problems.append(f"skipped {info.filename!r}: cannot be extracted ({exc})")
    _fix_modes(dest)


def _copy_capped(stream, target: Path, budget: int, name: str) -> int:
    """Copy at most min(budget, MAX_FILE_BYTES) bytes; more means a bomb or an oversized upload."""
    limit = min(budget, MAX_FILE_BYTES)
    written = 0
    with stream, open(target, "wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > limit:
                out.close()
                target.unlink()
                which = "the whole submission" if budget < MAX_FILE_BYTES else "one file"
                raise IntakeError(f"{name}: expands beyond the size limit for {which} "
                                  f"({limit >> 20} MB); is this a zip bomb or a data folder?")
            out.write(chunk)
    return written


def _copy_folder(source: Path, dest: Path, problems: list[str], follow_links: bool = False) -> None:
    n_files = n_bytes = 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        dirs[:] = [d for d in dirs if d not in IGNORED_PARTS and not os.path.islink(os.path.join(folder, d))]
        rel_folder = Path(folder).relative_to(source)
        for name in files:
            src = Path(folder) / name
            if name in IGNORED_PARTS:
                continue
            if src.is_symlink() and not (follow_links and src.resolve().is_file()):
                problems.append(f"skipped {rel_folder / name}: symbolic links are not accepted")
                continue
            n_files += 1
            n_bytes += src.stat().st_size
            if n_files > MAX_FILES or n_bytes > MAX_TOTAL_BYTES:
                raise IntakeError(f"{source.name}: more than {MAX_FILES} files or {MAX_TOTAL_BYTES >> 20} MB")
            target = dest / rel_folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    _fix_modes(dest)


def _fix_modes(root: Path) -> None:
    """World-readable so the sandbox's unprivileged uid can read (not write) the staged copy."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def find(root: Path, tail: str) -> Path | None:
    """The shallowest file whose path ends with ``tail`` (``nn.py`` or ``python/nn.py``)."""
    tail_parts = PurePosixPath(tail).parts
    matches = [p for p in root.rglob(tail_parts[-1]) if p.is_file()
               and p.relative_to(root).parts[-len(tail_parts):] == tail_parts]
    if not matches:
        return None
    return min(matches, key=lambda p: (len(p.relative_to(root).parts), str(p)))


def find_pattern(root: Path, pattern: str, exclude: set[Path] = frozenset()) -> Path | None:
    """The file whose *name* matches ``pattern`` in full (case-insensitive), other than ``exclude``:
    the shallowest, then the shortest name, then the first alphabetically, so the choice never
    depends on the order the file system lists files in."""
    regex = re.compile(pattern, re.IGNORECASE)
    matches = [p for p in root.rglob("*") if p.is_file() and p not in exclude and regex.fullmatch(p.name)]
    if not matches:
        return None
    return min(matches, key=lambda p: (len(p.relative_to(root).parts), len(p.name), str(p.relative_to(root))))


def _locate(sub: Submission, file_specs: dict, spec_dir: Path | None) -> None:
    anchor: Path | None = None
    by_name = {name: next((f for path in [spec.path, *getattr(spec, "also", [])]
                           if (f := find(sub.root, path)) is not None), None)
               for name, spec in file_specs.items()}
    taken = {f for f in by_name.values() if f is not None}
    for name, spec in file_specs.items():
        found = by_name[name]
        pattern = getattr(spec, "pattern", None)
        if found is None and pattern:
            # a file another entry claims (by its name, or by an earlier pattern) is not this one
            found = find_pattern(sub.root, pattern, exclude=taken)
            if found is not None:
                taken.add(found)
                sub.by_pattern[name] = str(found.relative_to(sub.root))
        if found is not None and anchor is None and not spec.provided:
            anchor = found.parent
        if found is not None:
            sub.files[name] = found
        elif spec.required and not spec.provided:
            sub.missing.append(getattr(spec, "names_text", spec.path))
    for name, spec in file_specs.items():
        if not spec.provided or spec_dir is None:
            continue
        original = spec_dir / spec.provided
        target = sub.files.get(name) or (anchor or sub.root) / PurePosixPath(spec.path).name
        shutil.copyfile(original, target)
        os.chmod(target, 0o644)
        sub.files[name] = target
