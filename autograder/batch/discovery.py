"""Which students a submissions folder holds: every ``.zip`` or folder directly in it is one student.

LMS exports put more than the student in a file name (Canvas: ``smithjohn_12345_67890_hw5.zip``),
so the id can be taken by a regular expression with a named group ``id``; other named groups (e.g.
``canvas_id``) are kept for the gradebook layouts.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_NAMES = {"__MACOSX", ".DS_Store"}
# Canvas marks a file handed in after the due date by a "late" after the student's name:
# kimbo_late_45678_90123_hw5.zip is kimbo's (the id pattern is matched without the marker)
CANVAS_LATE = re.compile(r"^([^_]+)_late_(?=\d)")


class DiscoveryError(ValueError):
    """The folder or the id pattern cannot give one id per student."""


@dataclass(frozen=True)
class Student:
    id: str
    path: Path
    extra: dict[str, str] = field(default_factory=dict, compare=False)  # other named groups of the id pattern


def stem(path: Path) -> str:
    return path.name[:-4] if path.name.lower().endswith(".zip") else path.name


def discover(folder: Path, id_pattern: str | None = None) -> list[Student]:
    """One :class:`Student` per zip or folder, sorted by id; two entries with one id are an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DiscoveryError(f"{folder}: not a folder of submissions")
    pattern = _compile(id_pattern) if id_pattern else None
    students: dict[str, Student] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in SKIPPED_NAMES:
            continue
        if not (entry.is_dir() or (entry.is_file() and entry.name.lower().endswith(".zip"))):
            continue
        student = _student(entry, pattern)
        if student.id in students:
            raise DiscoveryError(f"{entry.name} and {students[student.id].path.name} both give student id "
                                 f"{student.id!r}; keep one submission per student or change --id-pattern")
        students[student.id] = student
    return sorted(students.values(), key=lambda s: s.id)


def _compile(id_pattern: str) -> re.Pattern:
    try:
        pattern = re.compile(id_pattern)
    except re.error as exc:
        raise DiscoveryError(f"--id-pattern {id_pattern!r}: {exc}") from None
    if "id" not in pattern.groupindex:
        raise DiscoveryError(f"--id-pattern {id_pattern!r} needs a named group (?P<id>...)")
    return pattern


def _student(entry: Path, pattern: re.Pattern | None) -> Student:
    name = stem(entry)
    if pattern is None:
        return Student(name, entry)
    late = CANVAS_LATE.match(name)
    if late:
        name = late.group(1) + "_" + name[late.end():]
    match = pattern.search(name)
    if not match or not match.group("id"):
        raise DiscoveryError(f"{entry.name}: --id-pattern {pattern.pattern!r} finds no id in it")
    extra = {k: v for k, v in match.groupdict().items() if k != "id" and v}
    if late:
        extra["canvas_late"] = "late"
    return Student(match.group("id"), entry, extra)


def submission_hash(path: Path) -> str:
    """SHA-256 of what was handed in, independent of mtimes: a zip's bytes, or a folder's sorted
    relative paths and file bytes (a re-download of the same submission hashes the same)."""
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = file.relative_to(path).as_posix()
        digest.update(len(rel.encode()).to_bytes(8, "big") + rel.encode())
        digest.update(file.stat().st_size.to_bytes(8, "big"))
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
