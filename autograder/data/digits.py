"""MNIST and EMNIST Balanced stand-ins drawn from the glyph bank, in the layouts students' code reads.

MNIST: ``MNIST/raw/*-ubyte`` (torchvision, ``download=False``) and TDT4265's ``data/mnist.pkl``.
EMNIST Balanced: ``EMNIST/raw/emnist-balanced-*-ubyte``, images stored transposed like the real
files, classes in torchvision's order (0-9, A-Z, a b d e f g h n q r t).
Both are MNIST-style: white strokes on black, the character scaled into 20x20 and centred by its
centre of mass in 28x28.
"""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np

from . import glyphs, handwriting, idx
from .registry import Dataset, register

MNIST_RAW = [f"{s}-{k}-ubyte" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
MNIST_JUDGE = [f"MNIST/judge/judge-{k}-ubyte" for k in ("images-idx3", "labels-idx1")]
JUDGE_STREAM = 7  # the judge split's random stream: default_rng([seed, JUDGE_STREAM])
PEN = (1.2, 2.4)  # MNIST's strokes are 2-3 px wide at 28x28
EMNIST_RAW = [f"emnist-balanced-{s}-{k}-ubyte" for s in ("train", "test") for k in ("images-idx3", "labels-idx1")]
EMNIST_JUDGE = [f"EMNIST/judge/emnist-balanced-judge-{k}-ubyte" for k in ("images-idx3", "labels-idx1")]


def mnist_style(coverage: np.ndarray) -> np.ndarray:
    """32x32 ink coverage -> 28x28 uint8, 20x20 box, centred by centre of mass (MNIST's recipe)."""
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    out = np.zeros((len(coverage), 28, 28), np.uint8)
    for k, ink in enumerate(coverage):
        rows, cols = np.flatnonzero(ink.max(1) > 0.05), np.flatnonzero(ink.max(0) > 0.05)
        if not len(rows):
            continue
        crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        zoom = 20.0 / max(crop.shape)
        small = np.clip(ndimage.zoom(crop, zoom, order=1), 0, 1)
        canvas = np.zeros((28, 28), np.float32)
        top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
        canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
        cy, cx = ndimage.center_of_mass(canvas)
        canvas = ndimage.shift(canvas, (13.5 - cy, 13.5 - cx), order=1)
        # MNIST strokes are saturated in the middle with a soft rim
        out[k] = np.round(np.clip(canvas / max(canvas.max(), 1e-6) * 1.6, 0, 1) * 255)
    return out


def draw(chars: str, counts: int, rng, bank) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.permutation(np.repeat(np.arange(len(chars)), counts))
    coverage = handwriting.ink(bank, chars, labels, rng, out=32, size_range=(22, 30), pen=PEN)
    return mnist_style(coverage), labels.astype(np.uint8)


def make_mnist(folder: Path, seed: int, scale: float = 1.0) -> dict:
    bank = glyphs.load()
    rng = np.random.default_rng(seed)
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    split = {}
    for name, per_class in (("train", 6000), ("t10k", 1000)):
        images, labels = draw("0123456789", max(1, round(per_class * scale)), rng, bank)
        idx.write(raw / f"{name}-images-idx3-ubyte", images)
        idx.write(raw / f"{name}-labels-idx1-ubyte", labels)
        split[name] = (images.reshape(len(images), 784), labels.astype(np.int64))
    judge_rng = np.random.default_rng([seed, JUDGE_STREAM])
    write_idx_pair(folder, MNIST_JUDGE, *draw("0123456789", max(1, round(500 * scale)), judge_rng, bank))
    # TDT4265's mnist.py caches exactly this dict (assignments.md §4)
    with open(folder / "mnist.pkl", "wb") as fh:
        pickle.dump({"training_images": split["train"][0], "training_labels": split["train"][1],
                     "test_images": split["t10k"][0], "test_labels": split["t10k"][1]}, fh)
    return {"fonts": len(bank.fonts), "per_class": {"train": 6000, "test": 1000, "judge": 500}, "scale": scale}


def make_emnist(folder: Path, seed: int, scale: float = 1.0) -> dict:
    bank = glyphs.load()
    rng = np.random.default_rng(seed)
    raw = folder / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, per_class in (("train", 2400), ("test", 400)):
        images, labels = draw(glyphs.EMNIST_BALANCED, max(1, round(per_class * scale)), rng, bank)
        idx.write(raw / f"emnist-balanced-{name}-images-idx3-ubyte", images.transpose(0, 2, 1))
        idx.write(raw / f"emnist-balanced-{name}-labels-idx1-ubyte", labels)
    images, labels = draw(glyphs.EMNIST_BALANCED, max(1, round(100 * scale)), np.random.default_rng([seed, JUDGE_STREAM]), bank)
    write_idx_pair(folder, EMNIST_JUDGE, images.transpose(0, 2, 1), labels)
    return {"fonts": len(bank.fonts), "classes": glyphs.EMNIST_BALANCED, "scale": scale,
            "per_class": {"train": 2400, "test": 400, "judge": 100}}


def write_idx_pair(folder: Path, names: list[str], images: np.ndarray, labels: np.ndarray) -> None:
    for name, array in zip(names, (images, labels)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        idx.write(folder / name, array)


def judge_from(test_names: list[str], judge_names: list[str], what: str):
    """Real data without a judge split of its own: a copy of the test split stands in."""
    def make(folder: Path) -> str:
        for test, judge in zip(test_names, judge_names):
            (folder / judge).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / test, folder / judge)
        return f"a copy of {what}: the students had these images and labels"
    return make


MNIST = register(Dataset(
    name="mnist", folder="mnist", files=[f"MNIST/raw/{n}" for n in MNIST_RAW] + ["mnist.pkl"],
    description="MNIST digits 28x28 (handouts 001, 002, 004)", make=make_mnist, judge_files=MNIST_JUDGE,
    judge_from_test=judge_from([f"MNIST/raw/t10k-{k}-ubyte" for k in ("images-idx3", "labels-idx1")],
                               MNIST_JUDGE, "the t10k split")))
EMNIST = register(Dataset(
    name="emnist-balanced", folder="emnist", files=[f"EMNIST/raw/{n}" for n in EMNIST_RAW],
    description="EMNIST Balanced, 47 classes (handout 004 Q7.1.4)", make=make_emnist, judge_files=EMNIST_JUDGE,
    judge_from_test=judge_from([f"EMNIST/raw/emnist-balanced-test-{k}-ubyte" for k in ("images-idx3", "labels-idx1")],
                               EMNIST_JUDGE, "the test split")))
