"""The class's gradebook as CSV: our own layout, and the layouts Canvas and Gradescope import.

* ``gradebook.csv``: one row per student, a column per question (the auto score; TA-graded questions
  left empty for the TA to fill in), the total, the late penalty, the final mark and where the
  submission time came from.
* ``gradebook-canvas.csv``: Canvas's gradebook import (``Student, ID, SIS User ID, SIS Login ID,
  Section`` and one column per assignment, here the final mark). Canvas matches a row by ID, SIS
  User ID or SIS Login ID: ID is filled from a ``canvas_id`` group of ``--id-pattern`` when there is
  one, SIS Login ID with the student id.
* ``gradebook-gradescope.csv``: Gradescope's score upload: the student's SID (or Email when the id
  is an e-mail address) and the score.

Students whose grading crashed are in ``gradebook.csv`` with status ``error`` and left out of the
two import files, so an import never overwrites a mark with a blank. So are ``unreadable`` uploads (a
damaged or empty zip, an empty folder): nothing was graded, so they are no grade to import; in
``gradebook.csv`` they get 0, their question cells stay empty, and the note says why, for a human to
follow up. Totals and final marks are never below 0 (a deduction can only take what was earned).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..rubric.schema import Rubric
from .discovery import Student
from .late import Lateness

FIXED_BEFORE = ["student", "submission", "status"]
FIXED_AFTER = ["total", "late_penalty", "final", "late_factor", "hours_late", "submitted_at",
               "time_source", "note"]


@dataclass
class Row:
    student: Student
    summary: dict
    lateness: Lateness

    @property
    def status(self) -> str:
        return self.summary.get("status", "error")

    @property
    def graded(self) -> bool:
        """A mark to import into the LMS: graded, not crashed and not unreadable."""
        return self.status == "graded"

    @property
    def total(self) -> float | None:
        if self.status == "unreadable":
            return 0.0
        score = self.summary.get("score") if self.graded else None
        return None if score is None else max(0.0, score)

    @property
    def final(self) -> float | None:
        return None if self.total is None else self.lateness.final(self.total)


def number(x: float | None) -> str:
    if x is None:
        return ""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def question_ids(rubric: Rubric, only: list[str] | None = None) -> list[str]:
    return [q.id for q in rubric.questions if not only or q.id in only]


def write_gradebooks(rows: list[Row], rubric: Rubric, out: Path, only: list[str] | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"gradebook": out / "gradebook.csv", "canvas": out / "gradebook-canvas.csv",
             "gradescope": out / "gradebook-gradescope.csv"}
    qids = question_ids(rubric, only)
    rows = sorted(rows, key=lambda r: r.student.id)
    with open(paths["gradebook"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIXED_BEFORE + qids + FIXED_AFTER)
        for row in rows:
            s, late = row.summary, row.lateness
            scores = s.get("questions", {}) if row.graded else {}
            note = "; ".join(p for p in [s.get("message", ""), late.note] if p)
            writer.writerow([row.student.id, row.student.path.name, row.status]
                            + [number(scores.get(q)) for q in qids]
                            + [number(row.total), number(None if row.total is None else late.penalty(row.total)),
                               number(row.final), number(late.factor),
                               number(late.hours_late), late.submitted_at, late.source, note])
    graded = [r for r in rows if r.graded]
    with open(paths["canvas"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", rubric.title])
        for row in graded:
            writer.writerow([row.student.id, row.student.extra.get("canvas_id", ""), "", row.student.id, "",
                             number(row.final)])
    with open(paths["gradescope"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "SID", "Email", "Score"])
        for row in graded:
            email = row.student.id if "@" in row.student.id else row.student.extra.get("email", "")
            sid = "" if "@" in row.student.id else row.student.id
            writer.writerow(["", sid, email, number(row.final)])
    return paths
