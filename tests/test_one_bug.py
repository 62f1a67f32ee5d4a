"""One bug costs one question, and no work earns nothing: handout 004's numpy network (handout 000's
nn.py is the same file; its own gradient checker is tested in test_gist.py).

A check of one function that needs another calls the grader's own version of it (``ref_softmax``,
``ref_forward`` in ``autograder/worker/scenario.py``), never the student's: a broken softmax costs
the softmax question, not forward's; a broken forward costs forward's question, not backwards'.
run_q2.py (Q2.4.1's training, Q2.5.1's checker) is the student's whole network run by the course's
driver, so a function that breaks it costs those two as well (``SCRIPT``).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from autograder.worker import scenario
from conftest import CMU_REFERENCE, FUNCTION_QUESTIONS, ROOT, full_marks, scores

SCRIPT = {"Q2.4.1", "Q2.5.1"}


def lost(report) -> set[str]:
    got, full = scores(report), full_marks(report)
    return {q for q in FUNCTION_QUESTIONS if got[q] < full[q]}


def feedback(report, qid) -> str:
    return "\n".join(report.question(qid).feedback)


# ------------------------------------------------------------------------------ the trusted helpers

def test_reference_activations_are_right_and_stable():
    x = np.array([[-1000.0, -2.0, 0.0, 3.0, 1000.0]])
    with np.errstate(over="ignore"):
        assert np.allclose(scenario.ref_sigmoid(x), 1 / (1 + np.exp(-x)))
    assert np.isfinite(scenario.ref_sigmoid(x)).all()
    p = scenario.ref_softmax(np.array([[1000.0, 1001.0, 1002.0], [0.0, 0.0, 0.0]]))
    assert np.allclose(p.sum(axis=1), 1) and np.allclose(p[1], 1 / 3)
    assert np.allclose(p[0], np.exp([-2, -1, 0]) / np.exp([-2, -1, 0]).sum())
    s = scenario.ref_sigmoid(np.array([0.3]))
    assert np.allclose(scenario.ref_sigmoid_deriv(s), s * (1 - s))


def test_ref_forward_fills_the_cache_backwards_reads():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    params = {"Wl": W, "bl": b}
    post = scenario.ref_forward(X, params, "l", scenario.ref_softmax)
    cached_X, pre, cached_post = params["cache_l"]
    assert cached_X is X and np.allclose(pre, X @ W + b) and cached_post is post
    assert np.allclose(post, scenario.ref_softmax(X @ W + b))


def test_first_items_reads_any_iterable_and_stops():
    pairs = [(np.zeros(2), np.ones(2))] * 3
    assert scenario.first_items(pairs, 10) == pairs
    assert scenario.first_items(iter(pairs), 10) == pairs
    assert scenario.first_items(((a, b) for a, b in pairs), 10) == pairs
    assert len(scenario.first_items(itertools.repeat(pairs[0]), 5)) == 6  # an endless generator: one too many
    assert scenario.first_items(None, 5) is None                         # left for the judge to name
    lazy = scenario.first_items([zip([1, 2], [3, 4])], 5)
    assert lazy == [((1, 3), (2, 4))]


def test_batches_of_examples_refuses_rows_that_are_not_examples():
    x = np.column_stack([np.arange(6.0), np.random.default_rng(1).normal(size=6)])
    y = np.eye(3)[np.arange(6) % 3]
    good = [(x[[4, 1]], y[[4, 1]]), (x[[0, 5, 2, 3]], y[[0, 5, 2, 3]])]
    assert scenario.batches_of_examples(good, x, y) is good
    for junk in ([(np.zeros((2, 2)), np.zeros((2, 3)))] * 3,
                 [(np.random.default_rng(2).random((3, 2)), y[:3])],
                 [(x[[0, 1]], y[[1, 0]])],  # examples whose labels were swapped
                 [], None):
        with pytest.raises(ValueError):
            scenario.batches_of_examples(junk, x, y)


# ------------------------------------------------------------------------------ handout 004, graded

def test_a_broken_softmax_costs_the_softmax_question_only(grader, make_submission):
    report = grader.grade(make_submission({"softmax": "def softmax(x):\n    return np.zeros(np.shape(x))\n"}))
    assert lost(report) == {"Q2.2.2"} | SCRIPT
    assert report.question("Q2.2.2").score == 0


def test_a_forward_that_applies_the_activation_twice_keeps_backwards(grader, make_submission):
    code = ("def forward(X, params, name='', activation=sigmoid):\n"
            "    pre_act = X @ params['W' + name] + params['b' + name]\n"
            "    post_act = activation(activation(pre_act))\n"
            "    params['cache_' + name] = (X, pre_act, post_act)\n"
            "    return post_act\n")
    report = grader.grade(make_submission({"forward": code}))
    assert lost(report) == {"Q2.2.1"} | SCRIPT
    assert report.question("Q2.3.1").score == report.question("Q2.3.1").auto_max


def test_a_junk_sigmoid_costs_its_checks_and_not_backwards(grader, make_submission):
    report = grader.grade(make_submission({"sigmoid": "def sigmoid(x):\n    return np.random.rand(*np.shape(x))\n"}))
    assert lost(report) == {"Q2.2.1"} | SCRIPT
    # forward itself is right: its check with the grader's softmax is the one Q2.2.1 check left
    assert 0 < report.question("Q2.2.1").score < 1


def test_batches_as_a_generator_earn_full_marks_with_a_driver_that_takes_a_list(grader, make_submission):
    code = ("def get_random_batches(x, y, batch_size):\n"
            "    order = np.random.permutation(len(x))\n"
            "    for start in range(0, len(x), batch_size):\n"
            "        idx = order[start:start + batch_size]\n"
            "        yield x[idx], y[idx]\n")
    driver = (CMU_REFERENCE / "python" / "run_q2.py").read_text()
    driver = driver.replace("batches = get_random_batches(x, y, 5)", "batches = list(get_random_batches(x, y, 5))")
    report = grader.grade(make_submission({"get_random_batches": code}, files={"python/run_q2.py": driver}))
    assert lost(report) == set(), {q: report.question(q).feedback for q in lost(report)}


def test_an_endless_generator_is_read_only_so_far(grader, make_submission):
    code = ("def get_random_batches(x, y, batch_size):\n"
            "    while True:\n"
            "        idx = np.random.permutation(len(x))[:batch_size]\n"
            "        yield x[idx], y[idx]\n")
    report = grader.grade(make_submission({"get_random_batches": code}))
    assert lost(report) == SCRIPT  # the course's driver calls len() on it and stops
    text = feedback(report, "Q2.4.1")
    assert "in no batch" in text or "more than one batch" in text


@pytest.mark.parametrize("rows", ["np.zeros", "np.random.random"])
def test_batches_of_junk_rows_earn_nothing(grader, make_submission, rows):
    code = ("def get_random_batches(x, y, batch_size):\n"
            f"    return [({rows}((batch_size, x.shape[1])), {rows}((batch_size, y.shape[1])))\n"
            "            for _ in range(len(x) // batch_size)]\n")
    report = grader.grade(make_submission({"get_random_batches": code}))
    assert report.question("Q2.4.1").score == 0, feedback(report, "Q2.4.1")
    # the shuffle check is not read: rows that are no examples have no order to judge
    assert "shuffles: 2 cases, e.g. case 1 (B=" in feedback(report, "Q2.4.1")
    assert "could not read the batches" in feedback(report, "Q2.4.1")


@pytest.mark.parametrize("checker", [
    ("    params['grad_' + k] = grad\n", "    pass\n"),                                      # never computed
    ("    params['grad_' + k] = grad\n", "    params['grad_' + k] = params_orig['grad_' + k].copy()\n"),
    ("    params['grad_' + k] = grad\n", "    params['grad_' + k] = np.zeros_like(v)\n"),
])
def test_a_gradient_checker_that_computes_nothing_earns_nothing(grader, make_submission, checker):
    driver = (CMU_REFERENCE / "python" / "run_q2.py").read_text()
    assert driver.count(checker[0]) == 1
    report = grader.grade(make_submission(files={"python/run_q2.py": driver.replace(*checker)}))
    assert lost(report) == {"Q2.5.1"}
    assert report.question("Q2.5.1").score == 0


def test_initialize_weights_with_zeros_earns_nothing(grader, make_submission):
    code = ("def initialize_weights(in_size, out_size, params, name=''):\n"
            "    params['W' + name] = np.zeros((in_size, out_size))\n"
            "    params['b' + name] = np.zeros(out_size)\n")
    report = grader.grade(make_submission({"initialize_weights": code}))
    assert report.question("Q2.1.2").score == 0


def test_the_blank_starter_earns_nothing_and_nothing_waits_for_a_ta(grader):
    report = grader.grade(ROOT / "specs" / "cmu-hw5" / "starter", trusted=True)
    for qid in FUNCTION_QUESTIONS:
        q = report.question(qid)
        assert q.score == 0 and q.auto_max == q.max_score, (qid, q.auto_max, q.feedback)
    assert "shape" in feedback(report, "Q2.4.1")  # run_q2.py's weights are None: refused, not judged
