"""Handout 002 (TDT4265 assignment 2): the rubric's function checks, tolerated student variants, and
the small engine additions it needs (``call``, task-numbered ids, ``data.head``, IDX ``rows``).

The one-epoch MNIST training check is left to ``autograde validate --full`` (tests/test_validation.py):
here a small synthetic MNIST (1 200 training images) keeps every grade to a few seconds.
"""
from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from autograder import data
from autograder.data import digits, idx
from autograder.grading import Grader
from autograder.placement import HeadCache
from autograder.rubric import probe
from autograder.rubric.schema import load
from autograder.worker.scenario import SAFE_BUILTINS, call
from conftest import ROOT

SPEC = ROOT / "specs" / "tdt4265-a2.yaml"
REFERENCE = ROOT / "solution" / "tdt4265-a2"
TRAINING_CHECK = "a network trained for one epoch"


# ------------------------------------------------------------------ engine additions


def test_call_passes_only_the_keywords_a_signature_declares():
    def old(neurons_per_layer, use_improved_sigmoid, use_improved_weight_init):
        return (neurons_per_layer, use_improved_sigmoid, use_improved_weight_init)

    def new(neurons_per_layer, use_improved_sigmoid, use_improved_weight_init, use_relu, scale=2):
        return (neurons_per_layer, use_improved_sigmoid, use_improved_weight_init, use_relu, scale)

    kwargs = dict(neurons_per_layer=[4, 10], use_improved_sigmoid=True, use_improved_weight_init=False,
                  use_relu=False)
    assert call(old, **kwargs) == ([4, 10], True, False)
    assert call(new, **kwargs) == ([4, 10], True, False, False, 2)  # the default is kept

    class Model:  # a class: its __init__'s signature counts
        def __init__(self, a, b=1):
            self.args = (a, b)

    assert call(Model, a=3, c=9).args == (3, 1)
    assert call(lambda **kw: sorted(kw), a=1, z=2) == ["a", "z"]  # **kwargs receives everything

    def renamed(X_batch):
        return X_batch

    def with_stats(X, mean, std=1.0):
        return (X, mean, std)

    # positional arguments go in as they are; a keyword naming an already filled parameter is dropped
    assert call(renamed, 5, mean=1, std=2) == 5
    assert call(with_stats, 5, mean=1, std=2) == (5, 1, 2)
    assert call(with_stats, 5, X=7, mean=1) == (5, 1, 1.0)
    with pytest.raises(TypeError):
        call(old, neurons_per_layer=[4, 10])  # a required argument left out fails like a plain call
    assert SAFE_BUILTINS["call"] is call


def test_task_numbered_question_ids_load(tmp_path):
    rubric = load(SPEC)
    assert [q.id for q in rubric.questions][:3] == ["T1a", "T1b", "T2a"]
    assert rubric.total_points == pytest.approx(8.0)  # the handout's 8 % of the grade
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text().replace("id: T1a", "id: X1a"))
    with pytest.raises(ValueError, match="questions"):
        load(bad)


def test_head_of_keeps_the_first_rows_of_a_pickled_or_npz_dict(tmp_path):
    content = {"training_images": np.arange(50).reshape(25, 2), "training_labels": np.arange(25),
               "test_images": np.ones((7, 2))}
    with open(tmp_path / "d.pkl", "wb") as fh:
        pickle.dump(content, fh)
    np.savez(tmp_path / "d.npz", **content)
    head = {"training_images": 10, "training_labels": 10}
    head_of = HeadCache(tmp_path / "heads").head_of
    for name in ("d.pkl", "d.npz"):
        out = head_of(tmp_path / name, head)
        if name.endswith(".pkl"):
            with open(out, "rb") as fh:
                got = pickle.load(fh)
        else:
            got = dict(np.load(out))
        assert got["training_images"].shape == (10, 2) and list(got["training_labels"]) == list(range(10))
        assert got["test_images"].shape == (7, 2)  # entries not named are kept whole
        assert head_of(tmp_path / name, head) == out  # made once


def test_head_of_cuts_idx_and_npy_files_named_in_head(tmp_path):
    from autograder.data import idx
    from autograder.rubric.schema import DataPlacement

    idx.write(tmp_path / "train-images-idx3-ubyte", np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2))
    np.save(tmp_path / "test_labels.npy", np.arange(9))
    head = {"train-images-idx3-ubyte": 3, "test_labels.npy": 4}
    head_of = HeadCache(tmp_path / "heads").head_of
    cut = head_of(tmp_path / "train-images-idx3-ubyte", head)
    assert cut.name == "train-images-idx3-ubyte" and idx.read(cut).shape == (3, 2, 2)  # torchvision finds it
    assert list(np.load(head_of(tmp_path / "test_labels.npy", head))) == [0, 1, 2, 3]
    np.save(tmp_path / "other.npy", np.arange(9))
    assert head_of(tmp_path / "other.npy", head) == tmp_path / "other.npy"         # not named: whole
    with pytest.raises(ValueError, match="not listed"):                            # a misspelt name
        DataPlacement(dataset="mnist", files=["MNIST/raw/train-images-idx3-ubyte"], next_to="q",
                      head={"train-images-idx3-ubyt": 3})


def test_dataset_inputs_read_idx_files_and_row_ranges(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    (folder / "MNIST" / "raw").mkdir(parents=True)
    idx.write(folder / "MNIST" / "raw" / "train-labels-idx1-ubyte", np.arange(30) % 10)
    monkeypatch.setattr(data, "resolve", lambda name: data.registry.Found(name, folder, "synthetic", "test"))
    ref = probe.DataRef(name="mnist", file="MNIST/raw/train-labels-idx1-ubyte", rows=(20, 25))
    got = probe.load_data_array(ref)
    assert list(got) == [0, 1, 2, 3, 4] and got.flags.writeable


# ------------------------------------------------------------------ the rubric's function checks


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """A data directory with a small synthetic MNIST: 1 200 training and 200 test images."""
    root = tmp_path_factory.mktemp("data")
    folder = root / data.DATASETS["mnist"].folder
    folder.mkdir()
    digits.make_mnist(folder, 0, scale=0.02)
    (folder / data.registry.MARKER).write_text(json.dumps({"source": "test, scale 0.02"}))
    return root


@pytest.fixture(scope="module")
def tdt_grader(small_mnist):
    """The rubric without its training check, on a small synthetic MNIST (data.head still applies)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTOGRADE_DATA", str(small_mnist))
    rubric = load(SPEC)
    for q in rubric.questions:
        q.checks = [c for c in q.checks if not c.name.startswith(TRAINING_CHECK)]
    with Grader(rubric) as grader:
        yield grader
    mp.undo()


def scores(report) -> dict[str, float]:
    return {q.id: q.score for q in report.questions if not q.manual and not q.penalty}


def full(report) -> dict[str, float]:
    return {q.id: q.auto_max for q in report.questions if not q.manual and not q.penalty}


def variant(tmp_path, edits: dict[str, list[tuple[str, str]]]):
    dest = tmp_path / "student"
    shutil.copytree(REFERENCE, dest)
    for name, pairs in edits.items():
        text = (dest / name).read_text()
        for find, replace in pairs:
            assert text.count(find) == 1, find
            text = text.replace(find, replace)
        (dest / name).write_text(text)
    return dest


def test_reference_earns_full_marks_on_the_function_checks(tdt_grader):
    report = tdt_grader.grade(REFERENCE)
    assert scores(report) == full(report), [q.feedback for q in report.questions]


def test_blank_starter_earns_nothing_and_the_grade_ends_cleanly(tdt_grader):
    report = tdt_grader.grade(ROOT / "specs" / "tdt4265-a2" / "starter")
    assert not any(scores(report).values())
    assert not report.fatal


def test_real_student_variants_are_tolerated(tdt_grader, tmp_path):
    """A later year's 4th flag use_relu (no default), pre_process_images(X, mean, std), and the real
    MNIST statistics typed in as constants (this copy of MNIST is synthetic) in a
    pre_process_images(X_batch) keep full marks."""
    submission = variant(tmp_path, {"task2a.py": [
        ("                 use_improved_weight_init: bool  # Task 3a hyperparameter\n",
         "                 use_improved_weight_init: bool,  # Task 3a hyperparameter\n"
         "                 use_relu: bool\n"),
        ("def pre_process_images(X: np.ndarray):\n",
         "def pre_process_images(X: np.ndarray, mean: float, std: float):\n"),
        ("    mean, std = training_set_mean_std()\n", ""),
    ]})
    report = tdt_grader.grade(submission)
    assert scores(report) == full(report), [q.feedback for q in report.questions]

    typed_in = variant(tmp_path / "b", {"task2a.py": [
        ("    mean, std = training_set_mean_std()\n", "    mean, std = 33.32, 78.57\n"),
        ("def pre_process_images(X: np.ndarray):\n", "def pre_process_images(X_batch: np.ndarray):\n    X = X_batch\n")]})
    report = tdt_grader.grade(typed_in)
    assert scores(report) == full(report), [q.feedback for q in report.questions]


def test_backward_without_the_derivative_loses_the_gradient_questions(tdt_grader, tmp_path):
    submission = variant(tmp_path, {"task2a.py": [(
        "delta = (delta @ self.ws[layer].T) * self.activation_derivative(self.zs[layer - 1])",
        "delta = (delta @ self.ws[layer].T)")]})
    report = tdt_grader.grade(submission)
    lost = {q for q, s in scores(report).items() if s < full(report)[q]}
    assert lost == {"T2b", "T2c", "T3b", "T3c", "T4c"}
    t2b = next(q for q in report.questions if q.id == "T2b")
    assert any("central differences" in line for line in t2b.feedback)


def test_the_sandbox_copy_of_mnist_holds_only_the_rows_the_course_reads(small_mnist, tmp_path, monkeypatch):
    """data.head: the placed mnist.pkl keeps the first training rows (utils.load_full_mnist's) and the
    test split; the training rows the judge holds out (T2c) are not in the submission's folder."""
    from autograder.intake import stage
    from autograder.placement import HeadCache, provide_data

    folder = small_mnist / data.DATASETS["mnist"].folder
    monkeypatch.setenv("AUTOGRADE_DATA", str(small_mnist))
    rubric = load(SPEC)
    rubric.data[0].head = {"training_images": 500, "training_labels": 500}  # 20 000 of 60 000 in the spec
    sub = stage(REFERENCE, tmp_path / "staged", rubric.files, SPEC.parent)
    provide_data(sub, rubric, HeadCache(tmp_path / "heads"))
    with open(sub.files["task2a"].parent / "data" / "mnist.pkl", "rb") as fh:
        placed = pickle.load(fh)
    assert placed["training_images"].shape == (500, 784) and placed["training_labels"].shape == (500,)
    assert placed["test_images"].shape == (200, 784)  # the course's validation split, whole
    # the held-out rows (here 500 on) are nowhere in the staged submission
    held_out = idx.read(folder / "MNIST" / "raw" / "train-images-idx3-ubyte")[500:].reshape(-1, 784)
    assert not any((placed["training_images"] == row).all(1).any() for row in held_out[:20])
    # mnist.py is the offline copy, even if the student's would download
    assert "never" in (sub.files["mnist"]).read_text() and "urlretrieve" not in sub.files["mnist"].read_text()


def test_sample_submissions(tdt_grader):
    """fixtures/submissions/tdt4265-a2: ingrid (later-year variants, LeCun's momentum form) keeps full
    marks; ola (per-split statistics, the improved sigmoid's slope without 2/3, momentum's sign) loses
    exactly the questions of those slips."""
    samples = ROOT / "fixtures" / "submissions" / "tdt4265-a2"
    report = tdt_grader.grade(samples / "ingrid")
    assert scores(report) == full(report), [q.feedback for q in report.questions]
    report = tdt_grader.grade(samples / "ola")
    lost = {q for q, s in scores(report).items() if s < full(report)[q]}
    assert lost == {"T2a", "T3b", "T3c", "T4c"}
