"""A cold grade, as a TA types it: one fresh process per submission, beside Otter's ``otter run``.

    python benchmarks/bench_cold.py [--repeat 5] [--anchors /opt/anchors/bin]

Times, a fresh process each and alternating so that the machine's load falls on all alike:

* ``autograde SUB.zip --spec specs/cmu-hw5.yaml``: a handout-004 submission holding only
  ``python/nn.py`` (alice's), every question of the rubric (those whose files are absent fail fast);
* ``autograde --help`` and ``python -c "import autograder.cli"``;
* ``otter run`` on ``anchors.md`` §4's five-test notebook (see ``anchors.py``; skipped, and said,
  when Otter is not installed).

Prints the median and range of each and the ratio to Otter's. Goals (issue 16): a cold grade in
3 s or less and at least 5x faster than ``otter run``; ``--help`` in 0.5 s or less.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import anchors

ROOT = Path(__file__).resolve().parent.parent


def nn_only_zip(folder: Path) -> Path:
    archive = folder / "alice.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(ROOT / "fixtures" / "submissions" / "cmu-hw5" / "alice" / "hw5" / "python" / "nn.py", "python/nn.py")
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--anchors", help="folder holding the otter executable (default: PATH)")
    args = parser.parse_args()
    autograde = [sys.executable, "-m", "autograder"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = nn_only_zip(tmp)
        ways = {
            "autograde SUB (nn.py only)": lambda i: (autograde + [str(archive), "--spec", str(ROOT / "specs" / "cmu-hw5.yaml"),
                                                                  "--out", str(tmp / f"ours{i}")], ROOT),
            "autograde --help": lambda i: (autograde + ["--help"], ROOT),
            "import autograder.cli": lambda i: ([sys.executable, "-c", "import autograder.cli"], ROOT),
        }
        otter = anchors.tool("otter", args.anchors)
        if otter:
            anchors.otter_assignment(tmp / "otter", 1, otter)

            def otter_run(i):
                (tmp / "otter" / f"out{i}").mkdir()
                return [otter, "run", "-a", "autograder.zip", "-o", f"out{i}", "--no-logo", "subs/student00.ipynb"], tmp / "otter"
            ways["otter run (5 tests)"] = otter_run
        else:
            print("otter: not installed, skipped (python -m venv /opt/anchors && /opt/anchors/bin/pip install "
                  "otter-grader nbgrader; then --anchors /opt/anchors/bin)")
        for name, make in ways.items():  # once untimed: the page cache, as on a machine in use
            anchors.run(*make(f"warm-{name[:5]}".replace(" ", "")))
        times: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(args.repeat):
            for name, make in ways.items():
                times[name].append(anchors.run(*make(i)))
        absent = absent_question_ms(tmp / "ours0")
    otter_median = statistics.median(times["otter run (5 tests)"]) if otter else None
    print(f"cold runs, median of {args.repeat} (fresh process each; {os.cpu_count()} cores):")
    for name, values in times.items():
        median = statistics.median(values)
        versus = f"; otter run / this = {otter_median / median:.1f}x" if otter_median and not name.startswith("otter") else ""
        print(f"  {name:28} {median:6.2f} s  (min {min(values):.2f}, max {max(values):.2f}){versus}")
    print(f"  questions whose files were not handed in: {len(absent)}, the slowest {max(absent.values()):.1f} ms "
          f"({max(absent, key=absent.get)}; goal: 5 ms or less)")


def absent_question_ms(out: Path) -> dict[str, float]:
    """Per-question wall time (provenance.json) of the questions that run none of the handed-in files
    (the zip holds only nn.py)."""
    import json

    from autograder.grading import probed_files
    from autograder.rubric.schema import load

    rubric = load(ROOT / "specs" / "cmu-hw5.yaml")
    seconds = json.loads((out / "provenance.json").read_text())["timing"]["per_question_s"]
    absent = {q.id for q in rubric.questions if probed_files(q, rubric) and "nn" not in probed_files(q, rubric)}
    return {q: seconds[q] * 1000 for q in absent if q in seconds}


if __name__ == "__main__":
    main()
