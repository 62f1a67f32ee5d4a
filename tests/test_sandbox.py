"""Each isolation layer, tested directly on a worker (sandbox.md §4's regression list)."""
from __future__ import annotations

import os
import textwrap

import pytest

from autograder.sandbox.launch import Limits
from autograder.sandbox.layers import detect
from autograder.sandbox.process import WorkerProcess
from conftest import ROOT, requires_sandbox

PROBES = textwrap.dedent('''
    import os, socket, subprocess, time

    def identity():
        status = open("/proc/self/status").read()
        caps = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0]
        return {"uid": os.getuid(), "caps": caps, "root": sorted(os.listdir("/")),
                "no_new_privs": [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")][0]}

    def read(path):
        try:
            return open(path).read()[:100]
        except OSError as exc:
            return type(exc).__name__

    def inet_socket():
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            return "created"
        except OSError as exc:
            return exc.errno

    def unix_socket():
        a, b = socket.socketpair()
        a.sendall(b"ok")
        return b.recv(2).decode()

    def new_user_namespace():
        return subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"],
                              capture_output=True, text=True).returncode

    def fork_bomb():
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
        except OSError:
            return n

    def busy():
        while True:
            pass

    def escape_then_hang():
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                import signal
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(600)
            os._exit(0)
        while True:
            time.sleep(1)

    def fill_tmp(mb):
        with open("/tmp/fill", "wb") as fh:
            for _ in range(mb):
                try:
                    fh.write(b"x" * (1 << 20))
                except OSError as exc:
                    return exc.errno
        return "wrote everything"
''')


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.py").write_text(PROBES)
    os.chmod(folder, 0o755)
    os.chmod(folder / "probe.py", 0o644)
    w = WorkerProcess(str(folder), [], Limits(max_pids=48, scratch_mb=32))
    yield w
    w.close()


def call(worker, expr, time_s=10.0, memory_mb=None):
    header = {"op": "run", "modules": {"probe": {"path": "probe.py"}},
              "scenario": {"steps": [f"out = {expr}"], "observe": {"out": "out"}}}
    return worker.request(header, {}, time_s=time_s, memory_mb=memory_mb)


pytestmark = requires_sandbox


def test_runs_as_nobody_without_capabilities(worker):
    out = call(worker, "probe.identity()").value["out"]
    assert out["uid"] == 65534 and int(out["caps"], 16) == 0 and out["no_new_privs"] == "1"
    assert "home" not in out["root"]
    # the checkout itself is not there, wherever it lives (only the interpreter's own folder is bound)
    answer = ROOT / "solution" / "cmu-hw5" / "python" / "nn.py"
    assert call(worker, f"probe.read({str(answer)!r})").value["out"] == "FileNotFoundError"


def test_host_files_are_invisible_or_unreadable(worker, tmp_path):
    secret = tmp_path / "answers.txt"
    secret.write_text("42")
    os.chmod(secret, 0o600)
    assert call(worker, f"probe.read({str(secret)!r})").value["out"] == "FileNotFoundError"
    assert call(worker, "probe.read('/etc/shadow')").value["out"] in ("FileNotFoundError", "PermissionError")


def test_no_network_sockets_but_unix_ones_work(worker):
    assert call(worker, "probe.inet_socket()").value["out"] == 1  # EPERM from seccomp
    assert call(worker, "probe.unix_socket()").value["out"] == "ok"


def test_no_new_user_namespaces(worker):
    assert call(worker, "probe.new_user_namespace()").value["out"] != 0


def test_memory_limit_kills_and_is_reported(worker, tmp_path):
    (tmp_path / "hog.py")  # a 1 GB touch under a 128 MB budget
    reply = call(worker, "np.ones(1024**3 // 8).sum()", memory_mb=128)
    assert reply.status == "oom" and "128 MB" in reply.describe()
    assert call(worker, "probe.unix_socket()").ok  # the worker comes back for the next probe


def test_fork_bomb_is_capped(worker):
    reply = call(worker, "probe.fork_bomb()", time_s=20)
    assert reply.ok and reply.value["out"] < 48


def test_strays_of_one_probe_do_not_eat_the_next_probes_budget(worker):
    assert call(worker, "probe.fork_bomb()", time_s=20).ok
    assert call(worker, "probe.fork_bomb()", time_s=20).value["out"] > 40


def test_busy_loop_and_escaped_grandchild_are_killed(worker):
    assert call(worker, "probe.unix_socket()").ok
    before = worker.starts
    groups = list(worker.cgroups.paths.values())
    reply = call(worker, "probe.escape_then_hang()", time_s=1.5)
    assert reply.status == "timeout" and "1.5 s" in reply.describe()
    # the groups can only be removed once every process of this worker, escaped or not, is gone
    assert groups and not any(os.path.exists(g) for g in groups)
    assert call(worker, "probe.unix_socket()").ok and worker.starts == before + 1


def test_private_tmp_is_size_limited(worker):
    import errno

    assert call(worker, "probe.fill_tmp(64)").value["out"] == errno.ENOSPC


def test_cgroups_are_removed_after_close(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    os.chmod(tmp_path, 0o755)
    w = WorkerProcess(str(tmp_path), [])
    reply = w.request({"op": "run", "modules": {"m": {"path": "m.py"}},
                       "scenario": {"steps": [], "observe": {"x": "m.x"}}}, {})
    paths = list(w.cgroups.paths.values())
    w.close()
    assert reply.value == {"x": 1}
    assert paths and not any(os.path.exists(p) for p in paths)


def test_layers_are_all_detected_here():
    assert detect().missing == {}


def test_require_sandbox_turns_a_missing_layer_into_an_error(monkeypatch, tmp_path):
    from autograder.sandbox.layers import Layers, SandboxUnavailable

    monkeypatch.setenv("AUTOGRADE_REQUIRE_SANDBOX", "1")
    partial = Layers(frozenset({"rlimits"}), {"bubblewrap": "not installed"})
    with pytest.raises(SandboxUnavailable, match="bubblewrap|not installed"):
        WorkerProcess(str(tmp_path), [], layers=partial)


def test_the_psnr_shim_costs_nothing_until_skimage_measure_is_imported(tmp_path):
    """The CMU starter calls ``skimage.measure.compare_psnr`` (gone since 0.19): the alias appears
    when the student's code imports skimage.measure, and a worker that never does so pays nothing."""
    (tmp_path / "m.py").write_text("from skimage.measure import compare_psnr\nimport numpy as np\n"
                                   "v = compare_psnr(np.ones((4, 4)), np.full((4, 4), 0.9), data_range=1)\n")
    (tmp_path / "plain.py").write_text("import sys\nloaded = 'skimage.measure' in sys.modules\n")
    shims = ["numpy_aliases", "matplotlib_agg", "skimage_compare_psnr"]
    for module, observe, expected in (("plain", "plain.loaded", False), ("m", "m.v", 20.0)):
        worker = WorkerProcess(str(tmp_path), shims, sandboxed=False)
        try:
            reply = worker.request({"op": "run", "modules": {module: {"path": f"{module}.py"}},
                                    "scenario": {"steps": [], "observe": {"v": observe}}}, {})
        finally:
            worker.close()
        assert reply.ok and reply.value["v"] == pytest.approx(expected), reply


def test_strays_are_reaped_without_waiting_on_the_workers_own_parents():
    """Under unprivileged bubblewrap the namespace's init runs as the student's uid: it is a parent of
    the worker, never a stray, so reaping does not wait its 2 s on it after every probe."""
    import os
    import subprocess
    import sys

    from autograder.worker.main import ancestors

    assert {os.getpid(), os.getppid()} <= ancestors()
    # a grandchild sees its parent and grandparent spared, as the worker sees bwrap's init
    out = subprocess.run([sys.executable, "-c", "import os, subprocess, sys; print(os.getpid()); sys.stdout.flush(); "
                          "subprocess.run([sys.executable, '-c', 'from autograder.worker.main import ancestors; "
                          "print(sorted(ancestors()))'])"], capture_output=True, text=True, check=True).stdout.split("\n")
    assert int(out[0]) in eval(out[1]) and os.getpid() in eval(out[1])


def test_the_next_submissions_worker_starts_while_one_is_graded(cmu_rubric, make_submission):
    """A warm grader starts the next submission's worker beside each grade, in the empty folder the
    submission is staged into later: each grade still sees its own files, never the one before."""
    from autograder.grading import Grader
    from conftest import CMU_REFERENCE, scores

    wrong = make_submission({"sigmoid": "def sigmoid(x):\n    return x\n"}, name="wrong")
    only = {"Q2.2.1"}
    with Grader(cmu_rubric) as grader:
        reports = [grader.grade(sub, only=only) for sub in (CMU_REFERENCE, wrong, CMU_REFERENCE, wrong)]
        grader._join_spare()
        assert grader._spare is not None  # ready for a fifth
    assert [r.provenance["timing"]["worker_started_before"] for r in reports] == [True] * 4
    assert [r.provenance["timing"]["worker_starts"] for r in reports] == [0] * 4
    full = reports[0].question("Q2.2.1").auto_max
    assert [scores(r)["Q2.2.1"] == full for r in reports] == [True, False, True, False]

    with Grader(cmu_rubric, warm=False) as grader:  # one submission (autograde SUB): no worker wasted
        reports = [grader.grade(sub, only=only) for sub in (wrong, CMU_REFERENCE)]
        grader._join_spare()
        assert grader._spare is None
    assert [r.provenance["timing"]["worker_started_before"] for r in reports] == [True, False]
    assert [scores(r)["Q2.2.1"] == full for r in reports] == [False, True]


def test_openmp_threads_wait_without_spinning():
    """With more threads than free cores (two graders side by side, each worker two threads), OpenMP's
    spinning threads made 300 steps of a small PyTorch autoencoder take 41.9 s instead of 1.78 s, and
    a rubric's validation ran for half an hour: every worker and kernel waits passively."""
    from autograder.sandbox.launch import worker_env

    assert worker_env(Limits(threads=2))["OMP_WAIT_POLICY"] == "PASSIVE"
