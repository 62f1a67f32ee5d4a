"""``autograde batch`` against what must not stop a class: a student whose grading hangs (in a
blocking read, or deaf to SIGTERM as in C code), a grading process that exits, a parent that dies;
damaged uploads, which are no grades; temp folders, which must all be gone at the end; a class page
that lists this run's students only."""
from __future__ import annotations

import csv
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from autograder.batch import run_batch
from autograder.batch.discovery import discover, submission_hash
from autograder.batch.job import cached_grader
from autograder.batch.pool import SupervisedPool
from autograder.batch.runner import Task, grade_locally
from autograder.rubric.schema import load
from autograder.tempdirs import owner_pid
from conftest import ROOT

APL = ROOT / "specs" / "apl405-hw2.yaml"
CMU = ROOT / "specs" / "cmu-hw5.yaml"
CMU_SUBMISSIONS = ROOT / "fixtures" / "submissions" / "cmu-hw5"
QUICK = ["Q2.1.2", "P1"]  # one function check, and the deduction for a forbidden import
LIMIT_S = 3.0


def quick_summary() -> dict:
    return {"status": "graded", "message": "", "score": 1.0, "auto_max": 1.0, "questions": {},
            "worker": f"test:{os.getpid()}"}


def hanging_job(spec, digest, submission, out, sandboxed, only):
    """Returns at once, except for students named hang*: they hang inside the grader in a read
    nobody answers, having started a helper process in its own session (as sandbox workers run).
    hang-deaf ignores SIGTERM, as a loop in C code would."""
    name = Path(submission).name
    if not name.startswith("hang"):
        return quick_summary()
    grader, _ = cached_grader(spec, digest, sandboxed)
    helper = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "pids").write_text(f"{os.getpid()} {helper.pid}\n{grader._tmp}")
    if name == "hang-deaf":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    read_end, _ = os.pipe()
    os.read(read_end, 1)
    return quick_summary()


def exiting_job(spec, digest, submission, out, sandboxed, only):
    if Path(submission).name == "quits":
        os._exit(1)
    return quick_summary()


def sleeping_job(folder, index):
    """For the parent-death test: note this process's pid, then sleep (interruptible) for ever."""
    Path(folder, f"{index}.pid").write_text(str(os.getpid()))
    time.sleep(10**6)


def alive(pid: int) -> bool:
    """Running (a zombie counts as gone: it holds nothing but its pid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def forkserver_children() -> list[int]:
    """Live processes the multiprocessing fork server started for us (our grading processes)."""
    psutil = pytest.importorskip("psutil")
    found = []
    for child in psutil.Process().children():
        if "forkserver" in " ".join(child.cmdline()):
            found += [p.pid for p in child.children(recursive=True) if alive(p.pid)]
    return found


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def tasks_for(folder: Path, names: list[str], out: Path) -> list[Task]:
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "answers.yaml").write_text(f"student: {name}\n")
    return [Task(s, submission_hash(s.path), out / s.id) for s in discover(folder)]


# -- a student must never stop a class ------------------------------------------------------------
def test_a_student_whose_grading_hangs_is_stopped_and_the_others_are_graded(tmp_path):
    names = ["a", "b", "hang", "c", "hang-deaf", "d"]
    tasks = tasks_for(tmp_path / "subs", names, tmp_path / "out")
    started = time.monotonic()
    done = {t.student.id: s for t, s in grade_locally(tasks, APL, load(APL).digest, True, None, 2, None, False,
                                                      job=hanging_job, timeout=LIMIT_S)}
    assert time.monotonic() - started < 60
    assert sorted(done) == sorted(names)
    assert all(done[s]["status"] == "graded" for s in "abcd")
    for student in ("hang", "hang-deaf"):
        assert done[student]["status"] == "error"
        assert done[student]["message"] == f"grading took longer than {LIMIT_S:g} s and was stopped"
        pids, folder = (tmp_path / "out" / student / "pids").read_text().splitlines()
        worker, helper = map(int, pids.split())
        assert wait_until(lambda: not alive(worker) and not alive(helper), 10), student
        assert not Path(folder).exists()  # the grader's temp folder (with the staged reference)
    workers = {int(done[s]["worker"].split(":")[1]) for s in "abcd"}
    assert wait_until(lambda: not any(alive(p) for p in workers) and not forkserver_children(), 10)


def test_a_grading_process_that_exits_costs_only_its_student(tmp_path):
    tasks = tasks_for(tmp_path / "subs", ["a", "quits", "b", "c"], tmp_path / "out")
    done = {t.student.id: s for t, s in grade_locally(tasks, APL, load(APL).digest, True, None, 2, None, False,
                                                      job=exiting_job, timeout=60)}
    assert [done[s]["status"] for s in ("a", "b", "c")] == ["graded"] * 3
    assert done["quits"]["status"] == "error"
    assert "grading process died (exit code 1) while grading this submission" in done["quits"]["message"]
    assert wait_until(lambda: not forkserver_children(), 10)


def test_grading_processes_exit_when_the_batch_process_dies(tmp_path):
    script = ("import multiprocessing, sys; sys.path.insert(0, sys.argv[1]); "
              "from autograder.batch.pool import SupervisedPool; from test_batch_hostile import sleeping_job; "
              "pool = SupervisedPool(multiprocessing.get_context('forkserver'), 2, sleeping_job, 600); "
              "[None for _ in pool.imap([(i, (sys.argv[2], i)) for i in range(2)])]")
    batch = subprocess.Popen([sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path)], cwd=ROOT)
    try:
        assert wait_until(lambda: all((tmp_path / f"{i}.pid").is_file() for i in range(2)), 60)
        pids = [int((tmp_path / f"{i}.pid").read_text()) for i in range(2)]
        assert all(alive(p) for p in pids)
    finally:
        batch.kill()
        batch.wait()
    assert wait_until(lambda: not any(alive(p) for p in pids), 20)


def test_the_pool_gives_up_on_processes_that_cannot_start(tmp_path):
    pool = SupervisedPool(multiprocessing.get_context("forkserver"), 2, exiting_job, 60,
                          initializer=os._exit, initargs=(3,))
    results = dict(pool.imap([(i, ("", "", str(i), "", True, None)) for i in range(5)]))
    assert sorted(results) == list(range(5))
    assert all(r["status"] == "error" and "no grading process could start (died (exit code 3))" in r["message"]
               for r in results.values())
    assert 3 <= len(pool.pids) <= 4 and not any(alive(p) for p in pool.pids)  # two at a time


# -- temp folders -------------------------------------------------------------------------------
def can_unshare() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                          capture_output=True).returncode == 0


LEFTOVERS = re.compile(r"^(autograde-|submission-|agk-)")


def test_a_batch_leaves_no_temp_folders():
    """The batch in a process of its own, with TMPDIR a fresh folder and, where it can be arranged
    (root), a fresh /tmp too (a private mount namespace), so other work on this machine cannot
    blur the picture. Neither may hold anything of ours afterwards."""
    work = Path(tempfile.mkdtemp(prefix="batch-tmp-test-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        subs, tmpdir, system_tmp = work / "subs", work / "tmpdir", work / "system-tmp"
        for path in (subs, tmpdir, system_tmp):
            path.mkdir()
        for name in ("alice", "bob.zip", "mallory"):
            (shutil.copytree if (CMU_SUBMISSIONS / name).is_dir() else shutil.copy)(CMU_SUBMISSIONS / name, subs / name)
        code = ("import sys; from autograder.batch import run_batch; "
                "r = run_batch(sys.argv[1], sys.argv[2], sys.argv[3], jobs=2, only=['Q2.1.2'], progress=False); "
                "print([(x.student.id, x.summary.get('status')) for x in r.rows]); sys.exit(1 if r.errors else 0)")
        command = [sys.executable, "-c", code, str(subs), str(CMU), str(work / "out")]
        private = (str(work).startswith("/var/tmp/") and not str(ROOT).startswith("/tmp/")
                   and not os.environ.get("AUTOGRADE_DATA", "").startswith("/tmp/") and can_unshare())
        if private:
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$0" /tmp && exec "$@"', str(system_tmp), *command]
        before = set(os.listdir(tempfile.gettempdir()))
        run = subprocess.run(command, cwd=ROOT, env=dict(os.environ, TMPDIR=str(tmpdir)),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "('bob', 'graded')" in run.stdout
        assert [n for n in os.listdir(tmpdir) if LEFTOVERS.match(n)] == []
        if private:
            assert [n for n in os.listdir(system_tmp) if LEFTOVERS.match(n)] == []
        else:  # the shared /tmp: new folders, less those of live processes (other work here)
            new = set(os.listdir(tempfile.gettempdir())) - before
            assert [n for n in new if LEFTOVERS.match(n) and not alive(owner_pid(n) or 0)] == []
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- damaged uploads are not grades; the class page shows this run ------------------------------
@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """bob (a real grade), neg (a forbidden import: -5 on 1 point), and four unreadable uploads."""
    root = tmp_path_factory.mktemp("damaged")
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(CMU_SUBMISSIONS / "bob.zip", subs / "bob.zip")
    with zipfile.ZipFile(CMU_SUBMISSIONS / "bob.zip") as archive:
        archive.extractall(root / "x")
    shutil.copytree(root / "x" / "bob", subs / "neg")
    nn = subs / "neg" / "python" / "nn.py"
    nn.write_text("import requests\n" + nn.read_text())
    whole = (CMU_SUBMISSIONS / "bob.zip").read_bytes()
    (subs / "truncated.zip").write_bytes(whole[:len(whole) // 2])
    zipfile.ZipFile(subs / "empty.zip", "w").close()
    (subs / "notzip.zip").write_text("this is not a zip file\n")
    (subs / "nothing").mkdir()
    out = root / "out"
    result = run_batch(subs, CMU, out, jobs=2, only=QUICK, progress=False, similarity_threshold=None)
    return subs, out, result


UNREADABLE = {"truncated": "not a zip file", "empty": "empty", "notzip": "not a zip file", "nothing": "empty"}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_damaged_uploads_are_left_out_of_the_imports_and_count_zero(damaged):
    _, out, result = damaged
    book = {r["student"]: r for r in read_csv(out / "gradebook.csv")}
    assert book["bob"]["status"] == "graded" and float(book["bob"]["total"]) > 0
    for student, reason in UNREADABLE.items():
        row = book[student]
        assert (row["status"], row["total"], row["final"], row["P1"]) == ("unreadable", "0", "0", ""), student
        assert reason in row["note"], student
    assert [r["Student"] for r in read_csv(out / "gradebook-canvas.csv")] == ["bob", "neg"]
    assert [r["SID"] for r in read_csv(out / "gradebook-gradescope.csv")] == ["bob", "neg"]
    assert result.errors == []


def test_no_total_is_negative(damaged):
    _, out, _ = damaged
    book = {r["student"]: r for r in read_csv(out / "gradebook.csv")}
    assert book["neg"]["P1"] == "-5" and book["neg"]["total"] == book["neg"]["final"] == "0"  # 1 - 5, floored
    finals = [list(r.values())[-1] for r in read_csv(out / "gradebook-canvas.csv")] + \
             [r["Score"] for r in read_csv(out / "gradebook-gradescope.csv")] + \
             [r[c] for r in book.values() for c in ("total", "final", "late_penalty")]
    assert all(float(x) >= 0 for x in finals if x)
    students = (out / "summary.html").read_text().split("<h2>Students</h2>")[1]
    assert not re.search(r'<td class="num">-\d', students)


def test_the_class_page_lists_unreadable_uploads_first_with_their_reason(damaged):
    _, out, _ = damaged
    text = " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ", (out / "summary.html").read_text(), flags=re.S).split())
    assert "6 students, 2 graded, 4 unreadable" in text
    top = text.index("Unreadable submissions")
    assert top < text.index("Questions") < text.index("Students")
    listed = text[top:text.index("Questions")]
    for student, reason in UNREADABLE.items():
        assert re.search(rf"\b{student} {student}(\.zip)?: [^;]*{reason}", listed), student
    assert "mean median min max" in text  # the statistics are of bob and neg only


def test_the_class_page_lists_this_runs_students_only(damaged, tmp_path):
    subs, out, _ = damaged
    ghost = out / "ghost"  # left by an earlier run, whose submission is gone
    ghost.mkdir()
    (ghost / "error.txt").write_text("grading crashed: Traceback (most recent call last): old\n")
    (subs / "truncated.zip").unlink()
    again = run_batch(subs, CMU, out, jobs=1, only=QUICK, progress=False, similarity_threshold=None)
    assert len(again.rows) == 5 and again.graded == []  # nothing changed for the others
    page = (out / "summary.html").read_text()
    assert "5 students, 2 graded, 3 unreadable" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "ghost" not in page and "truncated" not in page and "Traceback" not in page


def test_a_student_whose_grading_hangs_on_a_dask_cluster_is_stopped(tmp_path):
    distributed = pytest.importorskip("distributed")
    from autograder.batch.runner import grade_on_cluster

    tasks = tasks_for(tmp_path / "subs", ["a", "hang", "b"], tmp_path / "out")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        done = {t.student.id: s for t, s in grade_on_cluster(tasks, APL, load(APL).digest, True, None,
                                                             cluster.scheduler_address, None, False,
                                                             job=hanging_job, timeout=LIMIT_S)}
    assert (done["a"]["status"], done["b"]["status"]) == ("graded", "graded")
    assert done["hang"] == {"status": "error", "message": f"grading took longer than {LIMIT_S:g} s and was stopped"}
    pids, folder = (tmp_path / "out" / "hang" / "pids").read_text().splitlines()
    worker, helper = map(int, pids.split())
    os.kill(helper, signal.SIGKILL)  # ours, not the grader's: a Dask worker's strays are not tracked
    assert wait_until(lambda: not alive(worker), 10)  # restarted by its nanny
    assert not Path(folder).exists()  # swept on that machine once the worker was gone
