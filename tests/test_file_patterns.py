"""Free-form file names (handout 004's section 7): matched by the rubric's patterns, reported."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from autograder.grading import graded_file_notes
from autograder.intake import stage
from autograder.rubric.schema import FileSpec, load
from conftest import CMU_SPEC

RUBRIC = load(CMU_SPEC)
SECTION_7 = {k: v for k, v in RUBRIC.files.items() if k.startswith("run_q7")}


def staged(tmp_path, names, files=None):
    folder = tmp_path / "in"
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x = 1\n")
    return stage(folder, tmp_path / "out", files or SECTION_7)


def graded(sub) -> dict[str, str]:
    return {k: str(p.relative_to(sub.root)) for k, p in sub.files.items()}


@pytest.mark.parametrize("name, key", [
    ("run_q71.py", "run_q7_1_1"), ("q7_1_1.py", "run_q7_1_1"), ("run_q711.py", "run_q7_1_1"),
    ("Run_Q7_1_1_fc.py", "run_q7_1_1"), ("q7.1.2.py", "run_q7_1_2"), ("run_q7_1_3_cnn.py", "run_q7_1_3"),
    ("q714_emnist.py", "run_q7_1_4"), ("run_q7part2_finetune.py", "run_q7_2_1"), ("q7_2.py", "run_q7_2_1"),
])
def test_students_names_for_section_7_find_their_question(tmp_path, name, key):
    sub = staged(tmp_path, [f"python/{name}"])
    assert graded(sub) == {key: f"python/{name}"}
    assert sub.by_pattern == {key: f"python/{name}"}


@pytest.mark.parametrize("name", ["run_q7.py", "q7_1_2_3.py", "run_q7_1_5.py", "q71.ipynb", "run_q3.py"])
def test_names_of_no_one_question_are_left_alone(tmp_path, name):
    assert graded(staged(tmp_path, [f"python/{name}"])) == {}


def test_the_exact_name_wins_and_is_not_reported_as_a_pattern_match(tmp_path):
    sub = staged(tmp_path, ["python/run_q71.py", "python/run_q7_1_1.py"])
    assert graded(sub)["run_q7_1_1"] == "python/run_q7_1_1.py"
    assert sub.by_pattern == {}


def test_of_several_matches_the_shallowest_then_shortest_then_first_alphabetically(tmp_path):
    assert graded(staged(tmp_path / "a", ["python/old/q71.py", "python/run_q7_1_1_fc.py"]))["run_q7_1_1"] \
        == "python/run_q7_1_1_fc.py"
    assert graded(staged(tmp_path / "b", ["python/run_q711.py", "python/q7_1_1.py"]))["run_q7_1_1"] \
        == "python/q7_1_1.py"
    assert graded(staged(tmp_path / "c", ["python/q7_11.py", "python/q7-11.py"]))["run_q7_1_1"] \
        == "python/q7-11.py"


def test_a_file_another_entry_names_exactly_is_never_taken_by_a_pattern(tmp_path):
    files = {"loose": FileSpec(path="main.py", required=False, pattern=r".*\.py"),
             "q4": FileSpec(path="q4.py")}
    sub = staged(tmp_path, ["python/q4.py", "python/zz.py"], files)
    assert graded(sub) == {"q4": "python/q4.py", "loose": "python/zz.py"}


def test_a_bad_pattern_is_refused_when_the_rubric_loads():
    with pytest.raises(ValidationError, match="not a regular expression"):
        FileSpec(path="a.py", pattern="run_q7_(1")


def test_the_report_says_which_file_was_graded_for_which_question(tmp_path):
    sub = staged(tmp_path, ["python/run_q71.py", "python/run_q7_1_2.py"], RUBRIC.files)
    notes = graded_file_notes(RUBRIC.question("Q7.1.1"), RUBRIC, sub)
    assert notes == ["graded python/run_q71.py as Q7.1.1's run_q7_1_1.py (no file of that name; "
                     "this one's name fits the pattern)"]
    assert graded_file_notes(RUBRIC.question("Q7.1.2"), RUBRIC, sub) == []
    assert graded_file_notes(RUBRIC.question("Q2.2.2"), RUBRIC, sub) == []


def test_reports_carry_the_note_even_when_the_question_passed():
    from autograder.checks.base import Outcome
    from autograder.grading import CheckResult, GradeReport, QuestionResult
    from autograder.report.writers import report_markdown, results_json

    note = "graded python/run_q71.py as Q7.1.1's run_q7_1_1.py (no file of that name; this one's name fits the pattern)"
    question = QuestionResult("Q7.1.1", "FC network on NIST36 in PyTorch", 5, "public", True,
                              checks=[CheckResult("evaluate", "evaluate", 1.0, [Outcome(1.0, "")])], notes=[note])
    report = GradeReport(RUBRIC, "alice.zip", [question],
                         {"rubric": {"file": "cmu-hw5.yaml", "sha256": "0" * 64}})
    assert results_json(report)["tests"][0]["output"] == note + "\nAll checks passed."
    markdown = report_markdown(report)
    assert f"* {note}" in markdown and "| passed |" in markdown
