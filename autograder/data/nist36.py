"""Synthetic NIST36 in the handouts' format: ``nist36_{train,valid,test}.mat``, and the judge's own
``nist36_judge.mat`` (keys ``judge_data``, ``judge_labels``), which no sandbox ever sees.

Keys ``*_data`` (N x 1024 float64 in [0, 1], dark ink on white, each row a 32x32 image transposed
before flattening) and ``*_labels`` (N x 36 one-hot, A-Z then 0-9); 300 / 100 / 50 examples per
class, sorted by class (data.md §3). Handout 000 names the same files ``train.mat`` etc.
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np

from . import glyphs, handwriting
from .registry import Dataset, register

SPLITS = {"train": 300, "valid": 100, "test": 50}
JUDGE_PER_CLASS = 50  # the judge split (nist36_judge.mat): drawn like the test split, never given out
JUDGE_STREAM = 7      # its random stream: default_rng([seed, JUDGE_STREAM]), apart from the handout's
# calibrated: the handout MLP reaches 0.76 (lr 2e-3) and 0.80 (lr 5e-3) validation after 30 epochs
# (benchmarks/calibrate_nist36.py); data.md measured 0.77-0.79 on real NIST36
DIFFICULTY = 0.8


def samples(per_class: int, rng: np.random.Generator, bank, difficulty: float = DIFFICULTY):
    labels = np.repeat(np.arange(36), per_class)
    coverage = handwriting.ink(bank, glyphs.NIST36_CLASSES, labels, rng, out=32, difficulty=difficulty)
    images = handwriting.paper(coverage, rng)
    data = images.transpose(0, 2, 1).reshape(len(labels), 1024).astype(np.float64)
    onehot = np.zeros((len(labels), 36))
    onehot[np.arange(len(labels)), labels] = 1.0
    return data, onehot


def make(folder: Path, seed: int, scale: float = 1.0, difficulty: float = DIFFICULTY) -> dict:
    bank = glyphs.load()
    rng = np.random.default_rng(seed)
    for split, per_class in SPLITS.items():
        data, labels = samples(max(1, round(per_class * scale)), rng, bank, difficulty)
        save(folder, split, data, labels)
    judge = np.random.default_rng([seed, JUDGE_STREAM])
    save(folder, "judge", *samples(max(1, round(JUDGE_PER_CLASS * scale)), judge, bank, difficulty))
    gist_names(folder)
    return {"fonts": len(bank.fonts), "handwriting_fonts": int(bank.handwriting.sum()),
            "difficulty": difficulty, "per_class": SPLITS}


MAT_HEADER = b"MATLAB 5.0 MAT-file, written by autograder (synthetic NIST36)".ljust(116)


def save(folder: Path, split: str, data: np.ndarray, labels: np.ndarray) -> None:
    """A MAT-file whose bytes depend only on the arrays: scipy's header carries the time of writing,
    which would make every machine's copy differ from the manifest."""
    import scipy.io  # scipy's submodules: imported when data is made, not with the registry
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {f"{split}_data": data, f"{split}_labels": labels}, do_compression=True)
    (folder / f"nist36_{split}.mat").write_bytes(MAT_HEADER + buffer.getvalue()[len(MAT_HEADER):])


def judge_from_test(folder: Path) -> str:
    """Real NIST36 without a judge split of its own: the test split stands in (students had it)."""
    save(folder, "judge", *load(folder, "test"))
    return "a copy of nist36_test.mat: the students had these images and labels"


def gist_names(folder: Path) -> None:
    """Handout 000 (GIST) reads the same files as ``train.mat``, ``valid.mat``, ``test.mat``."""
    for split in SPLITS:
        alias = folder / f"{split}.mat"
        if not alias.exists():
            try:
                os.link(folder / f"nist36_{split}.mat", alias)
            except OSError:
                shutil.copyfile(folder / f"nist36_{split}.mat", alias)


def load(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io  # scipy's submodules: imported when data is made, not with the registry
    mat = scipy.io.loadmat(folder / f"nist36_{split}.mat")
    return mat[f"{split}_data"], mat[f"{split}_labels"]


DATASET = register(Dataset(
    name="nist36", folder="nist36", files=[f"nist36_{s}.mat" for s in SPLITS],
    description="NIST36 handwritten A-Z 0-9, 32x32 (handouts 000, 004)", make=make,
    judge_files=["nist36_judge.mat"], judge_from_test=judge_from_test))
