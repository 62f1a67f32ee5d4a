"""Handout 001 (APL405 HW2): the hand-designed threshold network and the YES/NO answers."""
from __future__ import annotations

import shutil

import pytest

from autograder.grading import Grader
from autograder.rubric.expr import yes_no
from autograder.rubric.schema import load
from conftest import ROOT

SPEC = ROOT / "specs" / "apl405-hw2.yaml"
REFERENCE = ROOT / "solution" / "apl405-hw2"

STRICT_PY = """
import numpy as np
W1 = np.array([[-1, 1, 0, 0, 0], [0, -1, 1, 0, 0], [0, 0, -1, 1, 0], [0, 0, 0, -1, 1]])
b1 = np.zeros(4)
w2 = -np.ones((1, 4))   # a row vector is fine
b2 = [0.0]              # so is a one-element list
"""

AT_LEAST_PY = """
W1 = [[1, -1, 0, 0, 0], [0, 1, -1, 0, 0], [0, 0, 1, -1, 0], [0, 0, 0, 1, -1]]
b1 = [0, 0, 0, 0]
w2 = [1, 1, 1, 1]
b2 = -4
"""


@pytest.fixture(scope="module")
def grader():
    with Grader(load(SPEC)) as g:
        yield g


def submission(tmp_path, q1_py: str | None = None, answers: str | None = None):
    dest = tmp_path / "student"
    dest.mkdir()
    shutil.copy(REFERENCE / "answers.yaml", dest)
    if answers is not None:
        (dest / "answers.yaml").write_text(answers)
    if q1_py is None:
        shutil.copy(REFERENCE / "q1_weights.yaml", dest)
    else:
        (dest / "q1.py").write_text(q1_py)
    return dest


def test_weights_as_a_python_file_are_accepted(grader, tmp_path):
    report = grader.grade(submission(tmp_path, STRICT_PY))
    assert report.question("Q1").score == 3 and report.question("Q2").score == 2


def test_a_network_that_accepts_equal_neighbours_gets_the_official_half_credit(grader, tmp_path):
    report = grader.grade(submission(tmp_path, AT_LEAST_PY))
    q1 = report.question("Q1")
    assert q1.score == 1.5
    assert "share of inputs with equal neighbours accepted" in " ".join(q1.feedback)


@pytest.mark.parametrize("hostile", [
    "while True:\n    pass\n",
    "raise RuntimeError('no weights')\n",
    "W1 = 'four by five'\nb1 = b2 = w2 = None\n",
    "import numpy as np\nW1 = np.full((4, 5), np.nan)\nb1 = w2 = np.zeros(4)\nb2 = 0\n",
])
def test_hostile_or_broken_weights_cost_question_1_only(grader, tmp_path, hostile):
    report = grader.grade(submission(tmp_path, hostile))
    assert report.question("Q1").score == 0
    assert report.question("Q2").score == 2


def test_answers_are_never_sent_to_the_sandbox(tmp_path):
    """The right answers live in the reference's answers.yaml, read by the trusted worker only."""
    rubric = load(SPEC)
    for check in rubric.questions[1].checks:
        assert not check.probe.inputs and not check.then.inputs
    report_text = SPEC.read_text()
    assert "w3: no" not in report_text and "w3: yes" not in report_text


def test_yes_no_reads_the_ways_students_write_it():
    assert [yes_no(a) for a in (True, "YES", " Yes. ", "y", "no", False, "No!")] == [1, 1, 1, 1, 0, 0, 0]
    assert all(yes_no(a) != yes_no(a) for a in ("maybe", None, "", "yes and no"))  # nan


def test_without_the_optional_hand_ins_the_ta_grades_from_the_write_up(grader, tmp_path):
    dest = tmp_path / "writeup-only"
    dest.mkdir()
    (dest / "hw2_writeup.pdf").write_bytes(b"%PDF-1.4 the numbers are in here")
    report = grader.grade(dest)
    assert report.question("Q1").manual and report.question("Q2").manual
    assert "graded by a TA from the write-up" in report.question("Q1").ta_notes[0]
    assert report.score == 0 and not report.intake_problems
    # the notebooks are code the handout requires: without them their checks fail, and say why
    notebook_questions = [q for q in report.questions if q.auto_max > 0]
    assert notebook_questions and all(q.id.startswith(("Q4.", "Q5.")) for q in notebook_questions)
    assert all("was not found in the submission" in " ".join(q.feedback) for q in notebook_questions)
