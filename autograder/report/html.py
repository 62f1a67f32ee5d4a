"""HTML pages: one student's report (``report.html``) and a class summary (``summary.html``).

Both are rendered from Jinja2 templates (``templates/``) with autoescaping, since feedback quotes
what students' code returned. They need nothing but a browser: figures are referenced by relative
path (the student's) or embedded (the class histogram), and there is no script.

The class page is built from what a batch leaves on disk, not from live objects, so it can be
rebuilt at any time: ``OUT/<student>/results.json`` (Gradescope's format, see ``writers``),
``OUT/gradebook.csv`` for late penalties and statuses, ``OUT/similarity.html`` for a link. A batch
names its students (a folder left by a submission since removed is not one of them); unreadable
uploads are listed first, with the reason, and are no grade: they stay out of the statistics.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

from ..grading import GradeReport, QuestionResult, auto_points
from ..rubric.schema import Rubric
from .templating import render
from .writers import attachment_paths, summary_line

WITHHELD = "hidden until grades are released"
ERROR_LINES = 20
COMMON_MESSAGES = 15


# -- one student -------------------------------------------------------------------------------
def write_report_html(report: GradeReport, out: Path, release: bool = True) -> Path:
    """``out/report.html``. With ``release=False`` hidden questions show their points but not
    their feedback (what a student may see before grades are released)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render("report.html", report=report, summary=summary_line(report),
                           questions=[question_view(q, release) for q in report.questions],
                           notebooks=[notebook_view(run) for run in report.notebooks],
                           prov=report.provenance))
    return path


def notebook_view(run) -> dict:
    """An executed notebook for the TA: its failed cells, its figures and its executed copy."""
    from .writers import notebook_copy_path, notebook_figure_paths

    failures = [{"number": c.number, "status": c.status, "seconds": c.seconds,
                 "error": c.error.splitlines()[0][:200] if c.error else "",
                 "first_line": next((line for line in c.source.splitlines() if line.strip()), "").strip()[:80]}
                for c in run.failures]
    return {"path": run.path, "summary": run.summary(), "overhead": run.overhead_seconds,
            "problem": run.problem, "copy": notebook_copy_path(run), "failures": failures,
            "figures": [(rel, a.caption) for a, rel in notebook_figure_paths(run)]}


@dataclass
class QuestionView:
    id: str
    title: str
    score: float | None  # None: graded by a TA
    max_score: float
    ta_points: float  # points a TA still grades (the whole question, or the manual part)
    flags: list[str]
    status: str  # passed | lost | ta | withheld
    feedback: list[str]
    ta_notes: list[str]
    figures: list[tuple[str, str]]  # (relative path, caption)
    seconds: float


def question_view(q: QuestionResult, release: bool) -> QuestionView:
    withheld = q.visibility == "hidden" and not release
    flags = [flag for flag, on in (("hidden", q.visibility == "hidden"), ("extra credit", q.extra_credit),
                                   ("deduction", q.penalty)) if on]
    if q.manual:
        status, feedback = "ta", []
    elif withheld:
        status, feedback = "withheld", [WITHHELD]
    else:
        status, feedback = ("lost" if q.feedback else "passed"), q.feedback
    return QuestionView(q.id, q.title, None if q.manual else q.score, q.points if q.manual else q.auto_max,
                        round(q.points - q.auto_max, 4), flags, status, feedback,
                        [] if withheld else q.ta_notes,
                        [(rel, a.caption or Path(a.name).name) for a, rel in attachment_paths(q)],
                        q.seconds)


# -- a class -----------------------------------------------------------------------------------
@dataclass
class StudentRow:
    student: str
    folder: str  # URL-quoted folder name, for links
    total: float | None = None
    late_penalty: str = ""
    final: str = ""
    has_html: bool = False
    error: str = ""
    unreadable: str = ""  # why the upload could not be read (then it is no grade)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (score, max) auto-graded
    manual: set[str] = field(default_factory=set)
    feedback: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class QuestionStats:
    id: str
    title: str
    points: float
    visibility: str
    graded: int = 0
    mean: float | None = None
    failure_rate: float | None = None
    pending_rate: float | None = None


@dataclass
class CommonMessage:
    pattern: str
    example: str
    students: int
    questions: list[str]


def write_summary_html(batch_out: Path, rubric: Rubric, students: Mapping[str, dict] | None = None) -> Path:
    """``batch_out/summary.html`` from the students' ``results.json`` files (and the gradebook).

    ``students`` (id -> the batch's summary, with ``status`` and ``message``) are the students of
    this run; without it, every student folder under ``batch_out`` is one."""
    batch_out = Path(batch_out)
    rows = read_batch(batch_out, students)
    graded = [r for r in rows if not (r.error or r.unreadable)]
    unreadable = [r for r in rows if r.unreadable]
    totals = [r.total for r in graded]
    stats = {"count": len(rows), "graded": len(graded), "unreadable": len(unreadable),
             "errors": sum(1 for r in rows if r.error)}
    if totals:
        stats.update(mean=statistics.fmean(totals), median=statistics.median(totals),
                     min=min(totals), max=max(totals))
    possible = auto_points(rubric)
    path = batch_out / "summary.html"
    path.write_text(render(
        "summary.html", rubric=rubric, stats=stats, possible=possible, rows=rows, unreadable=unreadable,
        questions=question_stats(rubric, graded), messages=common_messages(graded),
        histogram=histogram_png(totals, possible) if totals else None,
        gradebook=(batch_out / "gradebook.csv").is_file(),
        similarity=(batch_out / "similarity.html").is_file()))
    return path


def student_folders(batch_out: Path) -> list[str]:
    return sorted(p.name for p in batch_out.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def read_batch(batch_out: Path, students: Mapping[str, dict] | None = None) -> list[StudentRow]:
    """One row per student: its results.json, or why it has none (an unreadable upload, the error
    that stopped its grading). Statuses come from ``students``, else from the gradebook."""
    book = read_gradebook(batch_out / "gradebook.csv")
    if students is None:
        students = {name: {"status": book.get(name, {}).get("status", ""),
                           "message": book.get(name, {}).get("note", "")} for name in student_folders(batch_out)}
    rows = []
    for name in sorted(students):
        folder, summary = batch_out / name, students[name] or {}
        row = StudentRow(name, quote(name), has_html=(folder / "report.html").is_file())
        row.late_penalty, row.final = (book.get(name, {}).get(k) or "" for k in ("late_penalty", "final"))
        if summary.get("status") == "unreadable":
            row.unreadable = summary.get("message") or "the submission could not be read"
            row.total = 0.0
            rows.append(row)
            continue
        results = folder / "results.json"
        try:
            data = json.loads(results.read_text())
            row.total = max(0.0, float(data["score"]))  # a deduction takes at most what was earned
            for test in data.get("tests", []):
                qid = str(test.get("number"))
                row.scores[qid] = (float(test["score"]), float(test["max_score"]))
                lines = [line for line in str(test.get("output", "")).splitlines()
                         if line.strip() and line != "All checks passed."]
                if lines:
                    row.feedback[qid] = lines
            row.manual = {str(m["number"]) for m in data.get("extra_data", {}).get("manual", [])}
        except FileNotFoundError:
            row.error = error_text(folder, summary.get("message", ""))
        except (ValueError, KeyError, TypeError) as exc:
            row.error = f"results.json is unreadable: {exc}"
        if summary.get("status") == "error" and not row.error:  # a stale results.json is no grade
            row.error = error_text(folder, summary.get("message", ""))
        rows.append(row)
    return rows


def error_text(folder: Path, message: str = "") -> str:
    error = folder / "error.txt"
    if not error.is_file():
        return message or "no results.json (grading did not finish)"
    lines = error.read_text(errors="replace").strip().splitlines()
    return "\n".join(lines[:ERROR_LINES] + (["..."] if len(lines) > ERROR_LINES else [])) or message or "error.txt is empty"


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    """student -> the gradebook row (status, late_penalty, final, note, ...), as the batch wrote it."""
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh) if row.get("student")}


def question_stats(rubric: Rubric, graded: list[StudentRow]) -> list[QuestionStats]:
    """Per question: mean score, the share of students below full marks (auto-graded questions),
    and the share with points still waiting for a TA."""
    out = []
    for q in rubric.questions:
        s = QuestionStats(q.id, q.title, q.points, q.visibility)
        auto = [r.scores[q.id] for r in graded if q.id in r.scores]
        pending = [r for r in graded if q.id in r.manual or (q.id in r.scores and r.scores[q.id][1] < q.points)]
        s.graded = len(auto)
        if auto:
            s.mean = statistics.fmean(score for score, _ in auto)
            if not q.penalty:
                s.failure_rate = sum(score < top - 1e-9 for score, top in auto) / len(auto)
            else:
                s.failure_rate = sum(score < 0 for score, _ in auto) / len(auto)
        if graded:
            s.pending_rate = len(pending) / len(graded)
        out.append(s)
    return out


_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")


_CODE = re.compile(r"(/[^/\s]{2,}/|`[^`]*`)")  # a file-name pattern /(run_?)?q_?7.../, `code`


def normalise(message: str) -> str:
    """Feedback with its numbers replaced by ``#``: "case 3: got 0.51" and "case 7: got 0.49"
    are the same problem. Numbers inside names (``w1``, ``Q2.2.2``) and code-like text (a pattern
    between slashes, text between backticks) are kept."""
    return "".join(part if i % 2 else _NUMBER.sub("#", part) for i, part in enumerate(_CODE.split(message)))


def common_messages(graded: list[StudentRow], limit: int = COMMON_MESSAGES) -> list[CommonMessage]:
    """The feedback most students got, counted once per student."""
    students: Counter[str] = Counter()
    questions: dict[str, set[str]] = {}
    example: dict[str, str] = {}
    for row in graded:
        seen = set()
        for qid, lines in row.feedback.items():
            for line in lines:
                pattern = normalise(line)
                questions.setdefault(pattern, set()).add(qid)
                example.setdefault(pattern, line)
                seen.add(pattern)
        students.update(seen)
    return [CommonMessage(p, example[p], n, sorted(questions[p])) for p, n in students.most_common(limit)]


def histogram_png(totals: list[float], possible: float) -> str:
    """The score distribution as a base64 PNG, embedded in the page (it then travels as one file)."""
    from matplotlib.figure import Figure  # no pyplot: Agg canvas, no global state touched
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6.4, 2.8), dpi=100)
    ax = fig.subplots()
    top = max(possible, max(totals), 1.0)
    ax.hist(totals, bins=min(20, max(5, len(totals))), range=(min(0.0, min(totals)), top),
            color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"auto-graded score (of {possible:g})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()
