"""The TA's commands and what they write: Gradescope results.json, report.md, provenance."""
from __future__ import annotations

import json
import shutil

import pytest

from autograder.cli import main
from conftest import CMU_REFERENCE, CMU_SPEC, ROOT

SAMPLES = ROOT / "fixtures" / "submissions" / "cmu-hw5"


def test_grading_a_zip_writes_gradescope_results(tmp_path, capsys):
    out = tmp_path / "bob"
    assert main([str(SAMPLES / "bob.zip"), "--spec", str(CMU_SPEC), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"score", "execution_time", "output", "tests", "visibility"} <= set(results)
    numbers = list(dict.fromkeys(t["number"] for t in results["tests"]))
    assert numbers[:7] == ["Q2.1.2", "Q2.2.1", "Q2.2.2", "Q2.2.3", "Q2.3.1", "Q2.4.1", "Q2.5.1"]
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "output", "visibility"} <= set(test)
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    q222 = next(t for t in results["tests"] if t["number"] == "Q2.2.2")
    assert q222["score"] < q222["max_score"] and "NaN or inf" in q222["output"]
    manual = {m["number"] for m in results["extra_data"]["manual"]}
    assert {"Q1.1", "Q3.1.2", "Q6.4"} <= manual
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["rubric"]["sha256"] and prov["submission_sha256"] and prov["seed"] is not None
    assert "numpy" in prov["libraries"] and "sandbox" in prov
    report = (out / "report.md").read_text()
    assert "| Q2.2.2 Softmax" in report and "## Provenance" in report
    assert "Q2.2.2" in capsys.readouterr().out


def test_the_same_submission_gets_the_same_grade(tmp_path):
    for name in ("a", "b"):
        main([str(SAMPLES / "bob.zip"), "--spec", str(CMU_SPEC), "--out", str(tmp_path / name)])
    a, b = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("a", "b"))
    assert a["extra_data"]["provenance"]["seed"] == b["extra_data"]["provenance"]["seed"]
    assert [t["score"] for t in a["tests"]] == [t["score"] for t in b["tests"]]


def test_spec_is_identified_from_the_files(tmp_path):
    # the function questions only: tests/test_validation.py grades the whole reference already
    shutil.copytree(CMU_REFERENCE, tmp_path / "sub", ignore=shutil.ignore_patterns("run_q7_*"))
    out = tmp_path / "ref"
    assert main([str(tmp_path / "sub"), "--out", str(out), "--questions", "Q2.1.2,Q2.2.1,Q2.2.2,Q2.2.3,Q2.3.1"]) == 0
    results = json.loads((out / "results.json").read_text())
    graded = [t for t in results["tests"] if t["number"] in {"Q2.1.2", "Q2.2.1", "Q2.2.2", "Q2.2.3", "Q2.3.1"}]
    assert len({t["number"] for t in graded}) == 5 and results["score"] == sum(t["max_score"] for t in graded) > 0


def test_unidentifiable_submission_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "essay.txt").write_text("hello")
    assert main([str(tmp_path / "sub")]) == 2
    assert "cannot tell which assignment" in capsys.readouterr().out


def test_missing_submission_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope.zip"), "--spec", str(CMU_SPEC)]) == 2
    assert "no such file" in capsys.readouterr().out


def test_validate_schema_only(capsys):
    assert main(["validate", str(CMU_SPEC)]) == 0
    assert "111 points + 25 extra credit" in capsys.readouterr().out


def test_validate_reports_a_broken_spec(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CMU_SPEC.read_text().replace("points: 7", "points: seven"))
    shutil.copytree(ROOT / "specs" / "cmu-hw5", tmp_path / "cmu-hw5")
    assert main(["validate", str(bad)]) == 2
    assert "(Q2.3.1).points" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_grades_the_bundled_samples(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    graded = sorted(p.name for p in (tmp_path / "cmu-hw5").iterdir())
    assert graded == ["alice", "bob", "mallory"]
    alice = json.loads((tmp_path / "cmu-hw5" / "alice" / "results.json").read_text())
    mallory = json.loads((tmp_path / "cmu-hw5" / "mallory" / "results.json").read_text())
    # alice hands in nn.py and run_q2.py only: full marks on those questions, nothing for the rest
    assert alice["score"] == 28 and mallory["score"] == 1


def test_a_grader_that_cannot_work_here_writes_no_grade_and_says_why(tmp_path, monkeypatch, capsys):
    """A worker whose Python cannot import NumPy is the grader's failure, never the student's 0:
    the command fails (exit 3) at once, no results.json exists to upload, and batch marks an error."""
    from autograder.batch.job import grade_student
    from autograder.rubric.schema import load
    from autograder.sandbox import launch

    monkeypatch.setattr(launch, "BOOT", "raise ModuleNotFoundError(\"No module named 'numpy'\")")
    out = tmp_path / "bob"
    assert main([str(SAMPLES / "bob.zip"), "--spec", str(CMU_SPEC), "--out", str(out)]) == 3
    said = capsys.readouterr().out
    assert "grader error" in said and "numpy" in said and "not the student's doing" in said
    assert not (out / "results.json").exists()

    summary = grade_student(str(CMU_SPEC), load(CMU_SPEC).digest, str(SAMPLES / "bob.zip"), str(tmp_path / "b"))
    assert summary["status"] == "error" and "GraderBroken" in summary["message"]
    assert not (tmp_path / "b" / "results.json").exists()


def test_hidden_checks_are_their_own_tests_shown_only_after_publishing(tmp_path):
    """Q2.2.2's "shifted far from zero" check is hidden in the rubric: its score, feedback and inputs
    are in a test of its own that students see once grades are published, never in the visible one."""
    from autograder.rubric.schema import load

    out = tmp_path / "bob"
    assert main([str(SAMPLES / "bob.zip"), "--spec", str(CMU_SPEC), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    q222 = [t for t in results["tests"] if t["number"] == "Q2.2.2"]
    assert [t["visibility"] for t in q222] == ["visible", "after_published"]
    assert "shifted far from zero" not in q222[0]["output"] and "large values" in q222[0]["output"]
    assert "shifted far from zero" in q222[1]["output"]
    for test in results["tests"]:
        if test["visibility"] == "visible":
            assert "shifted far from zero" not in test["output"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    points = next(q.points for q in load(CMU_SPEC).questions if q.id == "Q2.2.2")
    assert sum(t["max_score"] for t in q222) == pytest.approx(points)


def test_the_class_page_and_every_report_count_the_same_auto_graded_points(tmp_path):
    """One scoring model: an empty submission's report, its results.json and the class page all say
    62 for handout 004 (figures are judged by a TA, never counted as automatic); the total is
    floored at 0 and the emptiness said once."""
    from autograder.grading import auto_points
    from autograder.report.html import write_summary_html
    from autograder.rubric.schema import load

    empty = tmp_path / "class" / "nobody"
    empty.mkdir(parents=True)
    out = tmp_path / "out"
    assert main([str(empty), "--spec", str(CMU_SPEC), "--out", str(out / "nobody")]) == 0
    results = json.loads((out / "nobody" / "results.json").read_text())
    counted = sum(t["max_score"] for t in results["tests"] if not {"extra-credit", "penalty"} & set(t["tags"]))
    assert counted == pytest.approx(auto_points(load(CMU_SPEC))) == pytest.approx(62)
    assert results["score"] == 0 and results["output"].count("the submission is empty") == 1
    page = write_summary_html(out, load(CMU_SPEC), {"nobody": {"status": "graded"}}).read_text()
    assert "Auto-graded points possible: 62 " in page


def test_the_class_page_rounds_totals_and_final_marks_alike(tmp_path):
    from autograder.report.html import write_summary_html
    from autograder.rubric.schema import load

    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "results.json").write_text(json.dumps({"score": 16.92857, "tests": []}))
    (tmp_path / "gradebook.csv").write_text("student,status,total,late_penalty,final\n"
                                            "ada,graded,16.9286,0.8464,16.0822\n")
    page = write_summary_html(tmp_path, load(CMU_SPEC)).read_text()
    assert ">16.93<" in page and ">0.85<" in page and ">16.08<" in page
    assert "16.9286" not in page and "16.0822" not in page


def test_another_assignments_submission_is_flagged_and_a_broken_rubric_skipped(tmp_path, capsys):
    """Handout 002's files graded with handout 004's rubric: the terminal and the report ask whether
    it is the right assignment. A rubric in specs/ that does not load is left out of detection, with
    a warning, instead of stopping every grade."""
    ola = ROOT / "fixtures" / "submissions" / "tdt4265-a2" / "ola"
    out = tmp_path / "ola"
    assert main([str(ola), "--spec", str(CMU_SPEC), "--specs-dir", str(ROOT / "specs"), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "wrong assignment?" in said and "tdt4265-a2.yaml better than cmu-hw5.yaml" in said
    assert "wrong assignment?" in (out / "report.md").read_text()

    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, symlinks=True)
    (specs / "broken.yaml").write_text("assignment: [unclosed\n")
    (tmp_path / "solution").symlink_to(ROOT / "solution")  # the rubrics' ../solution
    assert main([str(ola), "--specs-dir", str(specs), "--out", str(tmp_path / "again")]) == 0
    said = capsys.readouterr().out
    assert "broken.yaml is left out of assignment detection" in said and "tdt4265-a2" in said


def test_the_help_lists_every_command_in_plain_text(capsys):
    from autograder.cli import COMMANDS

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {name} " in text for name in COMMANDS) and "``" not in text
    assert main(["help"]) == 0 and "usage: autograde" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["help", "batch"])
    assert "--id-pattern" in capsys.readouterr().out
    assert main(["help", "nope"]) == 2


def test_options_are_never_abbreviations_and_a_folder_named_check_can_be_graded(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # --spec is not --specs-dir
        main(["demo", "--spec", str(CMU_SPEC)])
    assert stop.value.code == 2
    folder = tmp_path / "check"
    shutil.copytree(SAMPLES / "alice", folder)
    out = tmp_path / "out"
    assert main(["grade", str(folder), "--spec", str(CMU_SPEC), "--out", str(out),
                 "--questions", "Q2.2.2,Q2.1.2"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {t["number"] for t in results["tests"]} == {"Q2.1.2", "Q2.2.2"}
