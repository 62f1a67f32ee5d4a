"""The data layer: resolution order, formats students' code reads, and realism of the synthetic sets."""
from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pytest
import scipy.io

from autograder import data
from autograder.data import digits, fashion, glyphs, idx, manifest, nist36
from conftest import ROOT, make_small_data

SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    """A data directory with small synthetic sets (the full sizes are exercised by `autograde data make`)."""
    return make_small_data(tmp_path_factory.mktemp("data"), ("nist36", "mnist", "emnist-balanced"), scale=0.02)


def test_nist36_has_the_handout_format(small_root):
    found = data.resolve("nist36", small_root, make=False)
    assert found.origin == "synthetic"
    mat = scipy.io.loadmat(found.folder / "nist36_train.mat")
    x, y = mat["train_data"], mat["train_labels"]
    assert x.shape == (36 * 6, 1024) and y.shape == (36 * 6, 36) and x.dtype == np.float64
    assert x.min() >= 0 and x.max() <= 1 and np.all(y.sum(1) == 1)
    assert np.all(np.diff(y.argmax(1)) >= 0)  # sorted by class, A..Z then 0..9
    img = x[0].reshape(32, 32).T  # rows are transposed images: upright after .T
    assert img.mean() > 0.7  # dark ink on white paper
    # the letter is taller than wide in most upright 'A' samples: transposition is right
    ink = 1 - x[:6].reshape(6, 32, 32).transpose(0, 2, 1)
    assert np.mean([(a.sum(1) > 0.5).sum() >= (a.sum(0) > 0.5).sum() for a in ink]) >= 0.5


def test_mnist_layouts(small_root):
    folder = data.resolve("mnist", small_root, make=False).folder
    images = idx.read(folder / "MNIST" / "raw" / "train-images-idx3-ubyte")
    labels = idx.read(folder / "MNIST" / "raw" / "train-labels-idx1-ubyte")
    assert images.shape == (1200, 28, 28) and images.dtype == np.uint8 and set(labels) == set(range(10))
    assert images[:, :4].max() == 0 or images[:, :4].mean() < 5  # centred in a 20x20 box: empty margins
    assert images.mean() < 60  # white on black, like MNIST
    with open(folder / "mnist.pkl", "rb") as fh:
        pkl = pickle.load(fh)
    assert pkl["training_images"].shape == (1200, 784) and pkl["test_labels"].shape == (200,)


def test_emnist_is_transposed_with_47_classes(small_root):
    folder = data.resolve("emnist-balanced", small_root, make=False).folder
    labels = idx.read(folder / "EMNIST" / "raw" / "emnist-balanced-train-labels-idx1-ubyte")
    assert len(set(labels)) == 47 and len(glyphs.EMNIST_BALANCED) == 47


def test_idx_roundtrip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    idx.write(tmp_path / "a-ubyte", array)
    assert np.array_equal(idx.read(tmp_path / "a-ubyte"), array)


def test_real_files_in_the_data_dir_win(tmp_path):
    folder = tmp_path / "nist36"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        scipy.io.savemat(folder / f"nist36_{split}.mat", {f"{split}_data": np.zeros((1, 1024)),
                                                          f"{split}_labels": np.eye(36)[:1]})
    found = data.resolve("nist36", tmp_path)
    assert found.origin == "real" and not (folder / data.registry.MARKER).exists()


def test_data_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADE_DATA", str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("AUTOGRADE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_root() == tmp_path / "cache" / "autograde" / "data"


@pytest.mark.skipif(not fashion.from_debian.available(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_is_real_and_torchvision_shaped(tmp_path):
    found = data.resolve("fashion-mnist", tmp_path)
    assert found.origin == "real" and "Debian" in found.source
    images = idx.read(found.folder / "FashionMNIST" / "raw" / "train-images-idx3-ubyte")
    labels = np.load(found.folder / "fashion_mnist_train_labels.npy")
    assert images.shape == (60000, 28, 28) and list(labels[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert abs(images.mean() / 255 - 0.2860) < 1e-3  # the published Fashion-MNIST mean
    assert data.resolve("fashion-mnist", tmp_path).source == found.source  # found again, not re-made


def test_data_command_lists_everything(small_root, capsys):
    from autograder.cli import main

    assert main(["data", "--data-dir", str(small_root)]) == 0
    out = capsys.readouterr().out
    for name in data.DATASETS:
        assert name in out


def test_the_data_command_says_how_real_data_gets_here(tmp_path):
    """The course's photos are never synthetic: `autograde data` says how to add them; and where
    Fashion-MNIST would be synthetic, it names Debian's package of the real one."""
    notes = {d.name: note for d, _, note in data.status(tmp_path)}
    assert "autograde data add ocr-photos FOLDER" in notes["ocr-photos"] and "synthetic" not in notes["ocr-photos"]
    assert notes["fashion-mnist"].endswith("on first use") and (
        "a system copy" in notes["fashion-mnist"] or "dataset-fashion-mnist" in notes["fashion-mnist"])


@pytest.mark.slow
def test_synthetic_nist36_is_calibrated(nist36_folder):
    """The handout's MLP (1024-64-36, SGD, 30 epochs) lands at 75-85 % validation, as on real NIST36."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import calibrate_nist36

    x, y = nist36.load(nist36_folder, "train")
    _, history = calibrate_nist36.train(x, y, nist36.load(nist36_folder, "valid"), lr=5e-3, epochs=30,
                                        batch=32, seed=0)
    train_acc, valid_acc = history[-1][1:]
    assert 0.75 <= valid_acc <= 0.85, history[-1]
    assert train_acc > valid_acc  # the usual small generalisation gap, not memorisation
    assert train_acc - valid_acc < 0.12


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "mnist-t10k").exists(), reason="../shared/data/mnist-t10k is absent")
def test_synthetic_mnist_transfers_to_real_digits(tmp_path):
    """A classifier trained on the synthetic stand-in reads the real MNIST test set well above chance."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    digits.make_mnist(folder, 0, scale=0.3)
    x = idx.read(folder / "MNIST" / "raw" / "train-images-idx3-ubyte").reshape(-1, 784) / 255.0
    y = idx.read(folder / "MNIST" / "raw" / "train-labels-idx1-ubyte")
    real_x = idx.read(SHARED / "mnist-t10k" / "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    real_y = idx.read(SHARED / "mnist-t10k" / "t10k-labels-idx1-ubyte.gz")
    w = np.linalg.lstsq(np.c_[x, np.ones(len(x))], np.eye(10)[y], rcond=None)[0]  # linear least squares
    accuracy = np.mean((np.c_[real_x, np.ones(len(real_x))] @ w).argmax(1) == real_y)
    print(f"linear classifier, synthetic MNIST -> real MNIST test: {accuracy:.3f}")
    assert accuracy > 0.45  # measured 0.52 (chance 0.10; the same model reads synthetic digits at 0.87)


def test_gist_names_are_the_same_files(small_root):
    folder = data.resolve("nist36", small_root, make=False).folder
    mat = scipy.io.loadmat(folder / "valid.mat")
    assert np.array_equal(mat["valid_data"], scipy.io.loadmat(folder / "nist36_valid.mat")["valid_data"])


def test_reports_say_which_data_a_grade_used(small_root, monkeypatch, tmp_path):
    from autograder.grading import Grader
    from autograder.report.writers import report_markdown
    from autograder.rubric.schema import load
    from conftest import CMU_REFERENCE, CMU_SPEC

    monkeypatch.setenv("AUTOGRADE_DATA", str(small_root))
    rubric = load(CMU_SPEC)
    rubric.datasets = ["nist36"]  # and only its placements (not section 7's MNIST, EMNIST, flowers)
    rubric.data = [d for d in rubric.data if d.dataset in (None, "nist36", "ocr-photos")]
    with Grader(rubric) as grader:
        report = grader.grade(CMU_REFERENCE, only={q.id for q in rubric.questions if not q.long_running})
    assert report.provenance["data"] == [
        data.resolve("nist36", small_root).as_report() | {"bytes": "not in the manifest"},  # a small copy
        {"dataset": "ocr-photos", "origin": "not installed", "source": "optional: the checks that need it were not run"}]
    assert "data: nist36 (synthetic)" in report_markdown(report)


def test_unknown_dataset_in_a_rubric_is_rejected(tmp_path):
    from autograder.rubric.schema import RubricError, load
    from conftest import CMU_SPEC

    spec = tmp_path / "cmu-hw5.yaml"
    spec.write_text(CMU_SPEC.read_text().replace("identify: [", "datasets: [nist63]\nidentify: ["))
    with pytest.raises(RubricError, match="unknown datasets"):
        load(spec)


@pytest.mark.slow
def test_torchvision_reads_every_layout_offline(small_root):
    """What students' code does: torchvision's own dataset classes with download=False."""
    torchvision = pytest.importorskip("torchvision")
    mnist = torchvision.datasets.MNIST(data.resolve("mnist", small_root).folder, train=True, download=False)
    assert len(mnist) == 1200 and 0 <= mnist[0][1] <= 9
    emnist = torchvision.datasets.EMNIST(data.resolve("emnist-balanced", small_root).folder, split="balanced",
                                         train=False, download=False)
    assert len(emnist.classes) == 47 and len(emnist) == 47 * 8
    flowers = torchvision.datasets.ImageFolder(data.resolve("flowers17", small_root).folder / "oxford-flowers17" / "val")
    assert len(flowers.classes) == 17 and len(flowers) == 17 * 20
    if fashion.from_debian.available():
        fmnist = torchvision.datasets.FashionMNIST(data.resolve("fashion-mnist", small_root).folder, train=False,
                                                   download=False)
        assert len(fmnist) == 10000


def test_a_grade_makes_only_the_data_its_questions_read(tmp_path, monkeypatch, capsys):
    """The record of which data a grade used makes nothing: function questions of handout 004 on a
    fresh data directory leave it without EMNIST or flowers17 (minutes of generating otherwise)."""
    from autograder.grading import Grader
    from conftest import CMU_SPEC, ROOT

    monkeypatch.setenv("AUTOGRADE_DATA", str(tmp_path / "data"))
    with Grader(CMU_SPEC) as grader:
        report = grader.grade(ROOT / "fixtures" / "submissions" / "cmu-hw5" / "alice", only={"Q2.1.2", "Q2.2.2"})
    assert report.question("Q2.2.2").score > 0
    made = {d["dataset"]: d["origin"] for d in report.provenance["data"]}
    assert made.get("emnist-balanced") == made.get("flowers17") == "not made"
    assert not (tmp_path / "data" / "emnist").exists() and not (tmp_path / "data" / "flowers17").exists()


def test_a_whole_grade_makes_no_data_for_scripts_not_handed_in(tmp_path, monkeypatch):
    """A submission without the section-7 scripts makes no EMNIST or flowers17: the checks of a file
    not handed in fail before their cases draw inputs from a dataset."""
    from autograder.data import registry
    from autograder.grading import Grader
    from conftest import CMU_SPEC, ROOT

    asked: list[str] = []

    def refuse(name, *args, **kwargs):
        asked.append(name)
        raise RuntimeError(f"{name} made for a grade that never reads it")

    monkeypatch.setenv("AUTOGRADE_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(registry, "generate", refuse)
    with Grader(CMU_SPEC) as grader:
        report = grader.grade(ROOT / "fixtures" / "submissions" / "cmu-hw5" / "alice")
    assert asked == []
    assert report.question("Q2.2.2").score > 0 and not any(q.grader_error for q in report.questions)
    assert "run_q7_1_4.py" in " ".join(report.question("Q7.1.4").feedback)


# ------------------------------------------------------------------------------------------
# the same bytes on every machine (autograder/data/manifest.py)


def _ocr_pages(root, monkeypatch, font_roots):
    monkeypatch.setattr(glyphs, "FONT_ROOTS", font_roots)
    return data.resolve("ocr-pages", root)


def test_synthetic_data_is_the_manifests_bytes_whatever_fonts_the_machine_has(tmp_path, monkeypatch):
    """Made with the machine's fonts or with none, a dataset is byte for byte its manifest entry."""
    with_fonts = _ocr_pages(tmp_path / "a", monkeypatch, ("/usr/share/fonts",))
    without = _ocr_pages(tmp_path / "b", monkeypatch, (str(tmp_path / "no-fonts"),))
    assert with_fonts.verdict().state == without.verdict().state == manifest.MATCHES
    entry = manifest.entries()["synthetic"]["ocr-pages"]["files"]
    assert manifest.digests(with_fonts, []) == manifest.digests(without, []) == entry
    assert set(manifest.entries()["synthetic"]) >= {"nist36", "mnist", "emnist-balanced", "flowers17", "ocr-pages"}


def test_a_copy_that_differs_is_said_everywhere(tmp_path, monkeypatch, capsys):
    """`autograde data` marks it (and `data make` exits 1), a report's questions that read it say
    their thresholds were calibrated on other data, and a batch names the machine."""
    from autograder.batch.runner import uncalibrated_notes
    from autograder.cli import main
    from autograder.grading import mark_uncalibrated, unscored
    from autograder.rubric.schema import load

    found = _ocr_pages(tmp_path, monkeypatch, ())
    page = sorted(found.all_files())[0]
    page.write_bytes(page.read_bytes()[:-1] + b"\0")
    verdict = found.verdict()
    assert verdict.differs and verdict.differing == [page.relative_to(found.folder).as_posix()]
    assert "calibrated on the synthetic ocr-pages made by autograder with seed" in verdict.describe()
    assert main(["data", "make", "ocr-pages", "--data-dir", str(tmp_path)]) == 1
    assert "not the bytes the rubrics' thresholds were calibrated on" in capsys.readouterr().out

    rubric = load(ROOT / "specs" / "cmu-hw5.yaml")
    results = [unscored(q, "") for q in rubric.questions]
    used = [{"dataset": "nist36", "bytes": f"{manifest.DIFFERS} (nist36_valid.mat): thresholds were calibrated on X"}]
    mark_uncalibrated(results, rubric, used)
    noted = {r.id for r in results if any("judged on a copy of nist36 that differs" in n for n in r.notes)}
    assert "Q3.1.1" in noted and "Q2.2.2" not in noted
    from types import SimpleNamespace

    from autograder.batch.job import uncalibrated
    assert uncalibrated(SimpleNamespace(data_used=lambda: used + [{"dataset": "mnist", "bytes": manifest.MATCHES}])) \
        == [f"nist36: {used[0]['bytes']}"]  # what a batch process (a Dask worker) says before it grades
    summaries = [{"worker": "node7:123", "uncalibrated_data": {"nist36": used[0]["bytes"]}}] * 2
    assert uncalibrated_notes(summaries) == [f"node7: 2 student(s) judged on a copy of nist36 that {used[0]['bytes']}"]
