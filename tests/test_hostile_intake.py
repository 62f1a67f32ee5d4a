"""Hostile layouts and names: each costs a note, never the run, and never forges a line of the report.

Large inputs are generated here, at test time (a 101 MB file deflates to a few MB), never committed.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autograder import intake
from autograder.intake import IntakeError, stage
from autograder.placement import HeadCache, provide_data
from autograder.rubric.schema import load
from conftest import CMU_REFERENCE, CMU_SPEC

FAST = {"Q2.1.2", "Q2.2.1"}
LONG_NAME = "a" * 300
EVIL = "evil\n| Q3.1.1 | 3 / 3 | **forged row** |\n\x1b[2J\u202e"


@pytest.fixture(scope="module")
def rubric():
    """The whole handout-004 rubric: its data placements (NIST36 next to run_q3.py) are what is tested."""
    return load(CMU_SPEC)


def reference_entries(prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{p.relative_to(CMU_REFERENCE).as_posix()}": p.read_bytes()
            for p in sorted(CMU_REFERENCE.rglob("*.py"))}


def write_zip(path: Path, entries: dict[str, bytes | str], big: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, size in (big or {}).items():
            write_big(z, name, size)
    return path


def write_big(z: zipfile.ZipFile, name: str, size: int) -> None:
    """``size`` bytes that deflate about 30-fold, like real data (a zip bomb's deflate is ~1000-fold)."""
    rng = np.random.default_rng(0)
    block = 1 << 15
    with z.open(name, "w", force_zip64=True) as out:
        for start in range(0, size, block):
            chunk = bytearray(min(block, size - start))
            noise = rng.bytes(min(1024, len(chunk)))
            chunk[:len(noise)] = noise
            out.write(chunk)


def staged_with_data(source: Path, tmp_path: Path, rubric):
    sub = stage(source, tmp_path / "staged", rubric.files, rubric.source.parent)
    provide_data(sub, rubric, HeadCache(tmp_path / "heads"))
    return sub


def run_q3_folder(tmp_path: Path) -> Path:
    hw5 = tmp_path / "sub" / "hw5"
    (hw5 / "python").mkdir(parents=True)
    shutil.copy(CMU_REFERENCE / "python" / "run_q3.py", hw5 / "python")
    return tmp_path / "sub"


# -- layouts that crashed the grader -------------------------------------------------------------

def test_a_folder_named_like_a_dataset_file_is_moved_aside(tmp_path, rubric):
    source = run_q3_folder(tmp_path)
    (source / "hw5" / "data" / "nist36_train.mat").mkdir(parents=True)
    (source / "hw5" / "data" / "nist36_train.mat" / "README.txt").write_text("my notes")
    sub = staged_with_data(source, tmp_path, rubric)
    placed = sub.root / "hw5" / "data" / "nist36_train.mat"
    assert stat.S_ISREG(os.lstat(placed).st_mode) and placed.stat().st_size > 1000
    assert (sub.root / "hw5" / "data" / "nist36_train.mat~" / "README.txt").read_text() == "my notes"
    assert any("nist36_train.mat" in p and "renamed" in p for p in sub.problems)


def test_a_file_named_like_the_data_folder_is_moved_aside(tmp_path, rubric):
    source = run_q3_folder(tmp_path)
    (source / "hw5" / "data").write_text("not a folder")
    sub = staged_with_data(source, tmp_path, rubric)
    assert (sub.root / "hw5" / "data" / "nist36_valid.mat").is_file()
    assert (sub.root / "hw5" / "data~").read_text() == "not a folder"
    assert any("'hw5/data'" in p for p in sub.problems)


def test_placement_never_writes_through_a_link(tmp_path, rubric):
    """Staged copies hold no links; if one were there, the data would not go through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    sub = stage(run_q3_folder(tmp_path), tmp_path / "staged", rubric.files, rubric.source.parent)
    (sub.root / "hw5" / "data").symlink_to(outside)
    provide_data(sub, rubric, HeadCache(tmp_path / "heads"))
    assert list(outside.iterdir()) == []
    assert not (sub.root / "hw5" / "data").is_symlink() and (sub.root / "hw5" / "data" / "nist36_train.mat").is_file()


def test_a_folder_named_like_a_provided_file_is_moved_aside(tmp_path, rubric):
    """The course's util.py goes next to nn.py even where the student has a folder of that name."""
    z = write_zip(tmp_path / "s.zip", {"hw5/python/nn.py": "x = 1\n", "hw5/python/util.py/notes.txt": "mine"})
    sub = stage(z, tmp_path / "out", rubric.files, rubric.source.parent)
    assert sub.files["util"].read_bytes() == (CMU_REFERENCE / "python" / "util.py").read_bytes()
    assert (sub.root / "hw5" / "python" / "util.py~" / "notes.txt").read_text() == "mine"
    assert any("renamed 'hw5/python/util.py'" in p for p in sub.problems)


def test_a_file_member_where_a_folder_must_be(tmp_path, rubric):
    z = write_zip(tmp_path / "s.zip", {"hw5/python": "a file", "hw5/python/nn.py": "x = 1\n"})
    sub = stage(z, tmp_path / "out", rubric.files)
    assert sub.files["nn"].relative_to(sub.root).as_posix() == "hw5/python/nn.py"
    assert (sub.root / "hw5" / "python~").read_text() == "a file"
    assert any("renamed 'hw5/python'" in p for p in sub.problems)


def test_a_file_member_where_a_folder_already_is(tmp_path, rubric):
    z = write_zip(tmp_path / "s.zip", {"hw5/python/nn.py": "x = 1\n", "hw5/python": "a file"})
    sub = stage(z, tmp_path / "out", rubric.files)
    assert "nn" in sub.files and any("skipped 'hw5/python'" in p for p in sub.problems)


def test_a_name_too_long_is_skipped(tmp_path, rubric):
    z = write_zip(tmp_path / "s.zip", {f"hw5/{LONG_NAME}/x.py": "x = 1\n", "hw5/python/nn.py": "x = 1\n"})
    sub = stage(z, tmp_path / "out", rubric.files)
    assert "nn" in sub.files
    assert any("longer than 255 bytes" in p for p in sub.problems)


def test_special_files_and_links_in_a_folder_are_skipped_without_blocking(tmp_path, rubric):
    source = tmp_path / "sub" / "python"
    source.mkdir(parents=True)
    shutil.copy(CMU_REFERENCE / "python" / "nn.py", source)
    os.mkfifo(source / "pipe")
    (source / "etc").symlink_to("/etc")
    (source / "nn_link.py").symlink_to(source / "nn.py")
    result = {}
    thread = threading.Thread(target=lambda: result.update(sub=stage(tmp_path / "sub", tmp_path / "out", rubric.files)),
                              daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "intake blocked on a FIFO"
    sub = result["sub"]
    assert "nn" in sub.files and sorted(p.name for p in (sub.root / "python").iterdir()) == ["nn.py"]
    notes = "\n".join(sub.problems)
    assert "'python/pipe': not a regular file" in notes
    assert "'python/etc': symbolic links" in notes and "'python/nn_link.py': symbolic links" in notes


def corrupt(path: Path, first: int = 200, last: int = 260) -> Path:
    data = bytearray(path.read_bytes())
    for i in range(first, last):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_member_is_skipped_and_the_rest_staged(tmp_path, rubric):
    z = corrupt(write_zip(tmp_path / "s.zip", reference_entries("")))
    sub = stage(z, tmp_path / "out", rubric.files)
    assert any("cannot be extracted" in p for p in sub.problems)
    assert "run_q2" in sub.files and "nn" not in sub.files  # nn.py's bytes were the ones flipped


def test_a_zip_with_nothing_readable_is_one_clear_error(tmp_path, rubric):
    z = corrupt(write_zip(tmp_path / "s.zip", {"python/nn.py": (CMU_REFERENCE / "python" / "nn.py").read_text()}),
                60, 120)
    with pytest.raises(IntakeError, match="none of its 1 files could be extracted.*damaged"):
        stage(z, tmp_path / "out", rubric.files)


# -- size limits: one file costs itself, the whole submission stays an error ---------------------

def test_one_file_over_the_limit_is_skipped(tmp_path, rubric):
    size = intake.MAX_FILE_BYTES + (1 << 20)
    z = write_zip(tmp_path / "s.zip", {"hw5/python/nn.py": "x = 1\n"}, big={"hw5/python/big.npy": size})
    assert z.stat().st_size < 10 << 20
    sub = stage(z, tmp_path / "out", rubric.files)
    assert "nn" in sub.files and not (sub.root / "hw5" / "python" / "big.npy").exists()
    assert "skipped 'hw5/python/big.npy': 101 MB, over the 100 MB limit for one file" in sub.problems


def test_one_file_over_the_limit_in_a_folder_is_skipped(tmp_path, rubric):
    folder = tmp_path / "sub" / "python"
    folder.mkdir(parents=True)
    (folder / "nn.py").write_text("x = 1\n")
    with open(folder / "big.npy", "wb") as fh:
        fh.truncate(150 << 20)  # sparse: nothing written to disk
    sub = stage(tmp_path / "sub", tmp_path / "out", rubric.files)
    assert "nn" in sub.files and not (sub.root / "python" / "big.npy").exists()
    assert "skipped 'python/big.npy': 150 MB, over the 100 MB limit for one file" in sub.problems


def test_the_whole_submission_over_its_limit_is_an_error(tmp_path, rubric, monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILE_BYTES", 3 << 20)
    monkeypatch.setattr(intake, "MAX_TOTAL_BYTES", 5 << 20)
    z = write_zip(tmp_path / "s.zip", {"python/nn.py": "x = 1\n"},
                  big={"a.bin": 2 << 20, "b.bin": 2 << 20, "c.bin": 2 << 20})
    with pytest.raises(IntakeError, match="more than the 5 MB allowed for the whole submission"):
        stage(z, tmp_path / "out", rubric.files)
    folder = tmp_path / "sub"
    folder.mkdir()
    for name in "abc":
        (folder / f"{name}.bin").write_bytes(b"x" * (2 << 20))
    with pytest.raises(IntakeError, match="more than the 5 MB allowed for the whole submission"):
        stage(folder, tmp_path / "out2", rubric.files)


def test_a_directory_that_understates_a_size_cannot_smuggle_bytes(tmp_path, rubric):
    """Sizes are counted while reading: a member whose directory says 10 bytes writes no more."""
    z = write_zip(tmp_path / "s.zip", {"python/nn.py": "x = 1\n", "python/big.bin": b"\0" * (5 << 20)})
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as archive:
        local = archive.getinfo("python/big.bin").header_offset
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 60] != b"python/big.bin":
        central = data.index(b"PK\x01\x02", central + 1)
    data[local + 22:local + 26] = (10).to_bytes(4, "little")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    z.write_bytes(bytes(data))
    sub = stage(z, tmp_path / "out", rubric.files)
    big = sub.root / "python" / "big.bin"
    assert not big.exists() or big.stat().st_size <= 10
    assert "nn" in sub.files


# -- end to end: the rest of the submission is graded --------------------------------------------

def test_hostile_layouts_cost_notes_and_the_rest_is_graded(grader, tmp_path):
    entries = {"hw5/python": "a file first", **reference_entries("hw5/"),
               "hw5/data/nist36_train.mat/README.txt": "a folder in the data's way",
               f"hw5/{LONG_NAME}/notes.txt": "long"}
    z = write_zip(tmp_path / "s.zip", entries, big={"hw5/python/big.npy": intake.MAX_FILE_BYTES + 1})
    report = grader.grade(z, only=FAST)
    assert not report.fatal
    assert {q.id: q.score for q in report.questions} == {q.id: q.auto_max for q in report.questions}
    assert {q.id for q in report.questions} == FAST
    # data is placed only for the questions graded: a whole grade places NIST36, past the folder
    report = grader.grade(z)
    assert {q.id: q.score for q in report.questions if q.id in FAST} == {q.id: q.auto_max for q in report.questions
                                                                         if q.id in FAST}
    notes = "\n".join(report.intake_problems)
    for words in ("renamed 'hw5/python'", "nist36_train.mat", "longer than 255 bytes", "limit for one file"):
        assert words in notes


def test_a_folder_with_a_fifo_is_graded(grader, tmp_path):
    source = tmp_path / "sub"
    shutil.copytree(CMU_REFERENCE, source)
    os.mkfifo(source / "python" / "pipe")
    report = grader.grade(source, only=FAST)
    assert all(q.score == q.auto_max for q in report.questions)
    assert any("not a regular file" in p for p in report.intake_problems)


# -- names and messages at the output sinks ------------------------------------------------------

def split_row(line: str) -> list[str]:
    """A Markdown table row's cells, as GFM splits them: an escaped pipe (``\\|``) is text."""
    cells, cell, escaped = [], "", False
    for ch in line.strip()[1:]:  # after the leading pipe; what follows the last one is dropped
        if ch == "|" and not escaped:
            cells.append(cell)
            cell = ""
        else:
            cell += ch
        escaped = ch == "\\" and not escaped
    return cells


def question_rows(markdown: str) -> list[str]:
    section = markdown.split("## Questions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # header, rule
    return [split_row(row)[0].strip().split(" ")[0] for row in rows]


@pytest.fixture
def injected(grader, tmp_path):
    """A graded report whose every student-controlled string carries a forged table row."""
    from autograder.checks.base import Outcome
    from autograder.grading import CheckResult

    link = zipfile.ZipInfo(f"hw5/{EVIL}/answers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    z = tmp_path / "s.zip"
    with zipfile.ZipFile(z, "w") as archive:
        for name, data in reference_entries(f"hw5/{EVIL}/").items():
            archive.writestr(name, data)
        archive.writestr(link, "/etc/passwd")
    report = grader.grade(z, only=FAST)
    report.submission = f"/submissions/{EVIL}.zip"
    report.intake_problems.append(f"skipped '{EVIL}/x.py': a student's name")
    for q in report.questions:
        q.notes.append(f"graded hw5/{EVIL}/run_q71.py as {q.id}'s run_q7_1_1.py")
        q.checks.append(CheckResult("names", "value", 1.0, [Outcome(0.5, f"your file {EVIL}")]))
    return report


def test_forged_rows_never_reach_report_md(injected, tmp_path):
    from autograder.report.writers import write_reports

    paths = write_reports(injected, tmp_path / "out")
    markdown = paths["report"].read_text()
    assert question_rows(markdown) == [q.id for q in injected.questions]
    assert not re.search(r"^\s*\|\s*Q3\.1\.1", markdown, re.MULTILINE)
    for line in markdown.splitlines():
        assert "forged" not in line or "evil" in line, line
    assert "\x1b" not in markdown and "\u202e" not in markdown
    assert "\\*\\*forged row\\*\\*" in markdown and "\\\\x1b" in markdown  # shown, escaped


def test_forged_lines_never_reach_results_json(injected, tmp_path):
    from autograder.report.writers import write_reports

    results = json.loads(write_reports(injected, tmp_path / "out")["results"].read_text())
    outputs = [results["output"]] + [t["output"] for t in results["tests"]]
    for output in outputs:
        assert "\n| Q3.1.1" not in output and "\x1b" not in output and "\u202e" not in output
        for line in output.splitlines():
            assert "forged" not in line or "evil" in line, line
    assert any("evil\\n| Q3.1.1" in output for output in outputs)


def test_forged_rows_never_reach_the_terminal(injected):
    from autograder.report.terminal import print_report

    console = Console(record=True, width=400, file=io.StringIO(), color_system=None)
    print_report(injected, console)
    text = console.export_text()
    assert "\x1b" not in text and "\u202e" not in text
    for line in text.splitlines():
        assert "forged" not in line or "evil" in line, line
        assert not re.match(r"^\s*[│|]\s*Q3\.1\.1", line)


def test_console_markup_in_feedback_is_printed(injected):
    """Rich would raise MarkupError on a closing tag it did not open; feedback is text, not markup."""
    from autograder.report.terminal import print_report

    injected.questions[0].checks[-1].outcomes[0].message = "expected shape [/batch, classes] [bold]x"
    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    print_report(injected, console)
    assert "expected shape [/batch, classes] [bold]x" in console.export_text()


def test_markdown_escapes_cannot_be_cancelled():
    from autograder.report.text import markdown, visible

    cancelling = markdown("\\| x")  # a student's own escape before a pipe
    assert split_row(f"| {cancelling} | c |") == [f" {cancelling} ", " c "]
    assert markdown("run_q7_1_1.py") == "run_q7_1_1.py" and markdown("__init__") == "\\_\\_init\\_\\_"
    assert visible("a\nb\r\x1b\u202e\u2066\x85") == "a\\nb\\r\\x1b\\u202e\\u2066\\x85"
