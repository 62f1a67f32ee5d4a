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
    numbers = [t["number"] for t in results["tests"]]
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
    # without the section 7 scripts (extra credit): tests/test_validation.py trains them once already
    shutil.copytree(CMU_REFERENCE, tmp_path / "sub", ignore=shutil.ignore_patterns("run_q7_*"))
    out = tmp_path / "ref"
    assert main([str(tmp_path / "sub"), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    required = [t for t in results["tests"] if "extra-credit" not in t["tags"]]
    assert results["score"] == sum(t["max_score"] for t in required) > 28


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
