"""OCR pages: the four real photos (when an instructor provides them) and realistic synthetic pages.

Synthetic pages (``data.md`` §6) are photographs of hand-printed text in the spirit of handout 004's:
one writer per page (a handwriting face redrawn with a round marker), per-character size, angle and
baseline jitter, tinted paper with a lighting gradient, vignette, stains and grain, blue-black to
grey ink, blur, JPEG. Every page comes with its ground truth: the text line by line and one box per
character, ``[y1, x1, y2, x2]`` in the regionprops convention (max exclusive), each character
checked to be a single 8-connected piece. Texts are drawn from a seed, so no page can be memorised.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from . import glyphs
from .registry import Dataset, register

WORDS = ("DEEP LEARNING NEURAL NETWORK GRADIENT DESCENT SOFTMAX SIGMOID LAYER WEIGHT BIAS BATCH EPOCH "
         "TRAIN TEST VALID LOSS ACCURACY MATRIX VECTOR TENSOR PIXEL IMAGE LETTER DIGIT LIST CHECK THING "
         "MAKE FIRST SECOND THIRD REWARD YOURSELF WITH NAP HAIKU EASY SOMETIMES SENSE FRIDGE COFFEE PAPER "
         "WRITE READ QUICK BROWN FOX JUMPS OVER LAZY DOG ZEBRA QUIZ JAZZ VEX WALTZ BOX").split()
PHOTOS = ("01_list.jpg", "02_letters.jpg", "03_haiku.jpg", "04_deep.jpg")


def random_lines(rng: np.random.Generator, n_lines: int) -> list[list[str]]:
    """Words per line; digits appear as list numbers and inside words' neighbourhood."""
    lines = []
    for i in range(n_lines):
        words = list(rng.choice(WORDS, size=int(rng.integers(1, 4))))
        if rng.random() < 0.35:
            words.insert(0, str(int(rng.integers(0, 10))))
        if rng.random() < 0.2:
            words.append(str(int(rng.integers(10, 1000))))
        lines.append(words)
    return lines


def _char_ink(bank, font: int, ch: str, height: float, pen: float, rng) -> np.ndarray | None:
    """The character as ink coverage at ``height`` px, one 8-connected piece, or None."""
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    j = bank.chars.index(ch)
    field = bank.skeleton[font, j].astype(np.float32)
    scale = glyphs.LONG_SIDE / height * rng.uniform(0.92, 1.08)
    size = int(np.ceil(glyphs.CANVAS / scale))
    theta = np.deg2rad(rng.normal(0, 3.5))
    shear = rng.normal(0, 0.06)
    mat = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) \
        @ np.array([[1.0, shear], [0.0, 1.0]])
    centre_out = (size - 1) / 2
    offset = (glyphs.CANVAS - 1) / 2 - mat @ np.array([centre_out, centre_out])
    dist = ndimage.affine_transform(field, mat, offset=offset, output_shape=(size, size), order=1, cval=1e3)
    ink = np.clip(pen - dist / scale + 0.5, 0, 1)
    mask = ink > 0.5
    if ndimage.label(mask, structure=np.ones((3, 3)))[1] != 1:
        return None
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return ink[max(rows[0] - 2, 0):rows[-1] + 3, max(cols[0] - 2, 0):cols[-1] + 3]


def render_page(bank, rng: np.random.Generator, lines: list[list[str]]) -> tuple[np.ndarray, dict]:
    """An RGB page (uint8) and its ground truth."""
    writers = [f for f in np.flatnonzero(bank.handwriting)]
    font = int(rng.choice(writers)) if writers else 0
    height = float(rng.uniform(55, 90))
    pen = height * rng.uniform(0.06, 0.10)
    placed, x_max = [], 0
    y = height * 1.2
    for li, words in enumerate(lines):
        x = height * rng.uniform(0.6, 1.6)
        for word in words:
            for ch in word:
                ink = None
                for attempt in range(4):  # thicker pen, then another writer, until one piece
                    use = font if attempt < 2 else int(rng.choice(writers)) if writers else font
                    ink = _char_ink(bank, use, ch, height, pen * (1 + 0.4 * attempt), rng)
                    if ink is not None:
                        break
                if ink is None:
                    continue
                top = int(y + height * rng.normal(0, 0.04) - ink.shape[0])
                placed.append((ch, li, top, int(x), ink))
                x += ink.shape[1] + height * rng.uniform(0.3, 0.55)
            x += height * rng.uniform(0.7, 1.0)
        x_max = max(x_max, x)
        y += height * rng.uniform(1.7, 2.1)
    h, w = int(y), int(x_max + height)
    coverage = np.zeros((h, w), np.float32)
    chars = []
    for ch, li, top, left, ink in placed:
        top = max(top, 0)
        region = coverage[top:top + ink.shape[0], left:left + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        mask = ink[:region.shape[0], :region.shape[1]] > 0.5
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        chars.append({"char": ch, "line": li, "bbox": [top + int(rows[0]), left + int(cols[0]),
                                                       top + int(rows[-1]) + 1, left + int(cols[-1]) + 1]})
    page = _photograph(coverage, rng)
    truth = {"lines": ["".join(words) for words in lines], "text": "\n".join(" ".join(w) for w in lines),
             "size": [h, w], "font": bank.fonts[font], "chars": chars}
    return page, truth


def _photograph(coverage: np.ndarray, rng) -> np.ndarray:
    """Paper, light, stains, grain, ink colour and a little blur."""
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    h, w = coverage.shape
    tint = np.array([0.86, 0.86, 0.84]) + rng.uniform(-0.05, 0.05, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.03, 0.12) * ((np.cos(angle) * xx / w + np.sin(angle) * yy / h) - 0.5)
    vignette = 1 - 0.12 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    stains = ndimage.gaussian_filter(rng.normal(0, 1, (h // 16 + 1, w // 16 + 1)), 2)
    stains = ndimage.zoom(stains, (h / stains.shape[0], w / stains.shape[1]), order=1)[:h, :w]
    paper = (light * vignette + 0.02 * stains)[..., None] * tint
    ink_colour = np.array([0.12, 0.12, 0.16]) + rng.uniform(-0.08, 0.12) * np.array([1, 1, 0.6])
    page = paper * (1 - coverage[..., None]) + ink_colour * coverage[..., None]
    page = ndimage.gaussian_filter(page, sigma=(rng.uniform(0.6, 1.3),) * 2 + (0,))
    page += rng.normal(0, 0.012, page.shape)
    return np.round(np.clip(page, 0, 1) * 255).astype(np.uint8)


def jpeg(page: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


PAGE_LINES = {"01_list": 8, "02_words": 5, "03_short": 3, "04_mixed": 3}


def write_pages(folder: Path, seed: int) -> dict:
    """Four pages (``PAGE_LINES``) as ``NAME.jpg`` plus ``NAME.json`` ground truth."""
    bank = glyphs.load()
    rng = np.random.default_rng(seed)
    for name, n_lines in PAGE_LINES.items():
        page, truth = render_page(bank, rng, random_lines(rng, n_lines))
        (folder / f"{name}.jpg").write_bytes(jpeg(page))
        (folder / f"{name}.json").write_text(json.dumps(truth, indent=1))
    return {"pages": list(PAGE_LINES), "fonts": int(bank.handwriting.sum())}


def make_photos(folder: Path, seed: int) -> dict:
    raise RuntimeError("the four real photos are the course's: put 01_list.jpg ... 04_deep.jpg, "
                       "ground_truth.yaml and boxes.json in the data directory's ocr-photos/ folder")


PAGES = register(Dataset(
    name="ocr-pages", folder="ocr-pages", files=[f"{n}.{ext}" for n in PAGE_LINES for ext in ("jpg", "json")],
    description="synthetic handwritten pages with per-character boxes (handout 004 Q4)", make=write_pages))
REAL_PHOTOS = register(Dataset(
    name="ocr-photos", folder="ocr-photos", files=list(PHOTOS) + ["ground_truth.yaml", "boxes.json"],
    description="the course's four OCR photos (handout 004 Q4), provided by the instructor", make=make_photos,
    only_real=True, real="the course's photos, added with autograde data add ocr-photos FOLDER (01_list.jpg ... "
                         "04_deep.jpg, ground_truth.yaml, boxes.json)"))
