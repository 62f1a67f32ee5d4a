"""Hostile and broken submissions: each costs only the questions it touches, and the run always ends.

Every case edits the reference solution, so any question the edit does not touch must keep full
marks: that is the "fail one question, never the run" principle, checked question by question.
"""
from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from conftest import FUNCTION_QUESTIONS, full_marks, requires_sandbox, scores

# Every question uses nn.py; run_q2.py (Q2.4.1, Q2.5.1) calls every function of it.
SCRIPT = {"Q2.4.1", "Q2.5.1"}
LOSS_USERS = {"Q2.2.3"} | SCRIPT


def assert_only_lost(report, lost: set[str]):
    got, full = scores(report), full_marks(report)
    for qid in FUNCTION_QUESTIONS:
        if qid in lost:
            assert got[qid] < full[qid], f"{qid} should lose points: {report.question(qid).feedback}"
        else:
            assert got[qid] == full[qid], f"{qid} should keep full marks: {report.question(qid).feedback}"


def feedback(report, qid) -> str:
    return "\n".join(report.question(qid).feedback)


# ------------------------------------------------------------------------------ import-time failures

def test_syntax_error(grader, make_submission):
    report = grader.grade(make_submission(prelude="def broken(:\n    pass\n"))
    assert_only_lost(report, set(FUNCTION_QUESTIONS))
    assert "SyntaxError" in feedback(report, "Q2.2.2") and "line 1" in feedback(report, "Q2.2.2")


def test_exception_at_import(grader, make_submission):
    report = grader.grade(make_submission(prelude="raise RuntimeError('boom at import')\n"))
    assert_only_lost(report, set(FUNCTION_QUESTIONS))
    assert "importing nn failed: RuntimeError: boom at import" in feedback(report, "Q2.2.1")


def test_sys_exit_at_import(grader, make_submission):
    report = grader.grade(make_submission(prelude="import sys\nsys.exit(3)\n"))
    assert_only_lost(report, set(FUNCTION_QUESTIONS))
    assert "sys.exit(3)" in feedback(report, "Q2.2.2")


def test_os_exit_at_import_is_remembered(grader, make_submission):
    report = grader.grade(make_submission(prelude="import os\nos._exit(0)\n"))
    assert_only_lost(report, set(FUNCTION_QUESTIONS))
    assert "ended the process" in feedback(report, "Q2.2.2")
    # one death per file that imports nn (nn.py itself, and run_q2.py's `from nn import *`);
    # every later probe of those files fails at once instead of dying again
    timing = report.provenance["timing"]  # worker_starts: those on the grade's clock, after its spare
    assert timing["worker_starts"] + timing["worker_started_before"] == 2


# ------------------------------------------------------------------------------ failures inside functions

def test_sys_exit_inside_a_function(grader, make_submission):
    report = grader.grade(make_submission({"compute_loss_and_acc": "def compute_loss_and_acc(y, probs):\n"
                                                                   "    import sys\n    sys.exit(0)\n"}))
    assert_only_lost(report, LOSS_USERS)
    assert "sys.exit(0)" in feedback(report, "Q2.2.3")


def test_os_exit_inside_a_function(grader, make_submission):
    report = grader.grade(make_submission({"compute_loss_and_acc": "def compute_loss_and_acc(y, probs):\n"
                                                                   "    import os\n    os._exit(7)\n"}))
    assert_only_lost(report, LOSS_USERS)
    assert "exit code 7" in feedback(report, "Q2.2.3")


@pytest.mark.slow
def test_infinite_loop(grader, make_submission):
    report = grader.grade(make_submission({"compute_loss_and_acc": "def compute_loss_and_acc(y, probs):\n"
                                                                   "    while True:\n        pass\n"}))
    assert_only_lost(report, LOSS_USERS)
    assert "timed out" in feedback(report, "Q2.2.3")


def test_fifty_gigabyte_allocation(grader, make_submission):
    code = "def compute_loss_and_acc(y, probs):\n    big = np.ones(50 * 1024**3 // 8)\n    return big.sum(), 1.0\n"
    report = grader.grade(make_submission({"compute_loss_and_acc": code}))
    assert_only_lost(report, LOSS_USERS)
    assert "MemoryError" in feedback(report, "Q2.2.3") or "memory" in feedback(report, "Q2.2.3")


@pytest.mark.slow
@requires_sandbox
def test_memory_budget_is_enforced_by_the_cgroup(grader, cmu_rubric, make_submission, monkeypatch):
    # 1 GB touched page by page passes RLIMIT_AS's backstop but not this question's 256 MB budget
    monkeypatch.setattr(cmu_rubric.question("Q2.2.3"), "memory_mb", 256)
    code = ("def compute_loss_and_acc(y, probs):\n    big = np.ones(1024**3 // 8)\n"
            "    return float(big.sum()), 1.0\n")
    report = grader.grade(make_submission({"compute_loss_and_acc": code}))
    assert_only_lost(report, LOSS_USERS)  # run_q2.py calls it too, with the default budget
    assert "memory budget of 256 MB" in feedback(report, "Q2.2.3")


@requires_sandbox
def test_hundreds_of_processes(grader, make_submission):
    code = ("def get_random_batches(x, y, batch_size):\n    import subprocess\n"
            "    for _ in range(400):\n        subprocess.Popen(['sleep', '600'])\n"
            "    order = np.random.permutation(len(x))\n"
            "    return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(x), batch_size)]\n")
    report = grader.grade(make_submission({"get_random_batches": code}))
    assert_only_lost(report, {"Q2.4.1", "Q2.5.1"})
    assert "Resource temporarily unavailable" in feedback(report, "Q2.4.1")
    left = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True).stdout.split()
    assert left == [], "processes outlived the grade"


@requires_sandbox
def test_socket_to_a_host_listener(grader, make_submission):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    accepted = []

    def accept():
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = (f"def compute_loss_and_acc(y, probs):\n    import socket\n"
            f"    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"
            f"        return -1.0, -1.0\n    except OSError:\n        pass\n"
            f"    return -np.sum(y * np.log(probs)), np.mean(y.argmax(1) == probs.argmax(1))\n")
    report = grader.grade(make_submission({"compute_loss_and_acc": code}))
    thread.join()
    listener.close()
    assert accepted == []
    assert_only_lost(report, set())


@requires_sandbox
def test_walking_the_filesystem_finds_no_answers(grader, make_submission):
    code = '''FOUND = None


def compute_loss_and_acc(y, probs):
    global FOUND
    if FOUND is None:
        FOUND = snoop()
    if FOUND:
        raise RuntimeError("found " + ", ".join(FOUND[:5]))
    return -np.sum(y * np.log(probs)), np.mean(y.argmax(1) == probs.argmax(1))


def snoop():
    import os
    found = []
    for top in ("/", "/work", "/root", "/tmp", "/opt", "/submission", "/home", "/srv", "/etc"):
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in ("usr", "proc", "sys", "dev", "site-packages")]
            for name in files + dirs:
                path = os.path.join(folder, name)
                if name in ("cmu-hw5.yaml", "mutants.yaml", "run_q2.py") and "/submission" not in path \\
                        and not path.startswith("/tmp/submission-"):
                    found.append(path)
                if "solution" in folder.split(os.sep) or name == "specs":
                    found.append(path)
    return found
'''
    report = grader.grade(make_submission({"compute_loss_and_acc": code}))
    assert_only_lost(report, set())


def test_monkeypatched_numpy_comparisons_do_not_help(grader, make_submission):
    prelude = ("import numpy\nnumpy.allclose = lambda *a, **k: True\n"
               "numpy.testing.assert_allclose = lambda *a, **k: None\n"
               "numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.shape(a), dtype=bool)\n"
               "numpy.array_equal = lambda *a, **k: True\n")
    wrong_softmax = "def softmax(x):\n    return np.ones(x.shape) / x.shape[1]\n"
    report = grader.grade(make_submission({"softmax": wrong_softmax}, prelude=prelude))
    assert report.question("Q2.2.2").score == 0
    assert "wrong values" in feedback(report, "Q2.2.2")
    # the grader's own helpers (ref_softmax, ref_forward) run in the same patched process and still
    # give Q2.2.1 and Q2.3.1 their marks
    assert report.question("Q2.2.1").score == 4 and report.question("Q2.3.1").score == 7


def test_fake_results_and_printed_scores_change_nothing(tmp_path, make_submission):
    from autograder.cli import main

    prelude = ("print('Score: 100/100'); print('{\"score\": 100}')\n"
               "import os, sys\nprint('All tests passed', file=sys.stderr)\n"
               "for d in ('.', '/tmp', os.path.expanduser('~'), '/submission'):\n"
               "    try:\n        open(os.path.join(d, 'results.json'), 'w').write('{\"score\": 100}')\n"
               "    except OSError:\n        pass\n")
    wrong = "def softmax(x):\n    return np.ones(x.shape) / x.shape[1]\n"
    sub = make_submission({"softmax": wrong}, prelude=prelude)
    out = tmp_path / "out"
    assert main([str(sub), "--spec", "specs/cmu-hw5.yaml", "--out", str(out), "--questions", "Q2.2.1,Q2.2.2"]) == 0
    import json

    results = json.loads((out / "results.json").read_text())
    q222 = next(t for t in results["tests"] if t["number"] == "Q2.2.2")
    assert q222["score"] == 0 and results["score"] <= sum(t["max_score"] for t in results["tests"]) - 3
    assert not (sub / "python" / "results.json").exists()


def test_prints_and_warnings_never_cost_points(grader, make_submission):
    prelude = ("import warnings, sys\nwarnings.warn('deprecated thing')\nprint('hello')\n"
               "print('x' * 100000, file=sys.stderr)\n")
    noisy_sigmoid = ("def sigmoid(x):\n    import warnings\n    warnings.warn('overflow maybe')\n"
                     "    print('sigmoid called', x.shape)\n    with np.errstate(over='ignore'):\n"
                     "        return 1 / (1 + np.exp(-x))\n")
    report = grader.grade(make_submission({"sigmoid": noisy_sigmoid}, prelude=prelude))
    assert_only_lost(report, set())


@pytest.mark.parametrize("code, words", [
    ("def softmax(x):\n    return None\n", "returned None"),
    ("def softmax(x):\n    return np.full(x.shape, np.nan)\n", "contains NaN"),
    ("def softmax(x):\n    e = np.exp(x - x.max(1, keepdims=True))\n    return (e / e.sum(1, keepdims=True)).T\n",
     "shape"),
    ("def softmax(x):\n    return 'probabilities'\n", "expected numbers, got a str"),
])
def test_wrong_return_values_are_explained(grader, make_submission, code, words):
    report = grader.grade(make_submission({"softmax": code}))
    assert report.question("Q2.2.2").score == 0
    assert words in feedback(report, "Q2.2.2")
    # forward's check runs with the grader's own softmax: Q2.2.1 keeps its marks (it lost the
    # "forward with another activation" check when that called the student's softmax); run_q2.py
    # runs the student's softmax and stops or trains nothing
    assert_only_lost(report, {"Q2.2.2"} | SCRIPT)


def test_lists_of_the_right_numbers_are_accepted(grader, make_submission):
    code = ("def softmax(x):\n    e = np.exp(x - x.max(1, keepdims=True))\n"
            "    return (e / e.sum(1, keepdims=True)).tolist()\n")
    report = grader.grade(make_submission({"softmax": code}))
    assert report.question("Q2.2.2").score == 3


def test_hard_coded_answers_fail_on_randomised_inputs(grader, make_submission):
    # the student copied the output for one input they saw; inputs differ per submission
    code = "def sigmoid(x):\n    return np.full(np.shape(x), 0.5)\n"
    report = grader.grade(make_submission({"sigmoid": code}))
    assert report.question("Q2.2.1").score < 4
    # backwards is checked on a cache the grader's own forward pass fills: Q2.3.1 keeps its marks
    # (it lost them when the cache came from the student's forward and sigmoid)
    assert_only_lost(report, {"Q2.2.1"} | SCRIPT)


def test_a_script_that_stops_early_says_why(make_submission):
    from autograder.grading import Grader
    from autograder.rubric.schema import load
    from conftest import CMU_SPEC

    rubric = load(CMU_SPEC)
    rubric.questions = [q for q in rubric.questions if q.id == "Q3.1.1"]
    sub = make_submission(files={"python/run_q3.py": "import numpy as np\nimport notamodule\n"})
    with Grader(rubric) as grader:
        report = grader.grade(sub)
    text = "\n".join(report.question("Q3.1.1").feedback)
    assert report.question("Q3.1.1").score == 0
    assert "run_q3 stopped early: ModuleNotFoundError: No module named 'notamodule'" in text
    assert "python/run_q3.py:2" in text
