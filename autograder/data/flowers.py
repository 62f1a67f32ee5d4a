"""A flowers17 stand-in in torchvision's ImageFolder layout: ``oxford-flowers17/{train,val,test}/<class>/``.

The real Oxford flowers17 (80 photos of each of 17 species) is not available offline. Each synthetic
species has its own petal count, petal shape and colours; each image varies position, size,
rotation, lighting and a textured background, so a small CNN has something real to learn and
``squeezenet1_1`` (with ``weights=None`` offline) can be fine-tuned on it.
"""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from .registry import Dataset, register

CLASSES = ["bluebell", "buttercup", "coltsfoot", "cowslip", "crocus", "daffodil", "daisy", "dandelion",
           "fritillary", "iris", "lilyvalley", "pansy", "snowdrop", "sunflower", "tigerlily", "tulip",
           "windflower"]
SPLITS = {"train": 40, "val": 20, "test": 20}
JUDGE = "oxford-flowers17-judge"  # the judge split, beside the handout's folder (never placed)
JUDGE_PER_CLASS = 20
SIZE = 128


def species(index: int) -> dict:
    """Fixed traits of one class (independent of the seed, like a real species)."""
    rng = np.random.default_rng(1000 + index)
    return {"petals": int(rng.integers(3, 13)), "hue": index / len(CLASSES) + rng.uniform(-0.02, 0.02),
            "sharpness": rng.uniform(0.5, 3.0), "centre": rng.uniform(0.1, 0.35),
            "centre_hue": rng.uniform(0.05, 0.17), "elongation": rng.uniform(0.6, 1.0)}


def draw(traits: dict, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    grass = ndimage.gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), rng.uniform(1, 4))
    image = np.stack([0.20 + 0.05 * grass, 0.40 + 0.10 * grass, 0.15 + 0.04 * grass], -1)
    image *= rng.uniform(0.7, 1.2)
    for _ in range(int(rng.integers(1, 3))):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        radius = rng.uniform(0.18, 0.32)
        turn = rng.uniform(0, 2 * np.pi)
        dy, dx = (yy - cy) / traits["elongation"], xx - cx
        r, theta = np.hypot(dy, dx), np.arctan2(dy, dx) + turn
        outline = radius * np.abs(np.cos(traits["petals"] * theta / 2)) ** (1 / traits["sharpness"])
        petal = np.clip((outline - r) * SIZE / 2, 0, 1)
        centre = np.clip((radius * traits["centre"] - r) * SIZE / 2, 0, 1)
        hue = (traits["hue"] + rng.normal(0, 0.015)) % 1
        colour = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 0.95), rng.uniform(0.7, 1.0)))
        shade = (1 - 0.35 * r / radius)[..., None]
        image = image * (1 - petal[..., None]) + (colour * shade) * petal[..., None]
        core = np.array(colorsys.hsv_to_rgb(traits["centre_hue"], 0.9, 0.6))
        image = image * (1 - centre[..., None]) + core * centre[..., None]
    image *= 1 + 0.2 * (xx - 0.5)[..., None] * rng.normal()
    image += rng.normal(0, 0.02, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def make(folder: Path, seed: int) -> dict:
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = folder / "oxford-flowers17"
    for c, name in enumerate(CLASSES):
        traits = species(c)
        number = 0
        for split, count in SPLITS.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                number += 1
                Image.fromarray(draw(traits, rng)).save(root / split / name / f"image_{c * 80 + number:04d}.jpg",
                                                        quality=90)
    judge = np.random.default_rng([seed, 7])  # its own stream: the handout's splits do not depend on it
    for c, name in enumerate(CLASSES):
        (folder / JUDGE / name).mkdir(parents=True, exist_ok=True)
        for k in range(JUDGE_PER_CLASS):
            Image.fromarray(draw(species(c), judge)).save(folder / JUDGE / name / f"judge_{c:02d}_{k:03d}.jpg",
                                                          quality=90)
    return {"classes": len(CLASSES), "per_class": SPLITS | {"judge": JUDGE_PER_CLASS}, "size": SIZE}


def judge_from_test(folder: Path) -> str:
    """Real flowers17 without a judge split of its own: the test split stands in (students had it)."""
    import shutil

    shutil.copytree(folder / "oxford-flowers17" / "test", folder / JUDGE, dirs_exist_ok=True)
    return "a copy of the test split: the students had these images"


DATASET = register(Dataset(
    name="flowers17", folder="flowers17",
    files=[f"oxford-flowers17/{split}/{name}" for split in SPLITS for name in CLASSES],
    description="flowers17 stand-in, 17 classes, ImageFolder layout (handout 004 Q7.2.1)", make=make,
    judge_files=[f"{JUDGE}/{name}" for name in CLASSES], judge_from_test=judge_from_test))
