"""What each script and notebook of a rubric needs, against the budget the rubric gives it.

The reference and every era variant (the rubric's variants file) are graded on the questions that run
scripts or notebooks; the grader's own figures (``provenance.json``: a script's first run on the
grader's clock and its worker's cgroup peak; a notebook's run and its kernel's cgroup peak) are
gathered per file. A budget below three times the most any of them needed is flagged. Memory needed is
the larger of two peaks: the resident set of the worker's (or kernel's) processes (shared libraries
counted in full) and the cgroup's count (what the memory limit enforces, page cache included).

    python benchmarks/measure_budgets.py [specs/cmu-hw5.yaml ...]

A script's time budget is what its first request may take: the question's ``time_s`` plus the
policy's ``import_time_s`` (the script runs while it is imported), the smallest over the questions that
run it, since any of them may come first, and never more than the file's ``time_s`` when it may come
as a notebook. A notebook's is its file's ``time_s``. Memory is the
question's (or the policy's) ``memory_mb``, or the notebook's.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from autograder.grading import Grader, probed_files
from autograder.rubric.schema import find_specs, load
from autograder.validation import load_variants, make_variant

ROOT = Path(__file__).resolve().parent.parent
WANTED_MARGIN = 3.0


def budgets(rubric) -> dict[str, tuple[float, float]]:
    """file key -> (time budget s, memory budget MB) for every script and notebook the rubric runs."""
    policy = rubric.policy.budget
    out: dict[str, tuple[float, float]] = {}
    for key, spec in rubric.files.items():
        if spec.run_as == "notebook" or spec.path.endswith(".ipynb"):
            out[key] = (spec.time_s, spec.memory_mb or policy.memory_mb)
            continue
        if spec.run_as != "script":
            continue
        questions = [q for q in rubric.questions if key in probed_files(q, rubric)]
        if questions:
            seconds = min((q.time_s or policy.time_s) + policy.import_time_s for q in questions)
            if any(p.endswith(".ipynb") for p in spec.also):  # it may come as a notebook: the smaller
                seconds = min(seconds, spec.time_s)
            out[key] = (seconds, min(q.memory_mb or policy.memory_mb for q in questions))
    return out


def needs(grader: Grader, rubric, submission, only: set[str]) -> dict[str, tuple]:
    """file key -> (seconds, peak resident MB, cgroup peak MB) of its run in one grade."""
    report = grader.grade(submission, only=only)
    timing = report.provenance["timing"]
    runs = [(key, run, run["run_s"]) for key, run in timing.get("scripts", {}).items()]
    runs += [(run["key"], run, run["total_s"]) for run in timing.get("notebooks", {}).values()]
    return {key: (seconds, run.get("peak_rss_mb"), run.get("cgroup_peak_mb")) for key, run, seconds in runs}


def measure(spec: Path, console: Console) -> list[tuple]:
    rubric = load(spec)
    limits = budgets(rubric)
    running = {q.id for q in rubric.questions if probed_files(q, rubric) & set(limits)}
    measured: dict[str, list[tuple]] = {k: [] for k in limits}
    with Grader(rubric) as grader, tempfile.TemporaryDirectory() as tmp:
        subjects = [("reference", rubric.path(rubric.reference), running)]
        for i, variant in enumerate(load_variants(rubric)):
            archive = make_variant(rubric.path(rubric.reference), variant, Path(tmp) / str(i))
            subjects.append((f"variant {i + 1}", archive, set(variant.questions) & running))
        for name, submission, only in subjects:
            if not only:
                continue
            console.print(f"[dim]{rubric.assignment}: grading the {name} on {len(only)} questions[/dim]")
            for key, figures in needs(grader, rubric, submission, only).items():
                if key in measured:
                    measured[key].append(figures)
    rows = []
    for key, (time_budget, memory_budget) in limits.items():
        runs = measured[key]
        rows.append((rubric.assignment, rubric.files[key].path, time_budget, _most(runs, 0), memory_budget,
                     _most(runs, 1), _most(runs, 2), len(runs)))
    return rows


def _most(runs: list[tuple], i: int) -> float | None:
    values = [r[i] for r in runs if r[i] is not None]
    return max(values) if values else None


def main(argv: list[str]) -> int:
    console = Console(width=150)
    specs = [Path(a) for a in argv] or find_specs(ROOT / "specs")
    rows = [row for spec in specs for row in measure(spec, console)]
    table = Table(title=f"script and notebook budgets against the most the reference and era variants needed "
                        f"(flagged: under {WANTED_MARGIN:g}x)")
    for column in ("rubric", "file", "time budget s", "needed s", "x", "memory budget MB", "peak RSS MB", "x",
                   "cgroup peak MB", "runs"):
        table.add_column(column, justify="left" if column in ("rubric", "file") else "right", no_wrap=True)
    short = 0
    for assignment, path, t_budget, t_need, m_budget, m_need, m_cgroup, runs in rows:
        t_ratio = t_budget / t_need if t_need else None
        m_most = max((m for m in (m_need, m_cgroup) if m is not None), default=None)
        m_ratio = m_budget / m_most if m_most else None
        low = [r for r in (t_ratio, m_ratio) if r is not None and r < WANTED_MARGIN]
        short += bool(low)

        def ratio(r):
            return "-" if r is None else (f"[red]{r:.1f}[/red]" if r < WANTED_MARGIN else f"{r:.1f}")
        table.add_row(assignment, path, f"{t_budget:g}", "-" if t_need is None else f"{t_need:.1f}", ratio(t_ratio),
                      f"{m_budget:g}", "-" if m_need is None else f"{m_need:.0f}", ratio(m_ratio),
                      "-" if m_cgroup is None else f"{m_cgroup:.0f}", str(runs))
    console.print(table)
    console.print(f"{short} of {len(rows)} budgets under {WANTED_MARGIN:g}x what was needed")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
