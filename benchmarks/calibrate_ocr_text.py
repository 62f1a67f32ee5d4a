"""Calibrate handout 004's Q4.4 thresholds: how well run_q4.py's printout reads the pages.

Trains the reference run_q3.py on the NIST36 in the data directory, runs the reference run_q4.py over
the hidden synthetic pages (and the course's photos when installed, in the same ../images folder, as
the rubric places them), and scores the printout with the rubric's ``ocr_error`` (each page matched to
its own stretch of the printout, any order, length penalised) next to the former per-page ``cer``
mean. Then, per training, edits of that printout (extra header lines per image, the images in reverse
order, the whole printout twice) and junk printouts (letters drawn with English letter frequencies,
200 000 of them or as many as the pages hold or as many as the allowance lets through; nothing at
all); and once, two known-wrong variants (crops fed to the network without the transpose; an
untrained network).

    python benchmarks/calibrate_ocr_text.py --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from autograder import data
from autograder.data import ocr
from autograder.rubric.expr import ALLOWANCE_PLUS, ALLOWANCE_TIMES, _normal_text, cer, ocr_error
from autograder.worker import shims

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solution" / "cmu-hw5" / "python"
PAGES = ROOT / "fixtures" / "hidden" / "cmu-hw5" / "ocr-pages"
# English letter frequencies (per cent), for the junk printouts
FREQUENCIES = {"E": 12.7, "T": 9.1, "A": 8.2, "O": 7.5, "I": 7.0, "N": 6.7, "S": 6.3, "H": 6.1, "R": 6.0,
               "D": 4.3, "L": 4.0, "C": 2.8, "U": 2.8, "M": 2.4, "W": 2.4, "F": 2.2, "G": 2.0, "Y": 2.0,
               "P": 1.9, "B": 1.5, "V": 1.0, "K": 0.8, "J": 0.15, "X": 0.15, "Q": 0.1, "Z": 0.07}


def run_q4() -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path("run_q4.py", run_name="__main__")
    return printed.getvalue()


def scores(text: str, truths: dict[str, list[str]]) -> str:
    """``ocr_error`` per set of pages (the rubric's value), with the former mean ``cer`` in brackets."""
    parts = []
    for name, pages in truths.items():
        parts.append(f"{name} {ocr_error(text, pages):.3f} (cer mean {np.mean([cer(text, p) for p in pages]):.3f})")
    return ";  ".join(parts)


def blocks(text: str) -> list[list[str]]:
    """The printout cut before each image's file name (the reference prints the name, then its lines)."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if line.lower().endswith((".jpg", ".png")) or not out:
            out.append([])
        out[-1].append(line)
    return out


def with_headers(text: str) -> str:
    """Each image's block under two extra lines, and an accuracy line at the end."""
    lines = []
    for i, block in enumerate(blocks(text), 1):
        lines += [f"Image {i}: {block[0]}", f"Recognised text ({len(block) - 1} lines):"] + block[1:] + [""]
    return "\n".join(lines + ["Validation accuracy of the network: 0.873"])


def random_letters(n: int, rng: np.random.Generator) -> str:
    letters, weights = list(FREQUENCIES), np.array(list(FREQUENCIES.values()))
    drawn = rng.choice(letters, size=n, p=weights / weights.sum())
    return "\n".join("".join(drawn[i:i + 20]) for i in range(0, n, 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="trainings of the reference")
    args = parser.parse_args()
    shims.apply(["numpy_aliases", "matplotlib_agg", "skimage_compare_psnr"])
    found = data.resolve("nist36", args.data_dir)
    photos_found = data.resolve("ocr-photos", args.data_dir, make=False)
    photo_files = [photos_found.folder / name for name in ocr.PHOTOS] if photos_found else []
    photos = (yaml.safe_load((photos_found.folder / "ground_truth.yaml").read_text()) if photos_found else {})
    truths = {"pages": [json.loads(p.read_text())["text"] for p in sorted(PAGES.glob("*.json"))]}
    if photos:
        truths["photos"] = ["\n".join(photos[name]) for name in ocr.PHOTOS]
    total = sum(len(_normal_text(p)) for p in truths["pages"])
    free = int(total + ALLOWANCE_TIMES * total + ALLOWANCE_PLUS)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REFERENCE, Path(tmp) / "python")
        for sub, files in (("data", [found.folder / f"nist36_{s}.mat" for s in ("train", "valid")]),
                           ("images", sorted(PAGES.glob("*.jpg")) + photo_files)):
            (Path(tmp) / sub).mkdir()
            for f in files:  # the pages go in as page_01_list.jpg, like the rubric puts them
                shutil.copy(f, Path(tmp) / sub / (("page_" if f.parent == PAGES else "") + f.name))
        os.chdir(Path(tmp) / "python")
        sys.path.insert(0, os.getcwd())
        print("sets of pages:", list(truths), "" if photos else "(course photos not installed)")
        print(f"the hidden pages hold {total} characters; a printout may hold {free} before the length "
              f"costs anything")
        for seed in args.seeds:
            np.random.seed(seed)
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path("run_q3.py", run_name="__main__")
            text = run_q4()
            print(f"reference, seed {seed} ({len(_normal_text(text))} characters printed)", flush=True)
            print("  as printed          ", scores(text, truths))
            print("  with header lines   ", scores(with_headers(text), truths))
            print("  images reversed     ", scores("\n".join(sum(blocks(text)[::-1], [])), truths))
            print("  printed twice       ", scores(text + "\n" + text, truths))
            print("  thrice              ", scores("\n".join([text] * 3), truths), flush=True)
        print("junk (no network)")
        print("  empty printout      ", scores("", truths))
        for n in (200_000, total, free):
            print(f"  {n:6d} random letters", scores(random_letters(n, rng), truths), flush=True)
        import q4

        crop = q4.crop_for_network
        q4.crop_for_network = lambda bw, box, *a, **k: crop(bw, box, *a, **k).reshape(32, 32).T.reshape(-1)
        print("crops not transposed  ", scores(run_q4(), truths), flush=True)
        q4.crop_for_network = crop
        with open("q3_weights.pickle", "rb") as fh:
            trained = pickle.load(fh)
        with open("q3_weights.pickle", "wb") as fh:
            pickle.dump({k: rng.uniform(-0.1, 0.1, v.shape) for k, v in trained.items()}, fh)
        print("untrained network     ", scores(run_q4(), truths))


if __name__ == "__main__":
    main()
