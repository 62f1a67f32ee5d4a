"""Shared fixtures: the handout-004 rubric, one Grader per test session, and submission variants."""
from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest

from autograder.grading import Grader
from autograder.rubric.schema import load
from autograder.sandbox.layers import detect

ROOT = Path(__file__).resolve().parent.parent
CMU_SPEC = ROOT / "specs" / "cmu-hw5.yaml"
CMU_REFERENCE = ROOT / "solution" / "cmu-hw5"
FUNCTION_QUESTIONS = ["Q2.1.2", "Q2.2.1", "Q2.2.2", "Q2.2.3", "Q2.3.1", "Q2.4.1", "Q2.5.1"]

FULL_SANDBOX = {"bubblewrap", "seccomp", "cgroup-memory", "cgroup-pids", "uid-drop", "rlimits", "kill-tree"}


def full_sandbox() -> bool:
    return FULL_SANDBOX <= detect().available


requires_sandbox = pytest.mark.skipif(
    not full_sandbox() and not os.environ.get("AUTOGRADE_REQUIRE_SANDBOX"),
    reason="needs the full isolation profile: root and bubblewrap (apt-get install bubblewrap)")


@pytest.fixture(scope="session")
def cmu_rubric():
    rubric = load(CMU_SPEC)
    # training scripts and whole pipelines (NIST36, OCR, autoencoder, PCA) have their own tests
    # (validation, mutants); without them here every hostile variant grades in about a second
    rubric.questions = [q for q in rubric.questions if not q.long_running]
    # hostile tests wait for time-outs: shorter budgets keep them fast, the semantics are the same
    # (the reference's run_q2.py needs about 0.3 s)
    rubric.policy.budget.import_time_s = 10.0  # CI runs two test workers on two cores
    for question in rubric.questions:
        if question.time_s:
            question.time_s = 8.0
    return rubric


@pytest.fixture(scope="session")
def grader(cmu_rubric):
    with Grader(cmu_rubric) as g:
        yield g


def replace_function(source: str, name: str, new_code: str) -> str:
    """Swap one top-level function of a module for ``new_code`` (which defines it again)."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[: node.lineno - 1]) + new_code.rstrip() + "\n" + "".join(lines[node.end_lineno:])


@pytest.fixture
def make_submission(tmp_path):
    """A copy of the reference with nn.py edited: ``functions`` replaced, ``prelude`` added on top."""

    def make(functions: dict[str, str] | None = None, prelude: str = "", files: dict[str, str] | None = None,
             name: str = "student") -> Path:
        dest = tmp_path / name
        shutil.copytree(CMU_REFERENCE, dest)
        nn = dest / "python" / "nn.py"
        source = nn.read_text()
        for fname, code in (functions or {}).items():
            source = replace_function(source, fname, code)
        nn.write_text(prelude + source)
        for rel, text in (files or {}).items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text)
        return dest

    return make


def scores(report) -> dict[str, float]:
    return {q.id: q.score for q in report.questions if not q.manual and not q.penalty}


def full_marks(report) -> dict[str, float]:
    return {q.id: q.auto_max for q in report.questions if not q.manual and not q.penalty}


@pytest.fixture(scope="session")
def nist36_folder(tmp_path_factory):
    """A full synthetic NIST36 (about 10 s), made once for the slow tests that train on it."""
    from autograder import data

    return data.resolve("nist36", tmp_path_factory.mktemp("data")).folder


def edit_distance(a: str, b: str) -> int:
    """Plain Levenshtein distance: the oracle the vectorised OCR metrics are checked against."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def make_small_data(root: Path, names, scale: float) -> Path:
    """Small synthetic datasets in ``root`` (a data directory), marked as generated."""
    import json

    from autograder import data
    from autograder.data import digits, flowers, nist36

    makers = {"nist36": nist36.make, "mnist": digits.make_mnist, "emnist-balanced": digits.make_emnist,
              "flowers17": lambda folder, seed, scale: flowers.make(folder, seed)}
    for name in names:
        folder = root / data.DATASETS[name].folder
        folder.mkdir()
        info = makers[name](folder, 0, scale=scale)
        (folder / data.registry.MARKER).write_text(json.dumps({"source": f"test, scale {scale}", "seed": 0,
                                                               **(info or {})}))
    return root


def pytest_collection_modifyitems(items):
    """The slow tests first, the whole-rubric validations (the longest) before the trainings: the two
    test workers start the long work together and end on short tests, not one on a long one alone."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.path.name != "test_validation.py"))
