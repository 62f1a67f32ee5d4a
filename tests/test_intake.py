"""Intake: hostile and broken archives get a clear report, never a traceback."""
from __future__ import annotations

import stat
import zipfile

import pytest

from autograder import intake
from autograder.intake import IntakeError, stage
from autograder.rubric.schema import FileSpec
from conftest import CMU_REFERENCE, scores

FILES = {"nn": FileSpec(path="nn.py"), "run_q2": FileSpec(path="run_q2.py", required=False)}


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            if isinstance(data, zipfile.ZipInfo):
                z.writestr(data, name)
            else:
                z.writestr(name, data)
    return path


def test_finds_files_wherever_they_sit(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"andrewid/hw5/python/nn.py": "x = 1\n", "andrewid/README": "hi"})
    sub = stage(z, tmp_path / "out", FILES)
    assert sub.files["nn"].relative_to(sub.root).as_posix() == "andrewid/hw5/python/nn.py"
    assert sub.missing == []


def test_zip_slip_and_absolute_paths_are_skipped_and_reported(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"python/nn.py": "x = 1\n", "../../evil.py": "bad", "/etc/evil.py": "bad",
                                      "C:/evil.py": "bad"})
    sub = stage(z, tmp_path / "out", FILES)
    assert not (tmp_path / "evil.py").exists()
    assert sum("outside the submission" in p for p in sub.problems) == 3


def test_symlinks_are_refused(tmp_path):
    link = zipfile.ZipInfo("python/answers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    z = make_zip(tmp_path / "s.zip", {"python/nn.py": "x = 1\n", "/etc/passwd": link})
    sub = stage(z, tmp_path / "out", FILES)
    assert not (sub.root / "python" / "answers.py").exists()
    assert any("symbolic link" in p for p in sub.problems)


def test_symlinks_in_a_folder_are_refused(tmp_path):
    folder = tmp_path / "sub" / "python"
    folder.mkdir(parents=True)
    (folder / "nn.py").write_text("x = 1\n")
    (folder / "secret.py").symlink_to("/etc/hostname")
    sub = stage(tmp_path / "sub", tmp_path / "out", FILES)
    assert not (sub.root / "python" / "secret.py").exists()
    assert any("symbolic link" in p for p in sub.problems)


def test_zip_bomb_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILE_BYTES", 1 << 20)
    z = make_zip(tmp_path / "bomb.zip", {"python/nn.py": "x = 1\n", "data.bin": b"\0" * (20 << 20)})
    assert z.stat().st_size < 100_000
    with pytest.raises(IntakeError, match="zip bomb"):
        stage(z, tmp_path / "out", FILES)


def test_too_many_files(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILES", 10)
    z = make_zip(tmp_path / "many.zip", {f"f{i}.txt": "x" for i in range(20)})
    with pytest.raises(IntakeError, match="more than the 10 allowed"):
        stage(z, tmp_path / "out", FILES)


@pytest.mark.parametrize("content, words", [(b"this is not a zip", "not a zip file"),
                                            (b"PK\x03\x04garbage", "not a zip file")])
def test_not_a_zip(tmp_path, content, words):
    bad = tmp_path / "s.zip"
    bad.write_bytes(content)
    with pytest.raises(IntakeError, match=words):
        stage(bad, tmp_path / "out", FILES)


def test_empty_zip(tmp_path):
    z = make_zip(tmp_path / "empty.zip", {})
    with pytest.raises(IntakeError, match="empty"):
        stage(z, tmp_path / "out", FILES)


def test_macos_junk_is_ignored(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"python/nn.py": "x = 1\n", "__MACOSX/python/._nn.py": "junk"})
    sub = stage(z, tmp_path / "out", FILES)
    assert not (sub.root / "__MACOSX").exists()


def test_missing_required_file_is_reported(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"python/run_q2.py": "x = 1\n"})
    sub = stage(z, tmp_path / "out", FILES)
    assert sub.missing == ["nn.py"]


def test_unreadable_submission_still_gets_a_full_report(grader, tmp_path):
    bad = tmp_path / "s.zip"
    bad.write_bytes(b"not a zip")
    report = grader.grade(bad)
    assert report.fatal and "not a zip" in report.fatal
    assert all(v == 0 for v in scores(report).values())
    # the reason is said once (fatal, the report's head); each question says it was not graded
    assert report.question("Q2.2.2").feedback == ["not graded: the submission could not be read"]


def test_missing_nn_costs_its_questions_only(grader, tmp_path):
    z = make_zip(tmp_path / "s.zip", {"python/notes.txt": "I ran out of time"})
    report = grader.grade(z)
    assert "nn.py was not found" in "\n".join(report.question("Q2.2.2").feedback)
    assert any("nn.py was not found" in p for p in report.intake_problems)


def test_a_zipped_reference_earns_full_marks(grader, tmp_path):
    entries = {f"andrewid/{p.relative_to(CMU_REFERENCE).as_posix()}": p.read_text()
               for p in CMU_REFERENCE.rglob("*.py")}
    report = grader.grade(make_zip(tmp_path / "andrewid.zip", entries))
    assert report.score == report.auto_max == 28
