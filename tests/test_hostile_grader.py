"""Attacks on the grader itself, which runs as root outside the sandbox: each is a submission (or the
piece of one the grader reads) with its expected outcome. Nothing a student sends may move a
deadline, grow the grader without bound, make it follow a path, or crash it; a grade leaves nothing
behind on the host, and nothing of the reference is readable by other users.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import CMU_SPEC, ROOT, requires_sandbox
from test_notebooks import write_course

# Student-side helpers: the reply pipe's descriptor is on the worker's command line.
FORGE = '''
def _resp_fd():
    args = open('/proc/self/cmdline', 'rb').read().split(b'\\0')
    return int(args[args.index(b'--resp-fd') + 1])


def _frame(head, payload=b''):
    import json, struct
    data = json.dumps(head).encode()
    return struct.pack('<II', len(data), len(payload)) + data + payload
'''

HEARTBEAT_SIGMOID = '''def sigmoid(x):
    import os, time
    fd = _resp_fd()
    started = time.time()
    while {forever} or time.time() - started < 20:
        os.write(fd, _frame({{"event": "importing", "module": "nn"}}))
        time.sleep(0.5)
    return 1 / (1 + np.exp(-x))
'''


def grade_within(grader, source, limit_s: float, **kw):
    """Grade in a thread; fail (instead of hanging the suite) if it does not return in time."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(report=grader.grade(source, **kw)), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"the grade did not return within {limit_s} s"
    return box["report"], time.monotonic() - started


def feedback(report, qid) -> str:
    return "\n".join(report.question(qid).feedback)


# ------------------------------------------------------------------------------------- 1 deadlines

def test_a_forged_heartbeat_does_not_extend_the_deadline(grader, make_submission):
    sub = make_submission({"sigmoid": HEARTBEAT_SIGMOID.format(forever="False")}, prelude=FORGE)
    report, seconds = grade_within(grader, sub, 120, only={"Q2.2.1"})
    assert report.question("Q2.2.1").score == 0  # 20 s of "importing" frames against a 5 s budget
    assert "timed out" in feedback(report, "Q2.2.1")


def test_a_heartbeat_forever_still_ends_the_grade(grader, make_submission):
    sub = make_submission({"sigmoid": HEARTBEAT_SIGMOID.format(forever="True")}, prelude=FORGE)
    report, seconds = grade_within(grader, sub, 180, only={"Q2.2.1", "Q2.1.2"})
    assert report.question("Q2.2.1").score == 0 and "timed out" in feedback(report, "Q2.2.1")
    assert report.question("Q2.1.2").score == report.question("Q2.1.2").auto_max  # untouched


def test_a_question_ceiling_stops_what_budgets_allow(cmu_rubric, make_submission):
    """Each probe within its own budget, yet the question as a whole past its ceiling: the cases
    left are not run, and the grade goes on."""
    from autograder.grading import Grader

    rubric = cmu_rubric.model_copy(deep=True)
    rubric.source, rubric.digest = cmu_rubric.source, cmu_rubric.digest
    rubric.question("Q2.2.1").ceiling_s = 6
    slow = "def sigmoid(x):\n    import time\n    time.sleep(2)\n    return 1 / (1 + np.exp(-x))\n"
    with Grader(rubric) as grader:
        report, seconds = grade_within(grader, make_submission({"sigmoid": slow}), 120, only={"Q2.2.1"})
    assert "time ceiling of 6 s ran out" in feedback(report, "Q2.2.1")
    assert seconds < 60


def test_a_batch_with_a_heartbeat_forever_student_finishes(tmp_path, make_submission):
    from autograder.batch.runner import run_batch

    subs = tmp_path / "class"
    subs.mkdir()
    good = make_submission(name="alice")
    bad = make_submission({"sigmoid": HEARTBEAT_SIGMOID.format(forever="True")}, prelude=FORGE, name="eve")
    for path in (good, bad):
        path.rename(subs / path.name)
    result = run_batch(subs, CMU_SPEC, out=tmp_path / "out", jobs=2, only=["Q2.2.1"], progress=False,
                       similarity_threshold=None)
    rows = {r.student.id: r.summary for r in result.rows}
    assert rows["alice"]["questions"]["Q2.2.1"] == 4
    assert rows["eve"]["status"] == "graded" and rows["eve"]["questions"]["Q2.2.1"] == 0


# ------------------------------------------------------------------------------------- 4 reply bombs

def test_a_forged_reply_bomb_is_refused_before_it_is_unpacked(grader, make_submission):
    """sigmoid writes answers for the next request ids itself: an .npz of a few KB that declares 4 GB."""
    code = '''def sigmoid(x):
    import io, os, time, zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("a0.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (500_000_000,)})
        fh.write(bytes(1 << 20))
    payload = buf.getvalue()
    for rid in range(1, 40):
        os.write(_resp_fd(), _frame({"id": rid, "ok": True, "value": {"__array__": "a0"}}, payload))
    time.sleep(30)
'''
    before = _peak_rss_mb()
    report, _ = grade_within(grader, make_submission({"sigmoid": code}, prelude=FORGE), 120, only={"Q2.2.1"})
    q = report.question("Q2.2.1")
    sigmoid = next(c for c in q.checks if c.label == "sigmoid on random inputs")
    assert sigmoid.fraction == 0 and "more than 256 MB" in feedback(report, "Q2.2.1")
    assert _peak_rss_mb() - before < 1024, "the grader unpacked the bomb"


def test_frames_are_checked_before_loading():
    import io

    import numpy as np

    from autograder.worker import protocol

    bomb = io.BytesIO()  # 300 MB of zeros in well under 1 MB
    np.savez_compressed(bomb, a0=np.zeros(300 << 17))
    assert len(bomb.getvalue()) < 1 << 20
    with pytest.raises(protocol.FrameError, match="more than 256 MB"):
        protocol.parse_frame(b'{"value": {"__array__": "a0"}}', bomb.getvalue(), max_bytes=256 << 20)
    objects = io.BytesIO()
    np.savez(objects, a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(protocol.FrameError, match="object"):
        protocol.parse_frame(b'{"value": null}', objects.getvalue(), max_bytes=1 << 20)
    for head in (b"[" * 100_000, b"[]", b"\xff", b'{"value": {"__array__": "missing"}}'):
        with pytest.raises(protocol.FrameError):
            protocol.parse_frame(head, b"", max_bytes=1 << 20)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------- 2, 3, 5 notebooks

def test_the_notebook_reply_file_cannot_be_replaced(tmp_path):
    """A cell replaces the kernel-side helper: it tries to put a symlink (to /dev/zero, to a root-only
    host file) or a FIFO where the grader reads the reply. None of it can happen, and the host
    file's contents appear nowhere."""
    secret = tmp_path / "host-secret.txt"
    token = secrets.token_hex(16)
    secret.write_text(token)
    os.chmod(secret, 0o600)
    attack = f'''import os, sys
def evil(request_path, reply_path):
    for make in (lambda: os.symlink({str(secret)!r}, reply_path), lambda: os.symlink("/dev/zero", reply_path),
                 lambda: os.mkfifo(reply_path)):
        try:
            os.unlink(reply_path)
        except OSError:
            pass
        try:
            make()
        except OSError:
            pass
sys.modules["agworker.notebook"].serve = evil'''
    spec = write_course(tmp_path, ["import numpy as np\ndef f(x):\n    return 2 * x", attack, "later = 1"])
    from autograder.grading import Grader
    from autograder.report.writers import write_reports

    with Grader(spec) as grader:
        report, seconds = grade_within(grader, tmp_path / "student", 240)
        write_reports(report, tmp_path / "out")
    assert report.question("Q1").score == 0
    assert "no reply" in feedback(report, "Q1") or "replaced" in feedback(report, "Q1")
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path


def test_the_grader_reads_only_its_own_regular_reply_file(tmp_path):
    from autograder.notebooks import _create, _read_reply

    secret = tmp_path / "secret"
    secret.write_text("HOST SECRET")
    reply = str(tmp_path / "rep")
    os.close(_create(reply, 0o666))
    mine = os.lstat(reply)
    for replace in (lambda: os.symlink(secret, reply), lambda: os.symlink("/dev/zero", reply),
                    lambda: os.mkfifo(reply), lambda: Path(reply).write_text("x")):
        os.unlink(reply)
        replace()
        started = time.monotonic()
        answer = _read_reply(reply, mine, 0.0)
        assert time.monotonic() - started < 1  # a FIFO never blocks the grader
        assert answer.status == "protocol" and "HOST SECRET" not in answer.describe()
    os.unlink(reply)
    os.close(_create(reply, 0o666))
    mine = os.lstat(reply)
    Path(reply).write_bytes(b"\x00" * 64 + b"HOST SECRET")
    answer = _read_reply(reply, mine, 0.0)
    assert answer.status == "protocol" and "HOST SECRET" not in answer.describe()


def test_a_cell_that_ignores_the_interrupt_is_timed_out_and_its_kernel_stopped(tmp_path):
    cells = ["import numpy as np\ndef f(x):\n    return 2 * x",
             "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
             "later = 1"]
    spec = write_course(tmp_path, cells, cell_s=2, total_s=600)
    from autograder.grading import Grader

    with Grader(spec) as grader:
        report, seconds = grade_within(grader, tmp_path / "student", 240)
    (run,) = report.notebooks
    assert [c.status for c in run.cells] == ["ok", "timeout", "not run"]
    assert "ignored the interrupt" in run.cells[1].error
    assert "ignored the interrupt" in run.problem
    assert report.question("Q3").score == 0  # `later` was never defined
    assert seconds < 120


def test_a_flood_of_notebook_output_is_cut(tmp_path):
    cells = ["import numpy as np\ndef f(x):\n    return 2 * x",
             "print('y' * 40_000_000)\nfor i in range(300):\n    print('x' * 1_000_000)\nprint('the end')",
             "later = 1"]
    spec = write_course(tmp_path, cells, cell_s=120, total_s=600)
    out = tmp_path / "out"
    peak = _grade_in_subprocess(spec, tmp_path / "student", out)
    assert peak < 1500, f"the grader grew to {peak:.0f} MB"
    executed = nbformat.read(next((out / "notebooks").glob("*.ipynb")), as_version=4)
    text = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert len(text) < 100_000 and "characters cut" in text and text.rstrip().endswith("the end")
    assert (out / "results.json").is_file()


def _grade_in_subprocess(spec: Path, source: Path, out: Path, env: dict | None = None) -> float:
    """Grade in a fresh interpreter; its peak resident memory in MB (VmHWM: ru_maxrss would count the
    pages of the forking test process, which Linux folds in at exec)."""
    code = ("import sys\nfrom autograder.grading import Grader\n"
            "from autograder.report.writers import write_reports\n"
            "from pathlib import Path\n"
            "with Grader(sys.argv[1]) as g:\n    write_reports(g.grade(sys.argv[2]), Path(sys.argv[3]))\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]) / 1024)\n")
    done = subprocess.run([sys.executable, "-c", code, str(spec), str(source), str(out)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return float(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------- 6 the reference

REFERENCE_COURSE = """\
assignment: ref-test
title: The reference on a student's numbers
reference: ref
files:
  m: {path: m.py}
questions:
  - id: Q1
    title: a size the reference uses
    points: 1
    checks:
      - kind: evaluate
        probe: {steps: ["n = m.N"], observe: {n: n}}
        then:
          steps: ["total = m.grow(n)"]
          observe: {total: total}
        thresholds:
          total: {value: total, at_least: 0}
"""


@requires_sandbox
def test_the_reference_blowing_up_is_the_judges_failure_not_the_students(tmp_path):
    """The reference runs outside the sandbox, on what the student's code returned: it has a memory
    limit of its own, and its failure is never reported as the student's crash."""
    from autograder.grading import Grader

    for folder, n in (("ref", 10), ("student", 1_500_000_000)):  # 12 GB of ones in the reference
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(
            f"import numpy as np\nN = {n}\n\ndef grow(n):\n    return float(np.ones(int(n)).sum())\n")
    spec = tmp_path / "ref.yaml"
    spec.write_text(REFERENCE_COURSE)
    with Grader(spec) as grader:
        assert grader.grade(tmp_path / "ref").question("Q1").score == 1
        report, _ = grade_within(grader, tmp_path / "student", 180)
    (check,) = report.question("Q1").checks
    (outcome,) = check.outcomes
    assert outcome.pending and "the judge could not evaluate" in outcome.message
    assert "stopped answering" not in outcome.message


def test_shapes_are_checked_before_the_reference_runs():
    import numpy as np

    from autograder.checks.evaluate import Rejected, Stage, conform

    stage = Stage(steps=[], observe={}, shapes={"W": [1024, 64], "b": [64]}, max_mb=1)
    ok = conform({"W": np.zeros((1024, 64)), "b": np.zeros((1, 64))}, stage)
    assert ok["b"].shape == (64,)  # size-1 axes aside, the declared shape
    with pytest.raises(Rejected, match=r"b has shape \(1000, 1, 64\), expected \(64,\)"):
        conform({"W": np.zeros((1024, 64)), "b": np.zeros((1000, 1, 64))}, stage)
    with pytest.raises(Rejected, match="more than the 1 MB"):
        conform({"W": np.zeros((1024, 64)), "b": np.zeros(64), "extra": np.zeros(10**6)}, stage)


# ------------------------------------------------------------------------------------- 8 import policy

UTF7_HIDDEN_IMPORT = b"+AGkAbQBwAG8AcgB0ACAAbgBlAHQAdwBvAHIAawB4-"  # "import networkx" in UTF-7


@pytest.mark.parametrize("how", ["string", "decoy", "utf-7", "unparseable"])
def test_the_import_policy_sees_what_runs(grader, make_submission, how):
    if how == "string":
        sub = make_submission(prelude='nx = __import__("net" + "workx")\n')
    elif how == "decoy":
        sub = make_submission(prelude="import networkx\n", files={"notes/networkx.py": "x = 1\n"})
    elif how == "utf-7":
        sub = make_submission()
        nn = sub / "python" / "nn.py"
        nn.write_bytes(b"# -*- coding: utf-7 -*-\n" + UTF7_HIDDEN_IMPORT + b"\n" + nn.read_text().encode("utf-7"))
    else:
        sub = make_submission(files={"python/helpers.py": "import networkx\ndef broken(:\n"})
    report = grader.grade(sub, only={"Q2.1.2", "P1"})
    assert report.question("P1").score == -5, report.question("P1").feedback
    assert "networkx" in feedback(report, "P1")
    assert report.question("Q2.1.2").score == report.question("Q2.1.2").auto_max


def test_allowed_and_local_imports_cost_nothing(grader, make_submission):
    sub = make_submission(prelude="import helpers\nimport scipy.special\nfrom skimage import measure\n",
                          files={"python/helpers.py": "import numpy\n"})
    report = grader.grade(sub, only={"Q2.1.2", "P1"})
    assert report.question("P1").score == 0, report.question("P1").feedback


# ------------------------------------------------------------------------------------- 10 unreadable

@pytest.mark.parametrize("content", [b"", b"not a zip at all", "empty-zip"])
def test_an_unreadable_submission_scores_zero_not_minus_five(grader, tmp_path, content):
    path = tmp_path / "upload.zip"
    if content == "empty-zip":
        zipfile.ZipFile(path, "w").close()
    else:
        path.write_bytes(content)
    report = grader.grade(path)
    assert report.fatal and report.score == 0
    assert report.question("P1").score == 0
    assert all(len(q.feedback) <= 1 for q in report.questions)


def test_a_deduction_never_takes_a_grade_below_zero(grader, make_submission):
    empty = "def sigmoid(x):\n    pass\n"
    report = grader.grade(make_submission({"sigmoid": empty}, prelude="import networkx\n"),
                          only={"Q2.2.1", "P1"})
    assert report.question("P1").score == -5 and report.score == 0


# ------------------------------------------------------------------------------------- 11 hygiene

LEFTOVER_NAMES = ("submission-", "agk-", "autograde-head-")


def _leftovers(before: set[str], pid: int) -> list[str]:
    now = set(os.listdir("/tmp"))
    return sorted(n for n in now - before if n.startswith(LEFTOVER_NAMES) or n.startswith(f"autograde-{pid}-"))


def test_a_grade_leaves_nothing_in_the_temp_folders(tmp_path):
    """A script question, a notebook, the reference: a private TMPDIR is empty afterwards, and
    nothing of ours appeared in the system temp folder."""
    private = tmp_path / "tmp"
    private.mkdir()
    before = set(os.listdir("/tmp"))
    env = dict(os.environ, TMPDIR=str(private))
    code = ("import os, sys\nfrom autograder.grading import Grader\nprint(os.getpid(), flush=True)\n"
            "with Grader(sys.argv[1]) as g:\n    g.grade(sys.argv[2], only={'Q2.1.2', 'Q2.2.2', 'Q2.4.1'})\n"
            "with Grader(sys.argv[3]) as g:\n    g.grade(sys.argv[4])\n")
    spec = write_course(tmp_path, ["import numpy as np\ndef f(x):\n    return 2 * x", "later = 1"])
    done = subprocess.run([sys.executable, "-c", code, str(CMU_SPEC), str(ROOT / "fixtures/submissions/cmu-hw5/alice"),
                           str(spec), str(tmp_path / "student")], capture_output=True, text=True, env=env,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(private.iterdir()) == []
    assert _leftovers(before, int(done.stdout.split()[0])) == []


def test_nothing_of_the_reference_is_readable_by_other_users(tmp_path):
    from autograder.grading import Grader

    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    with Grader(CMU_SPEC) as grader:
        grader.grade(ROOT / "fixtures/submissions/cmu-hw5/alice", only={"Q2.2.2"})  # the reference worker ran
        files = [p for p in grader.reference.folder.rglob("*.py") if p.is_file()]
        assert files
        assert stat.S_IMODE(os.stat(grader.reference.folder.parent).st_mode) == 0o700
        for path in files[:3]:
            seen = subprocess.run(["cat", str(path)], user=65534, group=65534, capture_output=True)
            assert seen.returncode != 0 and not seen.stdout


def test_a_killed_graders_folder_is_swept_by_the_next(tmp_path):
    from autograder.tempdirs import sweep_stale

    code = ("from autograder.grading import Grader\nimport sys, time\n"
            "g = Grader(sys.argv[1])\nprint(g._tmp, flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(CMU_SPEC)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    folder = Path(proc.stdout.readline().strip())
    assert folder.is_dir()
    proc.kill()
    proc.wait()
    assert folder in sweep_stale(folder.parent)
    assert not folder.exists()


def test_sigterm_unwinds_the_cli_and_cleans_up(tmp_path, make_submission):
    private = tmp_path / "tmp"
    private.mkdir()
    slow = "def sigmoid(x):\n    import time\n    time.sleep(60)\n    return 1 / (1 + np.exp(-x))\n"
    sub = make_submission({"sigmoid": slow})
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", str(sub), "--spec", str(CMU_SPEC),
                             "--out", str(tmp_path / "out")], cwd=ROOT, env=dict(os.environ, TMPDIR=str(private)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(private.glob("autograde-*/submission-*")):
        time.sleep(0.2)
    time.sleep(3)  # into the grade: workers started
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    assert list(private.iterdir()) == []


# ------------------------------------------------------------------------------------- 19.8 cgroups

@requires_sandbox
def test_cleanup_never_kills_a_group_the_caller_is_in():
    from autograder.sandbox.cgroups import WorkerCgroups
    from autograder.sandbox.layers import detect

    groups = WorkerCgroups(detect(), 256 << 20, 16)
    try:
        pid = os.fork()
        if pid == 0:  # the child joins the group, as a launcher does for a moment, then cleans up
            try:
                for procs in groups.procs_files:
                    with open(procs, "w") as fh:
                        fh.write(str(os.getpid()))
                groups.kill_all()
                os._exit(0)
            except BaseException:  # noqa: BLE001
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the cleanup killed its own caller"
    finally:
        groups.remove()


@pytest.mark.slow
def test_one_giant_message_past_the_kernels_own_cap_is_refused(tmp_path):
    """A cell that sends one 100 MB message on the kernel's output socket itself: the grader's socket
    refuses it (the notebook's own probes then fail), and the grader stays small."""
    giant = ("k = get_ipython().kernel\n"
             "k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'z' * 100_000_000},"
             " parent=k.get_parent())")
    spec = write_course(tmp_path, ["import numpy as np\ndef f(x):\n    return 2 * x", giant, "later = 1"])
    peak = _grade_in_subprocess(spec, tmp_path / "student", tmp_path / "out")
    assert peak < 1000, f"the grader grew to {peak:.0f} MB"
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(json.dumps(results)) < 1_000_000


def test_a_weights_file_of_the_wrong_shape_never_reaches_the_reference(make_submission):
    """q3_weights.pickle with a (1000, 1, 64) bias: the reference's forward pass would broadcast it to
    1000 x N x 64 outside the sandbox. It is refused with its reason before the reference runs."""
    from autograder.grading import Grader
    from autograder.rubric.schema import load

    rubric = load(CMU_SPEC)
    rubric.questions = [q for q in rubric.questions if q.id == "Q3.1.1"]
    script = ("import pickle\nimport numpy as np\n"
              "weights = {'Wlayer1': np.zeros((1024, 64)), 'blayer1': np.zeros((1000, 1, 64)),\n"
              "           'Woutput': np.zeros((64, 36)), 'boutput': np.zeros(36)}\n"
              "with open('q3_weights.pickle', 'wb') as fh:\n    pickle.dump(weights, fh)\n")
    with Grader(rubric) as grader:
        report = grader.grade(make_submission(files={"python/run_q3.py": script}))
        assert grader.reference._runners is None  # the reference worker was never started
    assert "blayer1 has shape (1000, 1, 64), expected (64,)" in feedback(report, "Q3.1.1")
    assert report.question("Q3.1.1").score == 0
