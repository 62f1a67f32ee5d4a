"""Handout 000 (GIST CA2): 004's network under GIST's numbering, and its own gradient-check contract."""
from __future__ import annotations

import shutil

from autograder.grading import Grader
from autograder.intake import stage
from autograder.rubric.schema import load
from conftest import ROOT

SPEC = ROOT / "specs" / "gist-ca2.yaml"
REFERENCE = ROOT / "solution" / "gist-ca2"


def test_shared_reference_files_are_followed_only_when_trusted(tmp_path):
    """The reference's nn.py is a link to handout 004's; a student's link is never followed."""
    rubric = load(SPEC)
    trusted = stage(REFERENCE, tmp_path / "t", rubric.files, SPEC.parent, trusted=True)
    assert "nn" in trusted.files and not trusted.problems
    student = stage(REFERENCE, tmp_path / "s", rubric.files, SPEC.parent)
    assert "nn" not in student.files and any("symbolic links" in p for p in student.problems)


def test_numerical_gradients_must_go_into_params_eps(tmp_path):
    rubric = load(SPEC)
    rubric.questions = [q for q in rubric.questions if q.id in ("Q1.4.1", "Q1.5.1")]
    student = tmp_path / "student"
    shutil.copytree(REFERENCE, student)  # links become files
    q1 = student / "python" / "q1.py"
    q1.write_text(q1.read_text().replace("    params_eps['grad_' + k] = grad_v", "    params['grad_' + k] = grad_v"))
    with Grader(rubric) as grader:
        reference = grader.grade(REFERENCE, trusted=True)
        report = grader.grade(student)
    assert [q.score for q in reference.questions] == [5, 5]
    assert report.question("Q1.4.1").score == 5 and report.question("Q1.5.1").score == 0
    assert "params_eps" in " ".join(report.question("Q1.5.1").feedback)


def test_a_checker_left_blank_or_copying_the_analytic_gradients_earns_nothing(tmp_path):
    """Zeros (the starter's params_eps when its loop is not written) and a copy of params_orig both
    earned 2.5 of 5 when "computed" was a threshold of its own; the one threshold now gives 0."""
    rubric = load(SPEC)
    rubric.questions = [q for q in rubric.questions if q.id == "Q1.5.1"]
    edits = {
        # the starter's STEP1 without its loop: params_eps keeps np.zeros_like
        "blank": ("        grad_v[idx] = (loss_plus - loss_minus) / (2 * eps)\n", ""),
        "copied": ("# STEP3: the gaps", "params_eps = {k: v.copy() for k, v in params_orig.items() if 'grad_' in k}\n"
                                        "# STEP3: the gaps"),
    }
    with Grader(rubric) as grader:
        for name, (find, replace) in edits.items():
            student = tmp_path / name
            shutil.copytree(REFERENCE, student)  # links become files
            q1 = student / "python" / "q1.py"
            assert q1.read_text().count(find) == 1
            q1.write_text(q1.read_text().replace(find, replace))
            report = grader.grade(student)
            assert report.question("Q1.5.1").score == 0, (name, report.question("Q1.5.1").feedback)
