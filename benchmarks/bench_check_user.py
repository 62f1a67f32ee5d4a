"""``autograde check`` as root and as an unprivileged user, on the same kit and homework.

    sudo python benchmarks/bench_check_user.py [--repeat 5] [--spec specs/cmu-hw5.yaml] [--homework DIR]

A student runs the self-check as their own user: unprivileged bubblewrap, no uid drop, no cgroups.
A TA's machine runs it as root with every layer. Each round runs the same command, a fresh
interpreter each time, once as root and once as uid 65534 (with bubblewrap, and without it, as on a
laptop that lacks it), alternating so that the machine's load falls on all of them alike. Prints
the median wall time of each and its ratio to root (the issue's goal: within 1.5x). Needs root to
drop to uid 65534 (:mod:`autograder.sandbox.as_student`).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.kit.build import build_kit
from autograder.rubric.schema import load
from autograder.sandbox import as_student

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str], cwd: Path) -> float:
    env = {"PATH": os.environ["PATH"], "COLUMNS": "120"}
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[-6:])} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "cmu-hw5.yaml"))
    parser.add_argument("--homework", default=str(ROOT / "fixtures" / "submissions" / "cmu-hw5" / "alice"))
    args = parser.parse_args()
    if not as_student.possible():
        raise SystemExit("run as root with bwrap and setpriv installed: it drops to uid 65534 for the student's runs")
    shared = Path(tempfile.mkdtemp(prefix="autograde-bench-check-"))
    try:
        kit = build_kit(Path(args.spec), shared / "dist").folder
        homework = shared / "homework"
        shutil.copytree(args.homework, homework)
        as_student.share(shared)
        check = ["-m", "autograder", "check", str(homework), "--kit", str(kit)]
        ways = {"root": [sys.executable, *check],
                "uid 65534, bubblewrap": as_student.argv(shared, ROOT) + check,
                "uid 65534, no bubblewrap": as_student.argv(shared, ROOT, without_bwrap=True) + check}
        for argv in ways.values():  # warm the page cache (torch, numpy) before the clock
            timed(argv, shared)
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.repeat):
            for name, argv in ways.items():
                times[name].append(timed(argv, shared))
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    rubric = load(args.spec)
    print(f"autograde check, {rubric.assignment}, {Path(args.homework).name}: median of {args.repeat} runs each")
    root = statistics.median(times["root"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:26} {median:6.2f} s  ({median / root:.2f}x root; min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
