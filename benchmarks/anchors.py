"""The anchors (Otter-Grader, nbgrader) on the same small assignment, for the benchmarks to time beside ours.

The assignment is ``anchors.md`` §4's: one notebook defining a stable ``sigmoid`` and ``softmax`` and
five tests (two of them hidden). Otter gets two exception-based test files (3 + 2 points); nbgrader a
course whose notebook has five locked one-point grade cells. Both tools are optional: install them
in a virtual environment of their own (they pin libraries this project does not want)::

    python -m venv /opt/anchors && /opt/anchors/bin/pip install otter-grader nbgrader

and pass ``--anchors /opt/anchors/bin`` (or put ``otter`` and ``nbgrader`` on ``PATH``). A tool that
is not installed is skipped, and the benchmark says so.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SOLUTION = '''import numpy as np

def sigmoid(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out

def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)
'''

TESTS = {  # name: (question, hidden, body using sigmoid, softmax and np)
    "zero": ("q1", False, "assert sigmoid(0) == 0.5"),
    "symmetry": ("q1", False, "x = np.linspace(-5, 5, 11)\nnp.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1, atol=1e-8)"),
    "stable_sigmoid": ("q1", True, "with np.errstate(over='raise'):\n    s = sigmoid(np.array([-1000.0, 1000.0]))\n"
                                   "np.testing.assert_allclose(s, [0, 1], atol=1e-12)"),
    "sums_to_one": ("q2", False, "z = np.random.default_rng(0).normal(size=(4, 6))\n"
                                 "np.testing.assert_allclose(softmax(z).sum(axis=-1), 1, rtol=1e-6)"),
    "stable_softmax": ("q2", True, "np.testing.assert_allclose(softmax(np.array([1000.0, 1001.0, 1002.0])), "
                                   "[0.09003057, 0.24472847, 0.66524096], rtol=1e-5)"),
}


def tool(name: str, anchors: str | None) -> str | None:
    """The tool's executable, or None when it is not installed."""
    if anchors and (Path(anchors) / name).is_file():
        return str(Path(anchors) / name)
    return shutil.which(name)


def run(argv: list[str], cwd: Path, timeout: float = 600) -> float:
    # the tool's own folder first on PATH: nbgrader runs alembic, Otter its kernels, from beside them
    path = os.pathsep.join([str(Path(argv[0]).parent), os.environ.get("PATH", "")])
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PATH=path, PYDEVD_DISABLE_FILE_VALIDATION="1"))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {(done.stdout + done.stderr)[-1500:]}")
    return seconds


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def otter_assignment(folder: Path, students: int, otter: str) -> list[Path]:
    """``tests/q1.py``, ``tests/q2.py``, ``autograder.zip`` and ``students`` submissions in ``folder``."""
    (folder / "tests").mkdir(parents=True)
    for question, points in (("q1", 3), ("q2", 2)):
        cases = [f"@test_case(points=1, hidden={hidden})\ndef test_{name}(sigmoid, softmax, np):\n{_indent(body)}\n"
                 for name, (q, hidden, body) in TESTS.items() if q == question]
        (folder / "tests" / f"{question}.py").write_text(
            "from otter.test_files import test_case\n\nOK_FORMAT = False\n\n"
            f"name = {question!r}\npoints = {points}\n\n" + "\n\n".join(cases))
    run([otter, "generate", "-t", "tests"], folder)
    subs = []
    for i in range(students):
        nb = new_notebook(cells=[new_markdown_cell("# Activations"), new_code_cell(SOLUTION), new_code_cell("print('done')")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / "subs" / f"student{i:02d}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(nb, path)
        subs.append(path)
    return subs


def nbgrader_course(folder: Path, students: int, nbgrader: str) -> None:
    """A course ``bench`` with assignment ``ps1`` released and ``students`` correct submissions."""
    (folder / "source" / "ps1").mkdir(parents=True)
    (folder / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "bench"\n')
    solution = SOLUTION.replace("    x = np.asarray", "    ### BEGIN SOLUTION\n    x = np.asarray", 1)
    solution = solution.replace("    return out\n", "    return out\n    ### END SOLUTION\n", 1)
    solution = solution.replace("    z = np.asarray", "    ### BEGIN SOLUTION\n    z = np.asarray", 1)
    solution = solution.rstrip("\n") + "\n    ### END SOLUTION\n"
    cells = [new_markdown_cell("# Activations"), new_code_cell(solution, metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "solution", "schema_version": 3}})]
    for name, (_, hidden, body) in TESTS.items():
        source = f"### BEGIN HIDDEN TESTS\n{body}\n### END HIDDEN TESTS" if hidden else body
        cells.append(new_code_cell(source, metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": name, "schema_version": 3}}))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "source" / "ps1" / "activations.ipynb")
    run([nbgrader, "generate_assignment", "ps1", "--create"], folder)
    released = nbformat.read(folder / "release" / "ps1" / "activations.ipynb", as_version=4)
    for cell in released.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = SOLUTION
    for i in range(students):
        target = folder / "submitted" / f"student{i:02d}" / "ps1"
        target.mkdir(parents=True)
        nbformat.write(released, target / "activations.ipynb")
        (target / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
