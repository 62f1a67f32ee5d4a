"""The bank of glyphs every synthetic dataset is drawn from, shipped with the package.

Each (font, character) was rendered once at 64x64 and stored as two distance fields: the signed
distance to the font's own outline, and the distance to its skeleton. Thresholding the skeleton
distance redraws the character with a round pen of any width, which makes printed faces look
hand-printed (``data.md`` §4).

The bank is package data (``glyphs.npz``, 76 faces of 15 freely licensed Debian font packages, see
``GLYPHS.md``), never the fonts of the machine at hand: a synthetic dataset is the same bytes on a
TA's laptop, a Dask worker and CI, whatever fonts they have. A maintainer rebuilds it from installed
fonts with ``python -m autograder.data.glyphs OUT.npz`` (and then the data manifest, ``manifest.py``).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CANVAS = 64
LONG_SIDE = 52
NIST36_CLASSES = string.ascii_uppercase + string.digits            # NIST36 column order: A-Z, 0-9
EMNIST_BALANCED = string.digits + string.ascii_uppercase + "abdefghnqrt"  # torchvision's 47 classes
CHARACTERS = "".join(dict.fromkeys(NIST36_CLASSES + EMNIST_BALANCED))

FONT_ROOTS = ("/usr/share/fonts",)
HANDWRITING = ("bwht", "comic-neue", "dancingscript", "breip", "fifthhorseman", "humor-sans", "kristi",
               "rufscript", "sjfonts", "tomsontalks", "yusei-magic")
PLAIN = ("dejavu", "liberation", "freefont")
SKIP = ("DejaVuMath", "femkeklaver")


@dataclass
class GlyphBank:
    fonts: list[str]            # font file names (not paths: the cache is portable)
    handwriting: np.ndarray     # bool per font
    chars: str
    outline: np.ndarray         # (fonts, chars, 64, 64) float16 signed distance, < 0 inside
    skeleton: np.ndarray        # (fonts, chars, 64, 64) float16 distance to the skeleton
    present: np.ndarray         # (fonts, chars) bool: the font draws this character

    def fonts_for(self, char: str, handwriting: bool | None = None) -> np.ndarray:
        j = self.chars.index(char)
        ok = self.present[:, j]
        if handwriting is not None:
            ok = ok & (self.handwriting == handwriting)
        return np.flatnonzero(ok)


def find_fonts() -> list[tuple[Path, bool]]:
    """(path, is_handwriting) for every usable installed face, in a stable order."""
    found = []
    for root in FONT_ROOTS:
        for path in sorted(Path(root).rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf") or any(s in path.name for s in SKIP):
                continue
            text = str(path).lower()
            if any(h in text for h in HANDWRITING):
                found.append((path, True))
            elif any(p in text for p in PLAIN):
                found.append((path, False))
    return found


def _render(font, char: str) -> np.ndarray | None:
    from PIL import Image, ImageDraw

    probe = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(probe).text((64, 64), char, font=font, fill=255)
    arr = np.asarray(probe) > 127
    if arr.sum() < 12:
        return None
    rows, cols = np.flatnonzero(arr.any(1)), np.flatnonzero(arr.any(0))
    crop = probe.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
    scale = LONG_SIDE / max(crop.size)
    size = (max(1, round(crop.size[0] * scale)), max(1, round(crop.size[1] * scale)))
    crop = crop.resize(size, Image.BILINEAR)
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    canvas.paste(crop, ((CANVAS - size[0]) // 2, (CANVAS - size[1]) // 2))
    return np.asarray(canvas) > 127


def _fields(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage
    from skimage.morphology import skeletonize

    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    skeleton = skeletonize(mask)
    to_skeleton = ndimage.distance_transform_edt(~skeleton) if skeleton.any() else outside
    return (outside - inside).astype(np.float16), to_skeleton.astype(np.float16)


def build(chars: str = CHARACTERS, size_px: int = 160) -> GlyphBank:
    from PIL import ImageFont

    fonts = find_fonts()
    faces = []
    for path, hand in fonts:
        try:
            faces.append((path.name, hand, ImageFont.truetype(str(path), size_px)))
        except OSError:
            continue
    if not faces:  # no fonts installed: Pillow's own scalable default face
        faces = [("pillow-default", False, ImageFont.load_default(size=size_px))]
    n, m = len(faces), len(chars)
    outline = np.zeros((n, m, CANVAS, CANVAS), np.float16)
    skeleton = np.zeros_like(outline)
    present = np.zeros((n, m), bool)
    for i, (_, _, font) in enumerate(faces):
        for j, ch in enumerate(chars):
            mask = _render(font, ch)
            if mask is not None:
                outline[i, j], skeleton[i, j] = _fields(mask)
                present[i, j] = True
    return GlyphBank([f[0] for f in faces], np.array([f[1] for f in faces]), chars, outline, skeleton, present)


PACKAGED = Path(__file__).with_name("glyphs.npz")


def load(path: Path = PACKAGED) -> GlyphBank:
    """The shipped bank (the machine's fonts play no part)."""
    with np.load(path, allow_pickle=False) as z:
        return GlyphBank([str(f) for f in z["fonts"]], z["handwriting"], str(z["chars"]), z["outline"],
                         z["skeleton"], z["present"])


def save(bank: GlyphBank, path: Path) -> None:
    np.savez_compressed(path, fonts=np.array(bank.fonts), handwriting=bank.handwriting, chars=np.array(bank.chars),
                        outline=bank.outline, skeleton=bank.skeleton, present=bank.present)


if __name__ == "__main__":  # a maintainer's rebuild from the installed fonts (Pillow's rasteriser)
    import sys

    built = build()
    save(built, Path(sys.argv[1]))
    print(f"{sys.argv[1]}: {len(built.fonts)} faces ({int(built.handwriting.sum())} handwriting), "
          f"{len(built.chars)} characters")
