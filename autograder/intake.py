"""Take a submission (zip or folder) into a clean, world-readable staging folder, and find its files.

Hostile archives never get past here, and never end the run: entries with absolute paths, ``..``,
symlinks, names too long, special files (FIFOs, devices), a damaged member or one file over
``MAX_FILE_BYTES`` are skipped with a note in ``Submission.problems`` (names shown escaped), and the
rest is graded. Only what concerns the whole submission is an :class:`IntakeError`: unreadable,
too many entries, too many bytes, a zip bomb. Sizes are counted while reading, not trusted from
the zip's directory, so a bomb stops at the limit. Files are found by name wherever they sit.
"""
from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILES = 2000
MAX_TOTAL_BYTES = 200 << 20
MAX_FILE_BYTES = 100 << 20
# one member that expands more than this many times its compressed size past MAX_FILE_BYTES is a
# zip bomb (deflate on zeros reaches about 1000; arrays, text and images stay far below 200)
ZIP_BOMB_RATIO = 200
NAME_MAX = 255  # bytes in one file or folder name (Linux)
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
                    **({"watch": file_specs[n].watch} if getattr(file_specs[n], "watch", None) else {}),
                    **({"after": file_specs[n].after} if getattr(file_specs[n], "after", None) else {})}
                for n in names if n in self.files}

    def move_aside(self, path: Path, why: str) -> None:
        """Move something of the student's out of the grader's way (see :func:`move_aside`); the
        files found inside it are still found where they went."""
        moved = move_aside(path, self.root, self.problems, why)
        for name, found in self.files.items():
            if found.is_relative_to(path):
                self.files[name] = moved / found.relative_to(path)
                if name in self.by_pattern:
                    self.by_pattern[name] = str(self.files[name].relative_to(self.root))


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
        raise IntakeError(f"{source.name}: the submission is empty"
                          + (f" ({'; '.join(problems[:3])})" if problems else ""))
    sub = Submission(dest, str(source), _digest(dest), problems=problems)
    _locate(sub, file_specs, spec_dir)
    return sub


def _safe_relpath(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return path


def _shown(name) -> str:
    """A student's file name in a note: quoted, control characters escaped (repr), not too long."""
    text = repr(str(name))
    return text if len(text) <= 120 else f"{text[:80]}...{text[-30:]}"


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f}".removesuffix(".0")


def _too_big(name: str, size: int) -> str:
    return f"skipped {_shown(name)}: {_mb(size)} MB, over the {_mb(MAX_FILE_BYTES)} MB limit for one file"


def _long_part(rel: PurePosixPath) -> bool:
    return any(len(os.fsencode(part)) > NAME_MAX for part in rel.parts)


def move_aside(path: Path, root: Path, problems: list[str], why: str) -> Path:
    """Rename what is in the way (a file where a folder must be, a folder where our file goes) to a
    free name beside it, and say so; renaming never follows a symlink, deleting would lose work."""
    n = 1
    while os.path.lexists(moved := path.with_name(f"{path.name}~{n if n > 1 else ''}")):
        n += 1
    os.rename(path, moved)
    problems.append(f"renamed {_shown(path.relative_to(root))} to {_shown(moved.relative_to(root))}: {why}")
    return moved


def make_folders(root: Path, rel: PurePosixPath, problems: list[str]) -> Path:
    """``root/rel`` as real folders (mode 755), each part checked without following a link: a file
    or link of the submission's where a folder must be is moved aside."""
    folder = root
    for part in rel.parts:
        folder = folder / part
        st = os.lstat(folder) if os.path.lexists(folder) else None
        if st is not None and stat.S_ISDIR(st.st_mode):
            continue
        if st is not None:
            move_aside(folder, root, problems, "a folder of that name is needed there")
        folder.mkdir()
        os.chmod(folder, 0o755)  # whatever the umask: the sandbox's uid reads it
    return folder


class _OverLimit(Exception):
    """A copy read more bytes than it was allowed (counted while reading)."""


def _copy_capped(stream, target: Path, limit: int) -> int:
    """Copy at most ``limit`` bytes, counted as they are read; past it, nothing is left behind."""
    written = 0
    with stream, open(target, "wb") as out:
        try:
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise _OverLimit
                out.write(chunk)
        except BaseException:
            out.close()
            target.unlink()
            raise
    return written


def _is_folder_entry(info: zipfile.ZipInfo) -> bool:
    """A folder, also as some tools write it: no trailing slash, a folder's mode or DOS attribute."""
    mode = info.external_attr >> 16
    return info.is_dir() or (info.file_size == 0 and (stat.S_ISDIR(mode) or bool(info.external_attr & 0x10)))


# what reading a damaged member raises (zlib, lzma and bz2 errors, a bad CRC, a truncated stream)
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, RuntimeError,
            ValueError, OSError, struct.error)


def _extract_zip(source: Path, dest: Path, problems: list[str]) -> None:
    """Extract member by member: a damaged, oversized or misplaced member is skipped with a note;
    only what concerns the whole archive (unreadable, too many entries, too many bytes once
    expanded, a zip bomb) is an IntakeError."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error):
        raise IntakeError(f"{source.name}: not a zip file (or a damaged one); submit a .zip of your "
                          "code folder") from None
    except OSError as exc:
        raise IntakeError(f"{source.name}: cannot be read ({exc.strerror})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_FILES:
            raise IntakeError(f"{source.name}: {len(entries)} entries, more than the {MAX_FILES} allowed")
        total = declared = tried = 0
        failed: list[str] = []
        for info in entries:
            name = info.filename
            rel = _safe_relpath(name)
            if rel is None:
                problems.append(f"skipped {_shown(name)}: a path outside the submission folder")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                problems.append(f"skipped {_shown(name)}: symbolic links are not accepted")
                continue
            if _is_folder_entry(info) or IGNORED_PARTS & set(rel.parts) or not rel.parts:
                continue
            if _long_part(rel):
                problems.append(f"skipped {_shown(name)}: a file or folder name longer than {NAME_MAX} bytes")
                continue
            if info.file_size > MAX_FILE_BYTES:
                # the directory's sizes only decide what is *not* read: reading counts for itself
                if info.file_size > ZIP_BOMB_RATIO * max(info.compress_size, 1):
                    raise IntakeError(f"{source.name}: {_shown(name)} would expand "
                                      f"{info.file_size // max(info.compress_size, 1)}-fold to "
                                      f"{_mb(info.file_size)} MB; is this a zip bomb?")
                problems.append(_too_big(name, info.file_size))
                continue
            # zipfile never returns more than a member's declared size, so their sum bounds the work
            # done, even for members that fail halfway; what is written is counted while reading
            declared += info.file_size
            if declared > MAX_TOTAL_BYTES:
                raise IntakeError(f"{source.name}: its files expand to more than the {_mb(MAX_TOTAL_BYTES)} MB "
                                  "allowed for the whole submission; is this a zip bomb or a data folder?")
            tried += 1
            budget = MAX_TOTAL_BYTES - total
            try:
                target = make_folders(dest, rel.parent, problems) / rel.name
                total += _copy_capped(archive.open(info), target, min(budget, MAX_FILE_BYTES))
            except _OverLimit:
                if budget <= MAX_FILE_BYTES:
                    raise IntakeError(f"{source.name}: expands beyond the {_mb(MAX_TOTAL_BYTES)} MB limit for "
                                      "the whole submission; is this a zip bomb or a data folder?") from None
                raise IntakeError(f"{source.name}: {_shown(name)} expands beyond what the zip says it holds; "
                                  "is this a zip bomb?") from None
            except _DAMAGED as exc:
                why = ("a folder of that name holds other files" if isinstance(exc, IsADirectoryError)
                       else exc.strerror if isinstance(exc, OSError) and exc.strerror
                       else str(exc) or type(exc).__name__)
                failed.append(f"{_shown(name)}: {why}")
                problems.append(f"skipped {_shown(name)}: cannot be extracted ({why})")
        if tried and len(failed) == tried:
            raise IntakeError(f"{source.name}: none of its {tried} files could be extracted (e.g. {failed[0]}); "
                              "the zip is damaged, submit a new .zip of your code folder")
    _fix_modes(dest)


def _copy_folder(source: Path, dest: Path, problems: list[str], follow_links: bool = False) -> None:
    """Copy regular files only: a link is never followed (unless ``follow_links``, for the
    repository's own solutions), a FIFO or device never opened, so nothing can block or leak."""
    n_entries = n_bytes = 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        rel_folder = PurePosixPath(Path(folder).relative_to(source).as_posix())
        for d in [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            problems.append(f"skipped {_shown(rel_folder / d)}: symbolic links are not accepted")
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_PARTS and not os.path.islink(os.path.join(folder, d)))
        n_entries += len(dirs) + len(files)
        if n_entries > MAX_FILES:
            raise IntakeError(f"{source.name}: more than the {MAX_FILES} files and folders allowed")
        for name in sorted(files):
            if name in IGNORED_PARTS:
                continue
            rel = rel_folder / name
            try:
                n_bytes += _copy_file(Path(folder) / name, dest, rel, MAX_TOTAL_BYTES - n_bytes, problems,
                                      follow_links)
            except _OverLimit:
                raise IntakeError(f"{source.name}: more than the {_mb(MAX_TOTAL_BYTES)} MB allowed for "
                                  "the whole submission") from None
            except OSError as exc:
                problems.append(f"skipped {_shown(rel)}: cannot be read ({exc.strerror or exc})")
    _fix_modes(dest)


def _copy_file(src: Path, dest: Path, rel: PurePosixPath, budget: int, problems: list[str],
               follow_links: bool) -> int:
    """One file of a folder submission; what is not a regular file is skipped with a note."""
    shown = _shown(rel)
    st = os.stat(src) if follow_links else os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        problems.append(f"skipped {shown}: symbolic links are not accepted")
        return 0
    if not stat.S_ISREG(st.st_mode):
        problems.append(f"skipped {shown}: not a regular file (a pipe, socket or device)")
        return 0
    if st.st_size > MAX_FILE_BYTES:
        problems.append(_too_big(str(rel), st.st_size))
        return 0
    # checked again on the open file: it may have been swapped since (never block, never follow)
    with os.fdopen(os.open(src, os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)),
                   "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            problems.append(f"skipped {shown}: not a regular file")
            return 0
        target = make_folders(dest, rel.parent, problems) / rel.name
        if budget < MAX_FILE_BYTES:
            return _copy_capped(stream, target, budget)
        try:
            return _copy_capped(stream, target, MAX_FILE_BYTES)
        except _OverLimit:  # it grew while being read
            problems.append(_too_big(str(rel), MAX_FILE_BYTES + 1))
            return 0


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
        if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
            sub.move_aside(target, f"the course's {spec.path} goes there")
        shutil.copyfile(original, target)
        os.chmod(target, 0o644)
        sub.files[name] = target
