"""Synthetic hand-printed characters from the glyph bank: warp a distance field, draw it with a pen.

Per sample (``data.md`` §4): a font (half handwriting faces, half plain ones always redrawn with a
round pen), a random affine map (rotation, shear, aspect, size, shift), a smooth elastic field, a
random pen radius, 2x2 average pooling. ``difficulty`` scales every geometric strength.
"""
from __future__ import annotations

import functools

import numpy as np

from .glyphs import CANVAS, GlyphBank

FAR = 1e3  # distance outside the canvas: no ink
GRID = 5


def _spline_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``ndimage.zoom`` (cubic) is linear and separable: ``zoom(g) == B @ g @ B.T`` with this B."""
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    eye = np.eye(n_in)
    return np.stack([ndimage.zoom(eye[i], n_out / n_in, order=3) for i in range(n_in)], axis=1)


@functools.cache
def elastic() -> np.ndarray:
    """(64, 5): a 5x5 control grid to a smooth 64x64 field."""
    return _spline_matrix(GRID, CANVAS)


def ink(bank: GlyphBank, chars: str, labels: np.ndarray, rng: np.random.Generator, out: int = 32,
        difficulty: float = 1.0, size_range=(19, 28), pen=(0.7, 1.9)) -> np.ndarray:
    """Ink coverage in [0, 1] (1 = ink), shape ``(len(labels), out, out)``, for ``chars[labels]``."""
    scale_to_canvas = CANVAS / out
    result = np.empty((len(labels), out, out), np.float32)
    by_char = {}
    for k, label in enumerate(labels):
        ch = chars[label]
        if ch not in by_char:
            by_char[ch] = (bank.fonts_for(ch, True), bank.fonts_for(ch, False), bank.chars.index(ch))
        hand, plain, j = by_char[ch]
        use_hand = len(hand) and (not len(plain) or rng.random() < 0.5)
        font = rng.choice(hand if use_hand else plain)
        if use_hand and rng.random() < 0.5:
            field = bank.outline[font, j].astype(np.float32)
            threshold = rng.uniform(-0.5, 1.0) * scale_to_canvas / 2
        else:
            field = bank.skeleton[font, j].astype(np.float32)
            threshold = rng.uniform(*pen) * scale_to_canvas
        warped = _warp(field, rng, difficulty, scale_to_canvas, size_range)
        coverage = np.clip(threshold - warped + 0.5, 0.0, 1.0)
        result[k] = coverage.reshape(out, CANVAS // out, out, CANVAS // out).mean(axis=(1, 3))
    return result


def _warp(field: np.ndarray, rng, d: float, px: float, size_range) -> np.ndarray:
    """Sample ``field`` through a random affine map plus a smooth elastic displacement."""
    from scipy import ndimage  # scipy's submodules: imported when data is made, not with the registry
    size = rng.uniform(*size_range) * px / 52.0  # the bank draws the long side at 52 of 64 px
    theta = np.deg2rad(rng.normal(0, 5.4 * d))
    shear = rng.normal(0, 0.08 * d)
    aspect = np.exp(rng.normal(0, 0.08 * d))
    forward = (np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
               @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([size * aspect, size / aspect]))
    inverse = np.linalg.inv(forward)
    centre = (CANVAS - 1) / 2
    shift = rng.normal(0, 0.63 * d * px, size=2)
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
    coords = np.stack([yy - centre - shift[0], xx - centre - shift[1]]).reshape(2, -1)
    src = (inverse @ coords).reshape(2, CANVAS, CANVAS) + centre
    grid = rng.normal(0, 0.72 * d * px, size=(2, GRID, GRID))
    src += elastic() @ grid @ elastic().T
    return ndimage.map_coordinates(field, src, order=1, mode="constant", cval=FAR)


def paper(coverage: np.ndarray, rng: np.random.Generator, noise: float = 0.03) -> np.ndarray:
    """Dark ink on white paper in [0, 1], rounded to 1/255 steps like an 8-bit scan."""
    darkness = rng.uniform(0.0, 0.25, size=(len(coverage), 1, 1)).astype(np.float32)
    img = 1.0 - coverage * (1.0 - darkness)
    img += rng.normal(0, noise, size=img.shape).astype(np.float32)
    return np.round(np.clip(img, 0.0, 1.0) * 255) / 255
