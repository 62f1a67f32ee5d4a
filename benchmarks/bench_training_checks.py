"""How long each long-running check takes: training scripts and whole pipelines, graded on the reference.

    python benchmarks/bench_training_checks.py [specs/cmu-hw5.yaml ...]

Grades every rubric's reference solution (all rubrics in specs/ by default) on its long-running
questions only (a time budget above a minute), in the sandbox, and prints each question's wall time.
The first question that needs a script pays for running it (e.g. Q3.1.1 trains the NIST36 MLP); later
questions on the same script only read its results. For the NIST36 MLP itself, compare with
``python benchmarks/calibrate_nist36.py``, which times the training loop against its matrix
multiplications alone.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from autograder.grading import Grader
from autograder.rubric.schema import find_specs, load

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path)
    args = parser.parse_args()
    for spec in args.specs or find_specs(ROOT / "specs"):
        rubric = load(spec)
        long_ids = {q.id for q in rubric.questions if q.long_running}
        if not long_ids:
            print(f"{rubric.assignment}: no long-running questions")
            continue
        started = time.perf_counter()
        with Grader(rubric) as grader:
            report = grader.grade(rubric.path(rubric.reference), only=long_ids, trusted=True)
        print(f"{rubric.assignment}: reference, long-running questions, "
              f"{time.perf_counter() - started:.1f} s in all")
        for q in report.questions:
            verdict = "graded by a TA" if q.manual else f"{q.score:g}/{q.auto_max:g}"
            print(f"  {q.id:8s} {q.seconds:7.1f} s  {verdict:14s} {q.title}")


if __name__ == "__main__":
    main()
