"""``autograde check [FOLDER] [--kit DIR]``: a student grades their homework with the kit.

The kit is found in this order: ``--kit DIR``, then ``$AUTOGRADE_KIT``, then a ``.autograde-kit/``
folder in FOLDER or any folder above it. Each may be one assignment's kit (it holds ``kit.json``)
or a folder of kits, one per assignment (then the homework's files pick the assignment).

The homework is graded in the sandbox this machine allows (a laptop without root or bubblewrap
runs with fewer layers, and is told which), with the kit's seed and the recorded reference.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .. import __version__
from ..grading import GradeReport, Grader, QuestionResult
from ..intake import find
from ..report.terminal import print_report
from ..report.writers import _fmt
from ..rubric.schema import Rubric, load
from . import KitError
from .build import FORMAT, KIT_FILE, RUBRIC_FILE
from .recording import NOT_RECORDED, Recording, ReplayReference
from .restrict import HIDDEN, NEEDS_FILES, REPLIES_FOLDER

KIT_FOLDER = ".autograde-kit"
KIT_ENV = "AUTOGRADE_KIT"
OWN_MACHINE = "this is your own code on your own machine; the TA's run uses the full sandbox"


@dataclass
class Kit:
    folder: Path
    meta: dict
    rubric: Rubric

    @classmethod
    def open(cls, folder: Path) -> "Kit":
        meta = json.loads((folder / KIT_FILE).read_text())
        if meta.get("format") != FORMAT:
            raise KitError(f"{folder}: a kit of format {meta.get('format')}; this grader reads format {FORMAT} "
                           "(install the grader version the course names)")
        return cls(folder, meta, load(folder / RUBRIC_FILE))

    @property
    def seed(self) -> int:
        return int(self.meta["seed"])

    def reference(self) -> ReplayReference:
        policy = self.rubric.policy
        return ReplayReference(Recording.load(self.folder / REPLIES_FOLDER), policy.shims, policy.limits)


def find_kit(homework: Path, explicit: str | None = None) -> Kit:
    if explicit:
        roots, where = [Path(explicit)], f"--kit {explicit}"
    elif os.environ.get(KIT_ENV):
        roots, where = [Path(os.environ[KIT_ENV])], f"${KIT_ENV}={os.environ[KIT_ENV]}"
    else:
        start = homework.resolve()
        roots = [d / KIT_FOLDER for d in [start, *start.parents] if (d / KIT_FOLDER).is_dir()][:1]
        where = f"a {KIT_FOLDER}/ folder in {homework} or above it"
    kits = [k for root in roots for k in kits_in(root)]
    if not kits:
        raise KitError(f"no self-check kit found ({where}); ask for the course's kit, or pass --kit FOLDER")
    if len(kits) == 1:
        return Kit.open(kits[0])
    return Kit.open(pick(homework, kits))


def kits_in(root: Path) -> list[Path]:
    if (root / KIT_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{KIT_FILE}")) if root.is_dir() else []


def pick(homework: Path, kits: list[Path]) -> Path:
    """The kit whose rubric's ``identify`` files the homework has most of."""
    scores = {k: sum(find(homework, name) is not None for name in load(k / RUBRIC_FILE).identify) for k in kits}
    best = max(scores.values())
    winners = [k for k, n in scores.items() if n == best]
    if best == 0 or len(winners) > 1:
        raise KitError(f"cannot tell which assignment {homework} is ({', '.join(k.name for k in winners)}); "
                       "pass --kit with that assignment's kit")
    return winners[0]


def check(homework: str | Path, kit: Kit) -> GradeReport:
    with Grader(kit.rubric, sandboxed=True, reference=kit.reference(), warm=False) as grader:
        return grader.grade(homework, seed=kit.seed)


# --------------------------------------------------------------------------------------------
# what the student sees


@dataclass
class Elsewhere:
    """A question, or part of one, not scored here."""

    question: str
    title: str
    points: float
    why: str


def not_checked_here(report: GradeReport, kit: Kit) -> list[Elsewhere]:
    rows = []
    for result in report.questions:
        question = kit.rubric.question(result.id)
        if question.visibility == "hidden":
            rows.append(Elsewhere(result.id, result.title, result.points, HIDDEN))
        elif result.id in kit.meta.get("long_running", []):
            rows.append(Elsewhere(result.id, result.title, result.points,
                                  question.checks[0].instructions or "checked when the TA grades"))
        else:
            rows += parts_elsewhere(result, question)
    return rows


def is_write_up(question, kit: Kit) -> bool:
    """A public question graded by a TA from the write-up (not a placeholder of the kit's)."""
    return (question.visibility == "public" and question.id not in kit.meta.get("long_running", [])
            and all(c.kind == "manual" and c.visibility != "hidden" and c.instructions != NEEDS_FILES
                    for c in question.checks))


def parts_elsewhere(result: QuestionResult, question) -> list[Elsewhere]:
    total = sum(c.weight for c in question.checks) or 1.0
    rows = []
    for check in question.checks:  # needs a dataset this machine does not have (the course's photos)
        label = check.name or check.kind
        for line in result.not_run:
            if line.startswith(f"{label}: "):
                rows.append(Elsewhere(result.id, f"{result.title}: {label}", result.points * check.weight / total,
                                      line[len(label) + 2:]))
    hidden = sum(c.weight for c in question.checks if c.kind == "manual" and c.visibility == "hidden")
    if hidden:
        rows.append(Elsewhere(result.id, result.title, result.points * hidden / total, HIDDEN))
    for check in result.checks:
        for why in (NOT_RECORDED, NEEDS_FILES):
            if any(o.pending and why in o.message for o in check.outcomes):
                rows.append(Elsewhere(result.id, f"{result.title}: {check.label}",
                                      result.points * check.weight / total, why))
    return rows


@dataclass
class Accounts:
    """Where each of the handout's points is graded, as the student sees it: here, by the TA's
    automatic run (hidden, long-running or needing the reference), or by a TA from the write-up.
    One split feeds the table, the header and the footer, so their totals agree."""

    elsewhere: dict[str, float]  # question id -> points the TA's run checks that were not checked here
    write_up: dict[str, float]  # question id -> points a TA grades from the write-up

    @classmethod
    def of(cls, report: GradeReport, rows: list[Elsewhere]) -> "Accounts":
        elsewhere: dict[str, float] = {}
        for row in rows:
            elsewhere[row.question] = elsewhere.get(row.question, 0.0) + row.points
        write_up = {}
        for q in report.questions:
            rest = round(q.points - q.auto_max - elsewhere.get(q.id, 0.0), 4)
            if rest > 0:
                write_up[q.id] = rest
        return cls({k: round(v, 4) for k, v in elsewhere.items()}, write_up)

    def total(self, report: GradeReport, which: dict[str, float]) -> float:
        return round(sum(which.get(q.id, 0.0) for q in report.questions if not q.extra_credit), 4)


def summary(report: GradeReport, accounts: Accounts) -> str:
    r = report.rubric
    return (f"{r.assignment}: {_fmt(report.score)} / {_fmt(report.auto_max)} points checked here; "
            f"{_fmt(accounts.total(report, accounts.elsewhere))} checked when the TA grades (listed below); "
            f"{_fmt(accounts.total(report, accounts.write_up))} graded by a TA from the write-up; "
            f"handout total {_fmt(r.total_points)}" + (f" + {_fmt(r.extra_points)} extra credit" if r.extra_points else ""))


def print_check(report: GradeReport, kit: Kit, console: Console) -> None:
    rows = not_checked_here(report, kit)
    accounts = Accounts.of(report, rows)
    print_report(report, console, show_layers=False, elsewhere=accounts.elsewhere, summary=summary(report, accounts))
    extra = {q.id for q in report.questions if q.extra_credit}
    if rows:
        table = Table(title="Not checked here", title_justify="left", expand=True)
        table.add_column("question", no_wrap=True)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("what", overflow="fold", ratio=1)
        for row in rows:
            flag = " (extra credit)" if row.question in extra else ""
            table.add_row(row.question, _fmt(row.points), f"{row.title}{flag}\n[dim]{row.why}[/dim]")
        console.print(table)
    ta = [q for q in report.questions if is_write_up(kit.rubric.question(q.id), kit)]
    if accounts.write_up:
        parts = len(accounts.write_up) - len(ta)
        console.print(f"Graded by a TA from the write-up: {_fmt(accounts.total(report, accounts.write_up))} points "
                      f"({len(ta)} whole question(s)" + (f", parts of {parts} more" if parts > 0 else "") + ").")
    sandbox = report.provenance.get("sandbox", {})
    if sandbox.get("missing"):
        console.print(f"[yellow]isolation layers missing here: {', '.join(sandbox['missing'])}[/yellow] "
                      f"(active: {', '.join(sandbox.get('active', [])) or 'none'}); {OWN_MACHINE}.")
    if kit.meta.get("grader_version") != __version__:
        console.print(f"[yellow]note:[/yellow] the kit was made with grader {kit.meta.get('grader_version')}, "
                      f"this is {__version__}")
