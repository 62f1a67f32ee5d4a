"""How long each rubric takes to grade its reference, question by question, and what that means for a
class of 100.

    python benchmarks/bench_rubrics.py [specs/cmu-hw5.yaml ...] [--class-size 100] [--speedup-2 1.88]
                                       [--cluster-efficiency 0.93]

Grades each rubric's reference once, sandboxed, with a grader that has already graded it once (its
reference worker running, its data placed: as in a batch), and prints the grade's wall time and
every question's from ``provenance.json``. Then the estimate for a class, with the formula shown:

    local, -j 2:        T = N * t / s2                  (s2: -j 2's speed-up over -j 1, measured by
                                                         bench_batch.py on this machine)
    Dask, W workers:    T = N * t / (W * e) + start     (e: speed-up per worker of a LocalCluster,
                                                         bench_batch.py; start: the workers' graders)

``t`` is the grade's wall time measured here. A reference is a full-marks student: a class's wrong
and blank submissions usually take less (their scripts stop early), hand-ins that time out more.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from autograder.grading import Grader
from autograder.rubric.schema import find_specs, load
from autograder.validation import auto_questions

ROOT = Path(__file__).resolve().parent.parent


def measure(spec: Path) -> tuple[str, float, float, dict[str, float]]:
    """(assignment, grader start s, second grade's wall s, per-question s of that grade)."""
    rubric = load(spec)
    started = time.perf_counter()
    with Grader(rubric) as grader:
        grader.grade(rubric.path(rubric.reference), trusted=True)  # reference worker and data warm
        start = time.perf_counter() - started
        t = time.perf_counter()
        report = grader.grade(rubric.path(rubric.reference), trusted=True)
        wall = time.perf_counter() - t
    short = [q.id for q in auto_questions(report) if q.score < q.auto_max]
    if short:
        print(f"  warning: {rubric.assignment}'s reference lost points on {short}")
    return rubric.assignment, start, wall, report.provenance["timing"]["per_question_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*")
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--speedup-2", type=float, default=1.88,
                        help="-j 2 over -j 1, from benchmarks/bench_batch.py on this machine")
    parser.add_argument("--cluster-efficiency", type=float, default=0.93,
                        help="a LocalCluster's speed-up per worker, from benchmarks/bench_batch.py")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 8, 32])
    args = parser.parse_args()
    specs = [Path(s) for s in args.specs] or find_specs(ROOT / "specs")
    n = args.class_size
    print(f"class of {n}: local T = N*t/{args.speedup_2:g}; Dask T = N*t/(W*{args.cluster_efficiency:g}) + start")
    for spec in specs:
        assignment, start, wall, per_q = measure(spec)
        slowest = sorted(per_q.items(), key=lambda kv: -kv[1])
        print(f"\n{assignment}: one grade of the reference {wall:.1f} s (grader's first start and first "
              f"grade {start:.1f} s)")
        print("  per question: " + ", ".join(f"{q} {s:.2f}" for q, s in slowest))
        local = n * wall / args.speedup_2
        cluster = ", ".join(f"W={w}: {(n * wall / (w * args.cluster_efficiency) + start) / 60:.1f} min"
                            for w in args.workers)
        print(f"  class of {n}: -j 2 {local / 60:.1f} min; Dask {cluster}")


if __name__ == "__main__":
    main()
