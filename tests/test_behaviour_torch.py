"""PyTorch checks judge behaviour, not names: models found wherever a script builds them, the one a
question is about chosen by what it is and how it was trained, searches counted by their training
runs, and structure credited only for a model that learned. Worker helpers on tiny models (a few
optimizer steps at most); one slow test grades an untrained network in the sandbox."""
from __future__ import annotations

import ast
import gc
import itertools
import math

import numpy as np
import pytest

from autograder.rubric import expr

torch = pytest.importorskip("torch")
nn = torch.nn

from autograder.worker import figures, instances, models, watch  # noqa: E402

_sources = itertools.count()


@pytest.fixture
def loading():
    """A fresh source key, 'loading' as a script does between figures.begin and figures.end; the
    names dict a probe would pass as the script's module."""
    instances.install(torch)
    key = f"script{next(_sources)}"
    figures.begin(key)
    try:
        yield {figures.KEY: key}
    finally:
        figures.end()


def fit(model, steps=3, manual=False, lr=0.1, x=None):
    """A few steps of training on random data (by an optimizer or by hand)."""
    x = torch.randn(16, 4) if x is None else x
    y = torch.randint(0, 3, (len(x),))
    opt = None if manual else torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        if manual:
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
        else:
            opt.step()
    return model


def step_through(model, opt, batches, forward=None):
    """The usual training loop over ``batches`` of (x, y)."""
    for x, y in batches:
        loss = nn.functional.cross_entropy((forward or model)(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def run_and_finish(main):
    """Run a script's ``main()`` as it loads, then let what it dropped die."""
    main()
    gc.collect()
    figures.end()


def mlp(hidden=8):
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))


# ------------------------------------------------------------------------------------ finding models


def test_a_model_built_and_trained_inside_main_is_found_after_main_returned(loading):
    def main():
        fit(mlp(16), steps=5)            # never bound to a global name
        mlp(32)(torch.randn(2, 4))       # larger, called, never trained
        nn.CrossEntropyLoss()(torch.randn(2, 3), torch.tensor([0, 1]))

    main()
    gc.collect()
    figures.end()
    model = models.find_model(loading)
    assert models.param_shapes(model)[0] == [16, 4]
    assert instances.facts(model) == {"trained": True, "calls": 5, "created": instances.facts(model)["created"]}


def test_the_trained_model_wins_over_a_larger_untrained_global_and_a_conventional_name(loading):
    trained = fit(mlp(8), steps=3)
    names = {**loading, "model": mlp(64), "clf": trained}
    names["model"](torch.randn(2, 4))
    figures.end()
    assert models.find_model(names) is trained
    assert models.find_model(names, "model") is names["model"]  # a name the rubric gives still wins


def test_equally_trained_models_the_first_built_wins_and_longer_training_beats_it(loading):
    first, second = fit(mlp(8), steps=4), fit(mlp(8), steps=4)
    figures.end()
    assert models.find_model(loading) is first
    figures.begin(loading[figures.KEY])
    third = fit(mlp(8), steps=9)
    figures.end()
    assert models.find_model(loading) is third
    assert second is not third


def test_parameter_count_and_shapes_prefer_the_model_the_question_is_about(loading):
    wanted = fit(mlp(8), steps=2)                      # 4-8-3: 67 parameters
    other = fit(mlp(5), steps=20)                      # trained longer, another size
    zero = mlp(8)
    with torch.no_grad():
        for p in zero.parameters():
            p.zero_()
    fit(zero, steps=2)                                 # same size, same steps, built later
    figures.end()
    assert models.find_model(loading) is other
    assert models.find_model(loading, params=67) is wanted
    assert models.find_model(loading, params=[67, 999]) is wanted
    assert models.find_model(loading, shapes=[[4, 8], [8, 3]]) is wanted   # dense weights either way round
    assert models.find_model(loading, params=12345) is other               # no match: every model again


def test_layers_trained_through_a_parents_forward_count_for_the_parent(loading):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = nn.Linear(4, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    def main():
        net = Net()
        x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        step_through(net, opt, [(x, y)] * 4, forward=net.forward)  # layers are the top-level calls

    run_and_finish(main)
    model = models.find_model(loading)
    assert type(model).__name__ == "Net"                  # the parent is kept, not a layer
    assert instances.facts(model)["trained"]
    assert len(models.training_runs(loading)) == 1        # one run, not one per layer


def test_like_and_unlike_tell_two_models_apart_and_find_model_with_looks_everywhere(loading):
    def main():
        fit(nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.1), nn.Linear(6, 3)), steps=3)
        fit(mlp(6), steps=3)

    main()
    figures.end()
    assert models.count_layers(models.find_model(loading, like="Dropout"), "Dropout") == 1
    assert models.count_layers(models.find_model(loading, unlike="Dropout"), "Dropout") == 0
    with pytest.raises(LookupError, match="Conv2d"):
        models.find_model(loading, like="Conv2d")


def test_calls_while_probes_run_are_not_recorded(loading):
    figures.end()                                   # the load is over
    before = len(instances._modules)
    fit(mlp(8), steps=3)
    assert len(instances._modules) == before
    with pytest.raises(LookupError):
        models.find_model(loading)


def test_a_model_whose_training_left_its_parameters_alone_is_not_trained(loading):
    frozen = fit(mlp(8), steps=5, lr=0.0)           # learning rate 0: steps taken, nothing learned
    figures.end()
    assert instances.facts(frozen) == {"trained": False, "calls": 5, "created": instances.facts(frozen)["created"]}
    assert models.training_runs(loading) == []


# ------------------------------------------------------------------------------------ memory bounds


def test_only_the_longest_trained_models_are_kept_and_the_dead_leave_summaries(loading, monkeypatch):
    monkeypatch.setattr(instances, "MAX_KEPT", 2)

    def search():
        for steps in (2, 3, 4, 5):
            fit(mlp(4 + steps), steps=steps)

    search()
    gc.collect()
    kept = instances._kept[loading[figures.KEY]]
    assert len(kept) == 2
    figures.end()
    assert sorted(instances.facts(m)["calls"] for m, _ in models.candidate_models(loading)) == [4, 5]
    runs = models.training_runs(loading)
    assert [r["calls"] for r in runs] == [2, 3, 4, 5]       # the dead runs are summarised
    assert all(r["params"] > 0 and r["first"] <= r["last"] for r in runs)


def test_the_number_of_live_records_is_capped(loading, monkeypatch):
    monkeypatch.setattr(instances, "MAX_LIVE", len(instances._modules) + 3)
    layers = [nn.Linear(2, 2) for _ in range(10)]
    assert sum(1 for layer in layers if id(layer) in instances._modules) == 3
    del layers
    gc.collect()
    assert all(r.ref() is not None for r in instances._modules.values())  # dead ones are forgotten


def test_a_module_dying_in_a_loop_costs_no_lasting_record(loading):
    before = len(instances._modules)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    for _ in range(50):
        nn.CrossEntropyLoss()(x, y)       # built and dropped every iteration
    gc.collect()
    assert len(instances._modules) == before


# ------------------------------------------------------------------------------ optimizers, loaders


def test_a_dropped_optimizer_and_loader_are_read_from_their_summaries(loading):
    def main():
        data = torch.utils.data.TensorDataset(torch.randn(40, 4), torch.randint(0, 3, (40,)))
        loader = torch.utils.data.DataLoader(data, batch_size=8)
        model = mlp(8)
        opt = torch.optim.Adam(model.parameters(), lr=0.003)
        for _ in range(2):
            step_through(model, opt, loader)

    run_and_finish(main)
    state = models.optimizer_state(models.find_optimizer(loading))
    assert state == {"type": "Adam", "lr": 0.003, "steps": 10.0}
    loader = models.find_loader(loading)
    assert (len(loader), len(loader.dataset)) == (5, 40)


def test_the_optimizer_that_stepped_most_wins_over_a_later_global(loading):
    first = mlp(8)
    kept_alive = torch.optim.SGD(first.parameters(), lr=0.5)
    for _ in range(6):
        first(torch.randn(2, 4)).sum().backward()
        kept_alive.step()
    later = torch.optim.Adam(mlp(8).parameters(), lr=0.1)
    figures.end()
    names = {**loading, "optimizer": later}
    assert models.find_optimizer(names) is kept_alive
    assert models.optimizer_state(kept_alive)["steps"] == 6.0        # SGD keeps no count: ours
    assert models.find_optimizer(names, "optimizer") is later


# ------------------------------------------------------------------------------------ watched functions


def _run(source: str, names=("hyperparam_tuning",)) -> dict:
    tree = watch.rewrite(ast.parse(source), list(names))
    namespace = {"__autograde_watch__": watch.wrap, "__name__": "__main__"}
    exec(compile(tree, "<student>", "exec"), namespace)  # noqa: S102 - test code
    return namespace


@pytest.mark.parametrize("layout", ["method", "staticmethod", "classmethod", "nested", "main_block"])
def test_hyperparam_tuning_is_watched_wherever_it_is_defined(layout):
    name = f"tuning_{layout}"
    body = {
        "method": f"class S:\n    def {name}(self, n):\n        return n + 1\nr = S().{name}(1)\n",
        "staticmethod": f"class S:\n    @staticmethod\n    def {name}(n):\n        return n + 1\nr = S.{name}(1)\n",
        "classmethod": f"class S:\n    @classmethod\n    def {name}(cls, n):\n        return n + 1\nr = S.{name}(1)\n",
        "nested": f"def main():\n    def {name}(n):\n        return n + 1\n    return {name}(1)\nr = main()\n",
        "main_block": f"if __name__ == '__main__':\n    def {name}(n):\n        return n + 1\n    r = {name}(1)\n",
    }[layout]
    namespace = _run(body, [name])
    assert namespace["r"] == 2
    assert watch.record_of(name)["calls"] == 1


def test_runs_trained_inside_a_watched_function_carry_its_name(loading):
    namespace = _run(
        "def hyperparam_tuning(fit, mlp):\n"
        "    for h in (4, 5, 6):\n"
        "        fit(mlp(h), steps=2, manual=True)\n",  # manual SGD: no optimizer at all
    )
    namespace["hyperparam_tuning"](fit, mlp)
    fit(mlp(9), steps=8)   # the final network, after the search
    gc.collect()
    figures.end()
    runs = models.training_runs(loading)
    assert [r["during"] for r in runs] == [["hyperparam_tuning"]] * 3 + [[]]
    assert expr.search_settings(runs, models.stepped_optimizers(loading), "hyperparam_tuning") == 3


def test_data_files_opened_while_loading_are_logged_with_their_time(loading, tmp_path):
    watch.watch_files_under(str(tmp_path))
    watch._install()
    (tmp_path / "fashion_mnist_test_images.npy").write_bytes(b"x")
    before = watch.tick()
    with open(tmp_path / "fashion_mnist_test_images.npy", "rb"):
        pass
    figures.end()
    with open(tmp_path / "fashion_mnist_test_images.npy", "rb"):   # during a probe: not logged
        pass
    opened = watch.opened_files(loading)
    assert [name for name, _ in opened] == ["fashion_mnist_test_images.npy"]
    assert opened[0][1] > before


# ------------------------------------------------------------------------------------ judge metrics


def test_counted_if_withholds_structure_credit_below_the_floor():
    assert expr.evaluate("counted_if(2, 0.9, 0.2)", {}) == 2
    with pytest.raises(expr.Untrained, match="held-out score 0.03 is below 0.2"):
        expr.evaluate("counted_if(2, 0.03, 0.2)", {})
    with pytest.raises(expr.Untrained, match="optimizer steps -1 is below 1"):
        expr.evaluate("counted_if(1, -1, 1, 'optimizer steps')", {})
    with pytest.raises(expr.Untrained):
        expr.counted_if(2, math.nan, 0.2)


def test_gain_over_mean_separates_a_trained_autoencoder_from_a_blank_one():
    rng = np.random.default_rng(0)
    truth = rng.random((50, 28, 28))
    assert expr.gain_over_mean(truth.reshape(50, 784), truth) == pytest.approx(1.0)
    assert expr.gain_over_mean(np.tile(truth.reshape(50, -1).mean(axis=0), (50, 1)), truth) == pytest.approx(0.0)
    assert expr.gain_over_mean(np.full((50, 784), 0.5), truth) < 0.1              # a sigmoid at zero
    assert expr.gain_over_mean(np.zeros((50, 10)), truth) == -math.inf             # a shape slip
    noisy = truth.reshape(50, -1) + rng.normal(0, 0.1, (50, 784))
    assert expr.gain_over_mean(noisy, truth) > 0.5


def run(created, calls, first, last, rows=(), during=()):
    return {"created": created, "calls": calls, "first": first, "last": last, "rows": list(rows),
            "during": list(during), "params": 10}


def test_a_search_bound_by_its_function_counts_runs_or_stepped_optimizers():
    inside = [run(i, 10, 10 * i, 10 * i + 9, during=["hyperparam_tuning"]) for i in range(1, 11)]
    final = run(20, 500, 200, 700)
    assert expr.search_settings(inside + [final], [], "hyperparam_tuning") == 10
    # one model re-initialised per setting: one run, ten optimizers that stepped inside the search
    optimizers = [{"steps": 5, "during": ["hyperparam_tuning"]}] * 10 + [{"steps": 0, "during": ["hyperparam_tuning"]}]
    assert expr.search_settings(inside[:1] + [final], optimizers, "hyperparam_tuning") == 10
    assert expr.search_test_files(inside, [["fashion_mnist_test_images.npy", 15]], ["train.npy"], "hyperparam_tuning") == 0
    assert expr.search_test_files(inside, [], ["fashion_mnist_test_images.npy"], "hyperparam_tuning") == 1
    assert expr.search_test_arrays(inside, [12000, 7919], "hyperparam_tuning", 7919) == 1
    tested = inside[:9] + [run(10, 10, 100, 109, rows=[64, 7919], during=["hyperparam_tuning"])]
    assert expr.search_test_arrays(tested, [], "hyperparam_tuning", 7919) == 1


def test_a_search_written_in_main_is_the_runs_before_the_final_network():
    search = [run(i, 40, 100 * i, 100 * i + 50, rows=[64, 3000]) for i in range(1, 11)]
    final = run(30, 3000, 2000, 5000, rows=[64, 7919])       # the final network may meet the test split
    landscape = run(31, 400, 6000, 6400)
    runs = search + [final, landscape]
    assert expr.search_settings(runs, [], "hyperparam_tuning") == 10
    assert expr.search_test_files(runs, [["fashion_mnist_test_images.npy", 1], ["fashion_mnist_test_images.npy", 5500]],
                                  [], "hyperparam_tuning") == 0      # read before and after the search
    assert expr.search_test_files(runs, [["fashion_mnist_test_images.npy", 450]], [], "hyperparam_tuning") == 1
    assert expr.search_test_arrays(runs, [], "hyperparam_tuning", 7919) == 0
    cheat = search[:-1] + [run(10, 40, 1000, 1050, rows=[7919])] + [final]
    assert expr.search_test_arrays(cheat, [], "hyperparam_tuning", 7919) == 1


def test_no_search_counts_nothing_and_as_a_violation():
    final = run(1, 3000, 10, 500)
    for runs in ([], [final]):
        assert expr.search_settings(runs, [], "hyperparam_tuning") == 0
        assert expr.search_test_files(runs, [], [], "hyperparam_tuning") == 1
        assert expr.search_test_arrays(runs, [], "hyperparam_tuning", 7919) == 1
    junk = [{"created": "x"}, None, 5, run(2, 1, 1, 1)]
    assert expr.search_settings(junk, [None, {"steps": "many"}], "hyperparam_tuning") == 0


# ------------------------------------------------------------------------------------ in the sandbox


@pytest.mark.slow
def test_an_untrained_cnn_earns_nothing_for_its_convolutions():
    """Handout 004's Q7.1.3 with zero epochs: before, the convolution count alone earned half."""
    import tempfile
    from pathlib import Path

    from autograder.grading import Grader
    from autograder.rubric.schema import load
    from autograder.validation import load_mutants, apply_mutant
    from conftest import ROOT

    rubric = load(ROOT / "specs" / "cmu-hw5.yaml")
    mutant = next(m for m in load_mutants(rubric) if m.name.startswith("NIST36 CNN never trained"))
    with Grader(rubric) as grader, tempfile.TemporaryDirectory() as tmp:
        folder = apply_mutant(rubric.path(rubric.reference), mutant, Path(tmp) / "m")
        question = next(q for q in grader.grade(folder, only={"Q7.1.3"}, trusted=True).questions if q.id == "Q7.1.3")
    assert question.score == 0
    assert "counted from 0.2" in " ".join(question.feedback)
