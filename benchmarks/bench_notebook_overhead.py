"""What a notebook costs beyond its own cells: kernel start, the hidden set-up, shutdown.

    python benchmarks/bench_notebook_overhead.py [--repeat 5]

Runs one-cell numpy notebooks through :class:`autograder.notebooks.NotebookSession`, sandboxed
(the kernel in bubblewrap, ipc transport) and not, and prints the median overhead and wall time per
notebook (the issue's target: under 1 s; nbgrader about 0.85 s, ``anchors.md``), two ways:

* cold: a notebook alone, its kernel started when it is executed;
* launched: a submission of three notebooks whose kernels the grader launches as grading begins
  (``Runners.launch_notebooks``), so that a kernel's start-up overlaps the notebooks before it.
  The worker's function checks, which also overlap it in a real submission, are not counted.
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
            for launched in (False, True):
                overheads, walls = [], []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    sessions = [NotebookSession("t", "t.ipynb", tmp, NotebookBudget(30, 60, 1024), [],
                                                launch.Limits(), seed=0, sandboxed=sandboxed)
                                for _ in range(3 if launched else 1)]
                    if launched:
                        for session in sessions:
                            session.launch()
                    for session in sessions:
                        run = session.execute()
                        session.close()
                        if run.problem:
                            raise SystemExit(f"the notebook did not run: {run.problem}")
                        overheads.append(run.overhead_seconds)
                    walls.append((time.perf_counter() - started) / len(sessions))
                how = "3 notebooks, kernels launched at the start" if launched else "1 notebook, cold"
                print(f"{'sandboxed' if sandboxed else 'no sandbox'}, {how}: overhead per notebook "
                      f"{statistics.median(overheads):.3f} s (max {max(overheads):.3f}), wall per notebook "
                      f"{statistics.median(walls):.3f} s (median of {args.repeat})")

if __name__ == "__main__":
    main()
