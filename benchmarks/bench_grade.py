"""Time to grade one submission's function checks end to end, and the sandbox's share of it.

    python benchmarks/bench_grade.py [--repeat 10] [--all] [--anchors /opt/anchors/bin]

Prints, for the reference solution and the bundled samples of handout 004: the median wall time
per submission (warm grader: rubric loaded, reference worker running), the sandbox start-up time,
and the same grade without the sandbox for comparison. Targets: < 0.5 s per submission
(Otter-Grader ~6 s, nbgrader ~1.1 s for a comparable 5-test notebook; anchors.md §4). When nbgrader
is installed (see ``anchors.py``), it is timed in the same run: ``nbgrader autograde`` over twenty
submissions of ``anchors.md`` §4's notebook, and its time per submission printed beside ours.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anchors

from autograder.grading import Grader
from autograder.rubric.schema import load

ROOT = Path(__file__).resolve().parent.parent


def function_checks_only(rubric):
    """The rubric without checks that run a whole script (run_q2.py trains a network for real) and
    without long-running questions (findLetters on the full-size photos, section 7's trainings)."""
    scripts = {name for name, f in rubric.files.items() if f.run_as == "script"}
    slim = rubric.model_copy(deep=True)
    slim.questions = [q for q in slim.questions if not q.long_running]
    for q in slim.questions:
        q.checks = [c for c in q.checks
                    if not (hasattr(c, "probe") and set(c.probe.module_names(set(rubric.files))) & scripts)]
    slim.questions = [q for q in slim.questions if q.checks]
    slim.source, slim.digest = rubric.source, rubric.digest
    return slim


def bench(spec: Path, submissions: list[Path], repeat: int, sandboxed: bool, functions_only: bool) -> None:
    rubric = load(spec)
    if functions_only:
        rubric = function_checks_only(rubric)
    with Grader(rubric, sandboxed=sandboxed) as grader:
        grader.grade(submissions[0])  # warm the reference worker, as in a batch
        for sub in submissions:
            walls, startups, per_q = [], [], {}
            for _ in range(repeat):
                t = time.perf_counter()
                report = grader.grade(sub)
                walls.append(time.perf_counter() - t)
                startups.append(report.provenance["timing"].get("sandbox_startup_s", 0.0))
                for qid, s in report.provenance["timing"]["per_question_s"].items():
                    per_q.setdefault(qid, []).append(s)
            wall, start = statistics.median(walls), statistics.median(startups)
            label = ("sandboxed  " if sandboxed else "no sandbox ") + ("functions" if functions_only else "all      ")
            print(f"{label} {sub.name:10s} median {wall:.3f} s per submission "
                  f"(min {min(walls):.3f}, max {max(walls):.3f}); worker start-up {start:.3f} s "
                  f"= {100 * start / wall:.0f}% ; score {report.score:g}/{report.auto_max:g}")
            slowest = sorted(((statistics.median(v), k) for k, v in per_q.items()), reverse=True)[:3]
            print("             slowest questions: " + ", ".join(f"{k} {s:.3f} s" for s, k in slowest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--all", action="store_true",
                        help="also grade the whole rubric, trainings included (many minutes)")
    parser.add_argument("--anchors", help="folder holding the nbgrader executable (default: PATH)")
    args = parser.parse_args()
    nbgrader = anchors.tool("nbgrader", args.anchors)
    if nbgrader:
        with tempfile.TemporaryDirectory() as tmp:
            course = Path(tmp) / "course"
            anchors.nbgrader_course(course, 20, nbgrader)
            seconds = anchors.run([nbgrader, "autograde", "ps1", "--create"], course)
        print(f"nbgrader autograde, 20 submissions of a 5-test notebook: {seconds:.2f} s, "
              f"{seconds / 20:.3f} s per submission")
    else:
        print("nbgrader: not installed, skipped (see benchmarks/anchors.py)")
    spec = ROOT / "specs" / "cmu-hw5.yaml"
    samples = ROOT / "fixtures" / "submissions" / "cmu-hw5"
    subs = [ROOT / "solution" / "cmu-hw5", samples / "alice", samples / "bob.zip"]
    for functions_only in (True, False) if args.all else (True,):
        for sandboxed in (True, False):
            bench(spec, subs, args.repeat, sandboxed, functions_only)


if __name__ == "__main__":
    main()
