"""What a notebook costs beyond its own cells: kernel start, the hidden set-up, shutdown.

    python benchmarks/bench_notebook_overhead.py [--repeat 5]

Runs a one-cell numpy notebook through :class:`autograder.notebooks.NotebookSession`, sandboxed
(the kernel in bubblewrap, ipc transport) and not, and prints the median overhead and wall time per
notebook (the issue's target: under 1 s; nbgrader about 0.85 s, ``anchors.md``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.notebooks import NotebookBudget, NotebookSession
from autograder.sandbox import launch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("import numpy as np\nx = np.arange(3)")]
        nbformat.write(nb, Path(tmp) / "t.ipynb")
        os.chmod(tmp, 0o755)  # as the grader stages a submission: readable by the sandbox's uid
        os.chmod(Path(tmp) / "t.ipynb", 0o644)
        for sandboxed in (True, False):
            overheads, walls = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                session = NotebookSession("t", "t.ipynb", tmp, NotebookBudget(30, 60, 1024), [],
                                          launch.Limits(), seed=0, sandboxed=sandboxed)
                run = session.execute()
                session.close()
                if run.problem:
                    raise SystemExit(f"the notebook did not run: {run.problem}")
                overheads.append(run.overhead_seconds)
                walls.append(time.perf_counter() - started)
            print(f"{'sandboxed' if sandboxed else 'no sandbox'}: overhead {statistics.median(overheads):.3f} s, "
                  f"whole notebook {statistics.median(walls):.3f} s (median of {args.repeat})")


if __name__ == "__main__":
    main()
