"""Fashion-MNIST, real, from Debian's ``dataset-fashion-mnist`` (or any folder holding its files).

torchvision wants the *decompressed* IDX files in ``FashionMNIST/raw/`` (data.md §5: Debian
re-gzipped them, so ``download=True`` would not accept them); handout 003 reads ``.npy`` files.
"""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np

from . import idx
from .registry import Dataset, register

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
RAW = [f"{s}-{k}-ubyte" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
NPY = [f"fashion_mnist_{s}_{k}.npy" for s in ("train", "test") for k in ("images", "labels")]


def from_debian(folder: Path) -> dict | None:
    if not all((DEBIAN / f"{name}.gz").exists() for name in RAW):
        return None
    raw = folder / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW:
        with gzip.open(DEBIAN / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    write_npy(folder)
    return {"source": f"Debian dataset-fashion-mnist ({DEBIAN})"}


from_debian.available = lambda: (DEBIAN / "train-images-idx3-ubyte.gz").exists()


def write_npy(folder: Path) -> None:
    """Handout 003's files: images (N, 784) uint8 rows, labels (N,) int64."""
    raw = folder / "FashionMNIST" / "raw"
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = idx.read(raw / f"{prefix}-images-idx3-ubyte")
        labels = idx.read(raw / f"{prefix}-labels-idx1-ubyte")
        np.save(folder / f"fashion_mnist_{split}_images.npy", images.reshape(len(images), -1))
        np.save(folder / f"fashion_mnist_{split}_labels.npy", labels.astype(np.int64))


def make(folder: Path, seed: int) -> dict:
    raise RuntimeError("Fashion-MNIST is not synthesised: install Debian's dataset-fashion-mnist "
                       "(apt-get install dataset-fashion-mnist) or put its files in the data directory")


DATASET = register(Dataset(
    name="fashion-mnist", folder="fashion-mnist", files=[f"FashionMNIST/raw/{n}" for n in RAW] + NPY,
    description="Fashion-MNIST 28x28, 10 classes (handout 003)", make=make, system=from_debian,
    real="apt install dataset-fashion-mnist (Debian's copy of the real set), or autograde data add fashion-mnist FOLDER"))
