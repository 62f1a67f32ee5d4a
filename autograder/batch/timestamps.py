"""When a submission was handed in, and where that came from.

In order: the instructor's CSV of submission times (``--times``: student id, ISO time), a
``timestamp.txt`` inside the submission (as some LMS exports write), the newest member time in the
zip's metadata. A folder with neither is taken as on time, and the row says so. Zip member times
and ISO times without an offset carry no time zone: they are read in the deadline's.
"""
from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath

TIMESTAMP_FILE = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 200


@dataclass(frozen=True)
class SubmissionTime:
    when: datetime | None
    source: str  # "times.csv", "timestamp.txt", "zip metadata" or "none"
    note: str = ""


class TimesError(ValueError):
    """The CSV of submission times cannot be read."""


def read_times(path: Path) -> dict[str, str]:
    """``student id -> ISO time`` from a two-column CSV; a header row is allowed."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise TimesError(f"{path}: cannot read ({exc.strerror})") from None
    times = {}
    for i, row in enumerate(rows):
        if len(row) < 2:
            raise TimesError(f"{path}, row {i + 1}: expected two columns, student id and ISO time")
        student, text = row[0].strip(), row[1].strip()
        if i == 0 and _parse(text, None) is None:
            continue  # a header
        times[student] = text
    return times


def submission_time(student_id: str, path: Path, times: dict[str, str], zone: tzinfo | None) -> SubmissionTime:
    if student_id in times:
        when = _parse(times[student_id], zone)
        if when is not None:
            return SubmissionTime(when, "times.csv")
        bad = f"times.csv has {times[student_id]!r} for this student, not an ISO time; "
    else:
        bad = ""
    text = _timestamp_text(Path(path))
    if text is not None:
        when = _parse(text, zone)
        if when is not None:
            return SubmissionTime(when, TIMESTAMP_FILE, bad.rstrip("; "))
        bad += f"{TIMESTAMP_FILE} holds {text[:40]!r}, not an ISO time; "
    if Path(path).is_file():
        when = _newest_member(Path(path), zone)
        if when is not None:
            return SubmissionTime(when, "zip metadata", bad.rstrip("; "))
    return SubmissionTime(None, "none", bad + "no submission time found: counted as on time")


def _parse(text: str, zone: tzinfo | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None and zone is not None:
        when = when.replace(tzinfo=zone)
    return when


def _timestamp_text(path: Path) -> str | None:
    """The shallowest ``timestamp.txt`` in a folder or zip (read, never extracted)."""
    if path.is_dir():
        found = sorted(path.rglob(TIMESTAMP_FILE), key=lambda p: (len(p.parts), str(p)))
        found = [p for p in found if p.is_file() and not p.is_symlink()]
        return found[0].read_bytes()[:MAX_TIMESTAMP_BYTES].decode("utf-8", "replace") if found else None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if PurePosixPath(n).name == TIMESTAMP_FILE]
            if not names:
                return None
            name = min(names, key=lambda n: (n.count("/"), n))
            with archive.open(name) as fh:
                return fh.read(MAX_TIMESTAMP_BYTES).decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        return None


def _newest_member(path: Path, zone: tzinfo | None) -> datetime | None:
    try:
        with zipfile.ZipFile(path) as archive:
            stamps = [datetime(*info.date_time) for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if not stamps:
        return None
    newest = max(stamps)
    return newest.replace(tzinfo=zone) if zone is not None else newest
