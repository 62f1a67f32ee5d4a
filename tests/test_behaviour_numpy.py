"""Numpy hand-ins judged by what they do, not by their variable names: the exact threshold network
(handout 001 Q1), momentum read from a script's parameter updates (handout 004 Q5.1.2, 000 Q3.1.2)
and PCA projections found by shape (handout 004 Q6.1, Q6.3)."""
from __future__ import annotations

import importlib
import sys
import types
from fractions import Fraction

import numpy as np
import pytest

from autograder.rubric import expr
from autograder.rubric.expr import (momentum_gamma, momentum_share, projection_dims, projection_psnr,
                                    step_network)
from autograder.rubric.schema import load
from autograder.worker.arrays import data_arrays, projections
from autograder.worker.updates import parameter_updates
from conftest import ROOT

STRICT = np.array([[-1, 1, 0, 0, 0], [0, -1, 1, 0, 0], [0, 0, -1, 1, 0], [0, 0, 0, -1, 1]], dtype=float)


# ------------------------------------------------------------------ exact threshold network


def fraction_network(X, W1, b1, w2, b2) -> np.ndarray:
    """The oracle: every float read as the exact fraction it is."""
    out = []
    for row in X:
        x = [Fraction(float(v)) for v in row]
        h = [1 if sum((Fraction(float(w)) * v for w, v in zip(wr, x)), Fraction(float(b))) >= 0 else 0
             for wr, b in zip(W1, b1)]
        z = sum((Fraction(float(w)) * v for w, v in zip(w2, h)), Fraction(float(b2)))
        out.append(1.0 if z >= 0 else 0.0)
    return np.array(out)


def inputs_with_ties(rng, n=400) -> np.ndarray:
    X = -np.sort(-rng.uniform(-10, 10, (n, 5)), axis=1)
    gaps = rng.integers(0, 4, n)
    X[np.arange(n), gaps + 1] = X[np.arange(n), gaps]          # one pair of equal neighbours
    X[: n // 4] *= 1e6
    X[n // 4: n // 2] *= 1e-6
    return np.concatenate([X, X + rng.normal(0, 1e-6, X.shape), rng.normal(0, 3, (n, 5))])


@pytest.mark.parametrize("scale", [1.0, 3.5, 0.1, 1e-3, 7.0 / 3.0])
def test_threshold_network_matches_exact_fractions(scale):
    rng = np.random.default_rng(0)
    X = inputs_with_ties(rng)
    W1, w2, b2 = STRICT * scale, -np.ones(4) * scale, 0.5 * scale
    got = step_network(X, W1, np.zeros(4), w2, b2)
    assert np.array_equal(got, fraction_network(X, W1, np.zeros(4), w2, b2))
    ties = np.any(np.diff(X, axis=1) == 0, axis=1)
    strict = np.all(np.diff(X, axis=1) < 0, axis=1)
    assert not got[ties].any()                      # a strict network, however scaled, rejects ties
    assert np.array_equal(got[~ties], strict[~ties])


def test_threshold_network_random_weights_match_fractions():
    rng = np.random.default_rng(1)
    X = np.round(inputs_with_ties(rng, 100), 3)
    for _ in range(5):
        W1, b1 = rng.normal(size=(4, 5)), rng.normal(size=4) * 1e-3
        w2, b2 = rng.normal(size=4), rng.normal()
        assert np.array_equal(step_network(X, W1, b1, w2, b2), fraction_network(X, W1, b1, w2, b2))


def test_threshold_network_rejects_broken_weights():
    X = np.ones((3, 5))
    assert np.isnan(step_network(X, np.full((4, 5), np.nan), np.zeros(4), np.ones(4), 0.0)).all()
    with pytest.raises(ValueError):
        step_network(X, np.ones((3, 5)), np.zeros(4), np.ones(4), 0.0)


def test_equal_neighbours_decided_exactly_however_far_apart_the_exponents():
    """Weights 1e-300 and 1e300 in one net: the integer sums are long, never rounded."""
    X = np.array([[1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0, 0.0]])
    W1 = np.zeros((1, 5))
    W1[0, :2] = [-1e-300, 1e-300]
    assert list(step_network(X, W1, [0.0], [1.0], -0.5)) == [1.0, 0.0]


# ------------------------------------------------------------------ momentum, judged from updates


def simulated_updates(rule: str, gamma=0.9, states=6, seed=0, start=0.0) -> dict:
    """A parameter_updates(...) record of two parameters trained by ``rule`` on random gradients."""
    rng = np.random.default_rng(seed)
    params = {}
    for key, shape in (("Wlayer1", (20, 8)), ("blayer1", (8,))):
        W = rng.normal(size=shape)
        M = np.full(shape, start)
        v_adam = np.zeros(shape)
        values, grads = [W.copy()], [np.full(shape, np.nan)]
        for k in range(1, states):
            G = rng.normal(size=shape)
            lr = 1e-2 * 0.9 ** k
            if rule == "handout":
                M = gamma * M - lr * G
                W = W + M
            elif rule == "torch":
                M = gamma * M + G
                W = W - 1e-2 * M
            elif rule == "sgd":
                W = W - lr * G
            elif rule == "rmsprop":
                v_adam = 0.9 * v_adam + 0.1 * G ** 2
                W = W - lr * G / (np.sqrt(v_adam) + 1e-8)
            values.append(W.copy())
            grads.append(G)
        params[key] = {"values": np.stack(values), "grads": np.stack(grads)}
    return {"calls": 4 * states, "states": states, "params": params}


@pytest.mark.parametrize("rule, gamma, share", [
    ("handout", 0.9, 1.0), ("torch", 0.9, 1.0), ("handout", 0.5, 1.0), ("handout", 0.99, 1.0),
    ("sgd", 0.0, 0.0)])
def test_momentum_is_fitted_from_the_parameters_movements(rule, gamma, share):
    updates = simulated_updates(rule, gamma)
    assert momentum_share(updates) == share
    assert momentum_gamma(updates) == pytest.approx(gamma, abs=1e-9)


def test_accumulators_that_do_not_start_at_zero_keep_gamma_but_lose_the_share():
    updates = simulated_updates("handout", 0.9, start=0.05)
    assert momentum_share(updates) == 0.0
    assert momentum_gamma(updates) == pytest.approx(0.9, abs=1e-9)


def test_an_update_rule_that_is_not_momentum_fits_no_gamma():
    updates = simulated_updates("rmsprop")
    assert momentum_share(updates) == 0.0
    assert np.isnan(momentum_gamma(updates))


def test_a_parameter_that_never_moves_costs_its_share():
    updates = simulated_updates("handout")
    frozen = updates["params"]["blayer1"]
    frozen["values"] = np.repeat(frozen["values"][:1], len(frozen["values"]), axis=0)
    assert momentum_share(updates) == 0.5


@pytest.mark.parametrize("junk", [
    None, {}, "text", {"params": "x"}, {"params": {"W": {"values": "a", "grads": "b"}}},
    {"params": {"W": {"values": np.ones((6, 3)), "grads": np.ones((5, 3))}}},
    {"params": {"W": {"values": np.full((6, 3), np.nan), "grads": np.ones((6, 3))}}},
    {"params": {"W": {"values": np.ones((2, 3)), "grads": np.ones((2, 3))}}}])
def test_momentum_metrics_survive_junk(junk):
    assert momentum_share(junk) == 0.0
    assert np.isnan(momentum_gamma(junk))


# ------------------------------------------------------------------ parameter_updates in a worker

TINY_NN = """
import numpy as np

def forward(X, params, name='layer1'):
    return X @ params['W' + name] + params['b' + name]
"""

# a training loop in the course's style: momentum kept in a dict of its own, inside a function
TRAIN_WITH_MOMENTUM = """
import numpy as np
from {nn} import forward

rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 5)), rng.normal(size=(64, 3))
params = {{'Wlayer1': rng.normal(size=(5, 3)), 'blayer1': np.zeros(3)}}

def train(lr, gamma):
    velocity = {{k: np.zeros_like(v) for k, v in params.items()}}
    for epoch in range(100):
        for i in range(0, 64, 16):
            xb, yb = x[i:i + 16], y[i:i + 16]
            try:
                delta = 2 * (forward(xb, params) - yb)
            except Exception:
                continue
            params['grad_Wlayer1'] = xb.T @ delta
            params['grad_blayer1'] = delta.sum(axis=0)
            for k in ('Wlayer1', 'blayer1'):
                velocity[k] = gamma * velocity[k] - lr * params['grad_' + k]
                params[k] = params[k] + velocity[k]

train(1e-3, {gamma})
FINISHED = True
open('finished.txt', 'w').write('the run was not stopped')
"""


@pytest.fixture
def script_folder(tmp_path, monkeypatch):
    """A folder with a course-style module next to the scripts, imported as a worker's first run
    would have imported it."""
    name = f"tinynn_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(TINY_NN)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield tmp_path, name, module
    sys.modules.pop(name, None)


def script_module(path) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    return module


@pytest.mark.parametrize("gamma", [0.9, 0.5])
def test_parameter_updates_records_the_first_updates_and_stops_the_run(script_folder, gamma):
    folder, name, nn = script_folder
    original = nn.forward
    script = folder / "train.py"
    script.write_text(TRAIN_WITH_MOMENTUM.format(nn=name, gamma=gamma))
    updates = parameter_updates(script_module(script))
    assert updates["states"] == 6 and set(updates["params"]) == {"Wlayer1", "blayer1"}
    assert updates["params"]["Wlayer1"]["values"].shape == (6, 5, 3)
    assert not (folder / "finished.txt").exists()            # stopped after six states
    assert nn.forward is original                              # the watched function is restored
    assert momentum_share(updates) == 1.0
    assert momentum_gamma(updates) == pytest.approx(gamma, abs=1e-9)


def test_parameter_updates_watches_a_forward_the_script_defines_itself(tmp_path):
    script = tmp_path / "own.py"
    script.write_text(TRAIN_WITH_MOMENTUM.format(nn="math", gamma=0.9).replace(
        "from math import forward", TINY_NN))
    updates = parameter_updates(script_module(script))
    assert updates["states"] == 6
    assert momentum_gamma(updates) == pytest.approx(0.9, abs=1e-9)


def test_a_script_that_never_calls_forward_records_nothing(tmp_path):
    script = tmp_path / "inline.py"
    script.write_text("import numpy as np\nparams = {'W1': np.ones(3), 'b1': np.ones(3)}\n"
                      "for _ in range(3):\n    params['W1'] = params['W1'] - 0.1\n")
    updates = parameter_updates(script_module(script))
    assert updates["states"] == 0 and updates["params"] == {}
    assert momentum_share(updates) == 0.0


def test_a_script_that_crashes_part_way_keeps_what_was_recorded(script_folder):
    folder, name, _ = script_folder
    script = folder / "crash.py"
    script.write_text(TRAIN_WITH_MOMENTUM.format(nn=name, gamma=0.9).replace(
        "        for i in range(0, 64, 16):", "        if epoch == 1:\n            raise SystemExit(3)\n"
                                             "        for i in range(0, 64, 16):"))
    updates = parameter_updates(script_module(script))
    assert updates["states"] == 4                 # the start and three updates; the fourth is not seen
    assert momentum_share(updates) == 0.0         # too few to judge


# ------------------------------------------------------------------ PCA projections found by shape

SIDE, DIMS = 64, 6


def low_rank_data(rng, n, side=SIDE, dims=DIMS):
    """Images near a dims-dimensional subspace around a mean, in [0, 1]."""
    basis = np.linalg.qr(rng.normal(size=(side, dims)))[0]
    mean = rng.uniform(0.3, 0.7, side)
    codes = rng.normal(0, 0.3, (n, dims))
    return np.clip(mean + codes @ basis.T + rng.normal(0, 0.02, (n, side)), 0, 1)


def pca_basis(train, dims):
    return np.linalg.svd(train - train.mean(0), full_matrices=False)[2][:dims].T


def test_projections_are_found_by_shape_wherever_they_are_kept():
    rng = np.random.default_rng(0)
    train = low_rank_data(rng, 500)
    basis = pca_basis(train, DIMS)
    mean = train.mean(0)
    found_in = {
        "a dict entry": {"pca": {"components": basis}},
        "the transposed rows": {"V6": basis.T},
        "a projector": {"P": basis @ basis.T},
        "reconstructions only": {"recon": (train - mean) @ basis @ basis.T + mean},
        "rows rebuilt in a loop": {"rows": [(x - mean) @ basis @ basis.T + mean for x in train[:200]]},
    }
    for where, names in found_in.items():
        module = types.ModuleType("run_q6")
        rotation = np.linalg.qr(rng.normal(size=(SIDE, SIDE)))[0]   # orthogonal, not a projector
        module.__dict__.update(names, train_x=train, images=train[:DIMS], U=rotation)
        found = projections(module, SIDE, most=16)
        assert len(found) == 1, where
        assert projection_dims(found, DIMS, SIDE) == DIMS, where
        assert np.allclose(found[0] @ found[0].T, basis @ basis.T, atol=1e-8), where


def test_data_arrays_reaches_into_dicts_and_lists_but_not_modules_or_functions():
    module = types.ModuleType("m")
    module.__dict__.update(a=np.ones(3), d={"x": np.ones(2), "deep": {"y": np.ones(4)}}, l=[1, np.zeros(5)],
                           np=np, f=lambda: None, text="x")
    assert sorted(where for where, _ in data_arrays(module)) == ["a", "d['deep']['y']", "d['x']", "l[1]"]


def test_nothing_is_found_among_plain_data():
    rng = np.random.default_rng(1)
    module = types.ModuleType("m")
    module.__dict__.update(train_x=rng.uniform(size=(300, SIDE)), batch=rng.uniform(size=(DIMS, SIDE)),
                           cov=np.cov(rng.uniform(size=(300, SIDE)).T), lrank=None)
    assert projections(module, SIDE, most=16) == []
    assert np.isnan(projection_dims([], DIMS, SIDE))


def test_the_judge_reconstructs_held_out_images_with_the_projection():
    rng = np.random.default_rng(2)
    data = low_rank_data(rng, 1200)
    train, held_out = data[:1000], data[1000:]
    good = projection_psnr([pca_basis(train, DIMS)], held_out, train, DIMS)
    fewer = projection_psnr([pca_basis(train, 2)], held_out, train, DIMS)
    random = projection_psnr([np.linalg.qr(rng.normal(size=(SIDE, DIMS)))[0]], held_out, train, DIMS)
    assert good > fewer > random
    # more dimensions than allowed are not judged; several candidates: the best counts
    assert projection_psnr([pca_basis(train, 20)], held_out, train, DIMS) == -np.inf
    assert projection_psnr([pca_basis(train, 20), pca_basis(train, DIMS)], held_out, train, DIMS) == good
    # a basis of uncentred data is judged without the mean, as its script would use it
    raw = np.linalg.svd(train, full_matrices=False)[2][:DIMS].T
    assert projection_psnr([raw], held_out, train, DIMS) > random


@pytest.mark.parametrize("junk", [None, "x", [np.full((SIDE, 3), np.nan)], [np.ones((5, 5))], [[1, "a"]],
                                  [np.zeros((SIDE, 3))]])
def test_projection_metrics_survive_junk(junk):
    rng = np.random.default_rng(3)
    data = low_rank_data(rng, 50)
    assert np.isnan(projection_dims(junk, DIMS, SIDE))
    assert projection_psnr(junk, data, data, DIMS) == -np.inf


# ------------------------------------------------------------------ the rubrics read no names


@pytest.mark.parametrize("spec, qids", [("cmu-hw5", ["Q5.1.2", "Q6.1", "Q6.3"]), ("gist-ca2", ["Q3.1.2"])])
def test_rubrics_find_momentum_and_projections_by_behaviour(spec, qids):
    rubric = load(ROOT / "specs" / f"{spec}.yaml")
    for question in rubric.questions:
        if question.id in qids:
            text = str([c.probe.model_dump() for c in question.checks if getattr(c, "probe", None)])
            assert "m_" not in text and "lrank" not in text and "recon_valid" not in text, question.id
            assert "parameter_updates" in text or "projections" in text, question.id


def test_judge_functions_are_registered():
    for name in ("step_network", "momentum_share", "momentum_gamma", "projection_dims", "projection_psnr"):
        assert expr.FUNCTIONS[name] is getattr(expr, name)
