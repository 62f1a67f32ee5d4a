"""``autograde batch``: a small class of handout-001 submissions graded in parallel, resumed, with the
late policy, a crash that costs one row, the gradebook layouts, and the same grades through Dask."""
from __future__ import annotations

import csv
import json
import os
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from autograder.batch import run_batch
from autograder.batch.discovery import DiscoveryError, discover, submission_hash
from autograder.batch.job import grade_student, rubric_digest
from autograder.batch.runner import plan
from autograder.batch.timestamps import read_times, submission_time
from autograder.cli import main
from autograder.rubric.schema import LatePolicy, load
from autograder.validation import apply_mutant, load_mutants
from conftest import ROOT

SPEC = ROOT / "specs" / "apl405-hw2.yaml"
REFERENCE = ROOT / "solution" / "apl405-hw2"
STARTER = ROOT / "specs" / "apl405-hw2" / "starter"
WRONG_BIAS = "output bias that never lets the output fire"  # a mutant that loses Q1
HAND_IN = ["q1_weights.yaml", "answers.yaml"]


def hand_in(dest: Path) -> Path:
    """The reference's Q1 weights and answers, without its notebooks (whose training takes minutes):
    a student who handed in questions 1-2 only."""
    dest.mkdir(parents=True)
    for name in HAND_IN:
        shutil.copy(REFERENCE / name, dest / name)
    return dest


def write_zip(folder: Path, target: Path, date_time=None) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time or (2023, 3, 1, 12, 0, 0))
            archive.writestr(info, path.read_bytes())
    return target


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """Six students: on time, 10 h late (a mutant), 60 h late (a zip), the starter without a time,
    a file that is not a zip, and a folder the grader crashes on (:func:`crashing_on_fay`)."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    subs.mkdir()
    hand_in(subs / "ada")
    (subs / "ada" / "timestamp.txt").write_text("2023-03-19T20:00:00+05:30\n")
    mutant = next(m for m in load_mutants(load(SPEC)) if m.name == WRONG_BIAS)
    apply_mutant(hand_in(root / "clean"), mutant, subs / "ben")
    (subs / "ben" / "timestamp.txt").write_text("2023-03-20T09:59:00+05:30")
    write_zip(hand_in(root / "cleo"), subs / "cleo.zip", date_time=(2023, 3, 22, 11, 59, 0))  # deadline's zone
    shutil.copytree(STARTER, subs / "dan")
    (subs / "eve.zip").write_text("this is not a zip file\n")
    hand_in(subs / "fay")
    return subs


def crashing_on_fay(spec, digest, submission, out, sandboxed=True, only=None):
    """The batch's job, with a grader bug that strikes one student (a named pipe in a folder once
    did; intake now skips those, so the fault is injected here)."""
    if Path(submission).name == "fay":
        raise RuntimeError("the grader choked on fay's pipe")
    return grade_student(spec, digest, submission, out, sandboxed, only)


def read_gradebook(out: Path, name: str = "gradebook.csv") -> dict[str, dict]:
    with open(out / name, newline="") as fh:
        return {row[next(iter(row))]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def first_run(klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = run_batch(klass, SPEC, out, jobs=2, progress=False, job=crashing_on_fay)
    return result, out


def test_every_student_gets_a_row_and_the_gradebook_matches_their_results(first_run):
    result, out = first_run
    assert sorted(result.graded) == ["ada", "ben", "cleo", "dan", "eve", "fay"] and result.skipped == []
    assert result.notes == [] and {"summary", "similarity"} <= set(result.paths)  # the class page, the pairs
    assert (out / "ada" / "report.html").is_file() and "ada/report.html" in (out / "summary.html").read_text()
    book = read_gradebook(out)
    rubric = load(SPEC)
    header = list(next(iter(book.values())))
    assert header[:3] == ["student", "submission", "status"]
    assert header[3:3 + len(rubric.questions)] == [q.id for q in rubric.questions]
    for student in ("ada", "ben", "cleo", "dan"):
        results = json.loads((out / student / "results.json").read_text())
        row = book[student]
        assert row["status"] == "graded"
        assert float(row["total"]) == pytest.approx(results["score"])
        for test in results["tests"]:
            assert float(row[test["number"]]) == pytest.approx(test["score"])
        for manual in results["extra_data"]["manual"]:
            assert row[manual["number"]] == ""  # for the TA to fill in
    full = float(book["ada"]["total"])  # the reference's Q1, Q2 and answer checks, no notebooks
    assert full >= 5 and float(book["cleo"]["total"]) == full and book["dan"]["total"] == "0"
    assert (book["ada"]["Q1"], book["ben"]["Q1"], book["ben"]["Q2"]) == ("3", "1.5", "2")
    assert float(book["ben"]["total"]) == pytest.approx(full - 1.5)


def test_a_broken_zip_and_a_grader_crash_cost_one_row_each(first_run):
    result, out = first_run
    book = read_gradebook(out)
    assert book["eve"]["status"] == "unreadable" and book["eve"]["total"] == book["eve"]["final"] == "0"
    assert "not a zip file" in book["eve"]["note"] and book["eve"]["Q1"] == ""  # nothing was graded
    assert book["fay"]["status"] == "error" and book["fay"]["total"] == "" and book["fay"]["final"] == ""
    assert "grading crashed" in book["fay"]["note"] and "pipe" in book["fay"]["note"]
    assert result.errors == ["fay"]
    assert not (out / "fay" / "results.json").exists()
    assert "pipe" in (out / "fay" / "error.txt").read_text()  # what the class page shows
    # an import must not blank a mark: the crashed student is left out of the LMS files, and an
    # unreadable upload is no grade to import either
    for student in ("eve", "fay"):
        assert student not in read_gradebook(out, "gradebook-canvas.csv")
        assert student not in {r["SID"] for r in csv.DictReader(open(out / "gradebook-gradescope.csv"))}


def test_late_policy_from_timestamp_file_and_zip_metadata(first_run):
    _, out = first_run
    book = read_gradebook(out)
    ada, ben, cleo, dan = (book[s] for s in ("ada", "ben", "cleo", "dan"))
    full = float(ada["total"])
    assert (ada["time_source"], ada["late_factor"], ada["late_penalty"]) == ("timestamp.txt", "1", "0")
    assert float(ada["final"]) == full
    assert (ben["time_source"], ben["late_factor"], ben["hours_late"]) == ("timestamp.txt", "0.5", "10")
    assert float(ben["late_penalty"]) == float(ben["final"]) == pytest.approx((full - 1.5) / 2)
    assert (cleo["time_source"], cleo["late_factor"], cleo["hours_late"]) == ("zip metadata", "0", "60")
    assert (float(cleo["late_penalty"]), cleo["final"]) == (full, "0")
    assert dan["time_source"] == "none" and dan["late_factor"] == "1" and "on time" in dan["note"]


def test_canvas_and_gradescope_layouts_hold_the_final_mark(first_run):
    _, out = first_run
    with open(out / "gradebook-canvas.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", load(SPEC).title]
    finals = {s: r["final"] for s, r in read_gradebook(out).items() if s not in ("eve", "fay")}  # no grades
    assert finals["cleo"] == "0" and finals["ben"] != finals["ada"]
    assert {r[0]: r[5] for r in rows[1:]} == finals
    assert all(r[3] == r[0] for r in rows[1:])
    with open(out / "gradebook-gradescope.csv", newline="") as fh:
        scores = {r["SID"]: r["Score"] for r in csv.DictReader(fh)}
    assert scores == finals


def test_a_rerun_grades_only_what_changed_and_new_times_need_no_regrade(klass, first_run, tmp_path):
    _, out = first_run
    before = {s: (out / s / "results.json").stat().st_mtime_ns for s in ("ada", "ben", "cleo")}
    times = tmp_path / "times.csv"
    times.write_text("student,submitted\ncleo,2023-03-19T23:00:00+05:30\ndan,2023-03-21T22:59:00+05:30\n")
    again = run_batch(klass, SPEC, out, jobs=2, times=times, progress=False, job=crashing_on_fay)
    assert again.graded == ["fay"]  # only the crash is retried
    assert sorted(again.skipped) == ["ada", "ben", "cleo", "dan", "eve"]
    assert {s: (out / s / "results.json").stat().st_mtime_ns for s in before} == before
    book = read_gradebook(out)
    assert (book["cleo"]["time_source"], book["cleo"]["final"]) == ("times.csv", book["ada"]["total"])  # CSV first
    assert (book["dan"]["time_source"], book["dan"]["late_factor"], book["dan"]["hours_late"]) == \
        ("times.csv", "0.5", "47")

    (klass / "ben" / "q1_weights.yaml").write_text((REFERENCE / "q1_weights.yaml").read_text())  # fixed
    third = run_batch(klass, SPEC, out, jobs=2, progress=False, job=crashing_on_fay)
    assert sorted(third.graded) == ["ben", "fay"]
    assert read_gradebook(out)["ben"]["total"] == read_gradebook(out)["ada"]["total"]
    students = discover(klass)
    assert [len(plan(students, out, load(SPEC).digest, None, force=f)[0]) for f in (False, True)] == [1, 6]


def test_a_student_removed_since_the_last_run_is_on_no_page(klass, tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    for name in ("ada", "dan"):
        shutil.copytree(klass / name, subs / name)
    shutil.copyfile(klass / "eve.zip", subs / "eve.zip")
    out = tmp_path / "out"
    first = run_batch(subs, SPEC, out, jobs=1, progress=False, only=["Q1"], similarity_threshold=None)
    assert len(first.rows) == 3
    (subs / "eve.zip").unlink()
    again = run_batch(subs, SPEC, out, jobs=1, progress=False, only=["Q1"], similarity_threshold=None)
    assert [r.student.id for r in again.rows] == ["ada", "dan"]
    students = (out / "summary.html").read_text().split("<h2>Students</h2>")[1]
    assert "eve" not in students and "ada" in students
    assert "eve" not in (out / "gradebook.csv").read_text()


def test_the_same_grades_through_a_dask_cluster(klass, first_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    local = read_gradebook(first_run[1])  # as the last local run left it (an earlier test edits ben)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = run_batch(klass, SPEC, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False,
                           job=crashing_on_fay)
    remote = read_gradebook(tmp_path / "dask")
    columns = ["status", "Q1", "Q2", "total", "final", "time_source"]
    assert {s: [r[c] for c in columns] for s, r in remote.items()} == \
        {s: [r[c] for c in columns] for s, r in local.items()}
    workers = {r.summary.get("worker") for r in result.rows if r.summary.get("status") == "graded"}
    assert len(workers) == 2 and all(w.split(":")[1] != str(os.getpid()) for w in workers)


def test_a_worker_with_another_rubric_reports_an_error_instead_of_grading(tmp_path):
    summary = grade_student(str(SPEC), "0" * 64, str(REFERENCE), str(tmp_path / "out"))
    assert summary["status"] == "error" and "same rubric" in summary["message"]
    assert not (tmp_path / "out").exists()
    assert rubric_digest(SPEC) == load(SPEC).digest


def test_cli_batch_writes_the_gradebooks(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    write_zip(hand_in(tmp_path / "john"), subs / "smithjohn_12345_67890_hw2.zip")
    code = main(["batch", str(subs), "--spec", str(SPEC), "-j", "1", "--out", str(tmp_path / "out"),
                 "--id-pattern", r"(?P<id>[a-z]+)_(?P<canvas_id>\d+)_"])
    assert code == 0
    assert "1 graded now" in capsys.readouterr().out
    canvas = read_gradebook(tmp_path / "out", "gradebook-canvas.csv")
    assert canvas["smithjohn"]["ID"] == "12345" and (tmp_path / "out" / "smithjohn" / "report.md").is_file()


# -- the pieces -----------------------------------------------------------------------------------
def test_discovery_takes_ids_from_lms_names_and_refuses_duplicates(tmp_path):
    (tmp_path / "smithjohn_12345_67890_hw2.zip").write_bytes(b"")
    (tmp_path / "doejane_555_1_hw2").mkdir()
    (tmp_path / "notes.txt").write_text("not a submission")
    (tmp_path / "__MACOSX").mkdir()
    assert [s.id for s in discover(tmp_path)] == ["doejane_555_1_hw2", "smithjohn_12345_67890_hw2"]
    students = discover(tmp_path, r"(?P<id>[a-z]+)_(?P<canvas_id>\d+)_")
    assert [(s.id, s.extra["canvas_id"]) for s in students] == [("doejane", "555"), ("smithjohn", "12345")]
    (tmp_path / "smithjohn_999_2_hw2_late.zip").write_bytes(b"")
    with pytest.raises(DiscoveryError, match="both give student id 'smithjohn'"):
        discover(tmp_path, r"(?P<id>[a-z]+)_")
    with pytest.raises(DiscoveryError, match="named group"):
        discover(tmp_path, r"([a-z]+)_")


def test_canvas_late_files_keep_their_students_id(tmp_path):
    """Canvas names a file handed in late kimbo_late_45678_90123_hw5.zip: with the README's pattern
    its id is kimbo (not "late"), its Canvas id 45678."""
    (tmp_path / "kimbo_late_45678_90123_hw5.zip").write_bytes(b"")
    (tmp_path / "smithjohn_12345_67890_hw5.zip").write_bytes(b"")
    students = discover(tmp_path, r"(?P<id>[a-z]+)_(?P<canvas_id>[0-9]+)_")
    assert [(s.id, s.extra["canvas_id"], s.extra.get("canvas_late")) for s in students] == [
        ("kimbo", "45678", "late"), ("smithjohn", "12345", None)]


def test_submission_hash_follows_content_not_mtime(tmp_path):
    folder = shutil.copytree(REFERENCE, tmp_path / "a")
    first = submission_hash(folder)
    os.utime(folder / "answers.yaml", (1, 1))
    assert submission_hash(folder) == first
    (folder / "answers.yaml").write_text("changed")
    assert submission_hash(folder) != first
    (folder / "answers.yaml").rename(folder / "renamed.yaml")
    assert submission_hash(folder) not in (first,)
    zipped = write_zip(REFERENCE, tmp_path / "a.zip")
    assert submission_hash(zipped) == submission_hash(write_zip(REFERENCE, tmp_path / "b.zip"))


def test_late_policy_tiers_grace_and_validation():
    policy = LatePolicy.model_validate({"deadline": "2023-03-19T23:59:00+05:30", "grace_minutes": 10,
                                        "tiers": [{"within_hours": 24, "factor": 0.8},
                                                  {"within_hours": 48, "factor": 0.5}], "after": 0.1})
    due = policy.deadline
    factors = [policy.factor(due + timedelta(hours=h)) for h in (-5, 0.1, 0.2, 24.1, 24.2, 48.1, 48.2, 1000)]
    assert factors == [1, 1, 0.8, 0.8, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="timezone"):
        LatePolicy.model_validate({"deadline": "2023-03-19T23:59:00"})
    with pytest.raises(ValueError, match="increasing"):
        LatePolicy.model_validate({"deadline": "2023-03-19T23:59:00Z", "tiers": [
            {"within_hours": 48, "factor": 0.5}, {"within_hours": 24, "factor": 0.8}]})
    apl = load(SPEC).late
    assert apl.factor(apl.deadline + timedelta(hours=47)) == 0.5 and apl.factor(apl.deadline + timedelta(hours=49)) == 0


def test_times_csv_comes_before_timestamp_file_which_comes_before_zip_metadata(tmp_path):
    zone = load(SPEC).late.deadline.tzinfo
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("a.py", (2023, 3, 20, 1, 0, 0)), "x = 1")
        z.writestr(zipfile.ZipInfo("sub/timestamp.txt", (2023, 3, 25, 1, 0, 0)), "2023-03-19 08:00")
    times = tmp_path / "t.csv"
    times.write_text("s,2023-03-18T10:00:00Z\nt,yesterday\n")
    table = read_times(times)
    assert submission_time("s", archive, table, zone).source == "times.csv"
    from_file = submission_time("x", archive, table, zone)
    assert from_file.source == "timestamp.txt" and from_file.when.isoformat() == "2023-03-19T08:00:00+05:30"
    bad = submission_time("t", archive, table, zone)
    assert bad.source == "timestamp.txt" and "not an ISO time" in bad.note
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr(zipfile.ZipInfo("a.py", (2023, 3, 20, 1, 0, 0)), "x = 1")
        z.writestr(zipfile.ZipInfo("b.py", (2023, 3, 21, 2, 0, 0)), "y = 1")
    newest = submission_time("x", tmp_path / "plain.zip", {}, zone)
    assert newest.source == "zip metadata" and newest.when.isoformat() == "2023-03-21T02:00:00+05:30"


def dying_job(spec, digest, submission, out, sandboxed, only):
    """A grading process that dies (as the OOM killer would end it) on the submission named boom."""
    if Path(submission).name == "boom":
        os._exit(9)
    return grade_student(spec, digest, submission, out, sandboxed, only)


def test_a_grading_process_that_dies_costs_only_its_student(tmp_path):
    from autograder.batch.runner import Task, grade_locally

    for name in ("a", "b", "boom"):
        hand_in(tmp_path / "subs" / name)
    tasks = [Task(s, submission_hash(s.path), tmp_path / "out" / s.id) for s in discover(tmp_path / "subs")]
    done = dict((t.student.id, s) for t, s in grade_locally(tasks, SPEC, load(SPEC).digest, True, None, 1,
                                                            None, False, job=dying_job))
    assert [done[s]["status"] for s in ("a", "b")] == ["graded", "graded"]
    assert done["boom"]["status"] == "error"  # tried on a second process, which died too
    assert "process died (exit code 9) while grading this submission, on 2 processes" in done["boom"]["message"]
