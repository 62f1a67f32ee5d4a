"""Calibrate handout 004's Q4.4 thresholds: character error rate of run_q4.py's printout per page.

Trains the reference run_q3.py on the NIST36 in the data directory, runs the reference run_q4.py over
the hidden synthetic pages, and also two known-wrong variants (crops fed to the network without the
transpose; an untrained network), scoring each page with the rubric's own ``cer``.

    python benchmarks/calibrate_ocr_text.py --seeds 0 1 2 3 4 5
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
from autograder.rubric.expr import cer
from autograder.worker import shims

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solution" / "cmu-hw5" / "python"
PAGES = ROOT / "fixtures" / "hidden" / "cmu-hw5" / "ocr-pages"


def read_pages(photos: dict) -> list[float]:
    """Error rates on each hidden page, then (if installed) the mean over the course's photos."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path("run_q4.py", run_name="__main__")
    text = printed.getvalue()
    rates = [round(cer(text, json.loads(p.read_text())["text"]), 3) for p in sorted(PAGES.glob("*.json"))]
    if photos:
        rates.append(round(float(np.mean([cer(text, "\n".join(lines)) for lines in photos.values()])), 3))
    return rates


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
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REFERENCE, Path(tmp) / "python")
        for sub, files in (("data", [found.folder / f"nist36_{s}.mat" for s in ("train", "valid")]),
                           ("images", sorted(PAGES.glob("*.jpg")) + photo_files)):
            (Path(tmp) / sub).mkdir()
            for f in files:  # the pages go in as page_01_list.jpg, like the rubric puts them
                shutil.copy(f, Path(tmp) / sub / (("page_" if f.parent == PAGES else "") + f.name))
        os.chdir(Path(tmp) / "python")
        sys.path.insert(0, os.getcwd())
        print("pages:", [p.stem for p in sorted(PAGES.glob("*.json"))]
              + (["mean over the course's photos"] if photos else ["(course photos not installed)"]))
        for seed in args.seeds:
            np.random.seed(seed)
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path("run_q3.py", run_name="__main__")
            rates = read_pages(photos)
            print(f"reference, seed {seed:<3d}", rates, f"mean of pages {np.mean(rates[:4]):.3f}", flush=True)
        import q4

        crop = q4.crop_for_network
        q4.crop_for_network = lambda bw, box, *a: crop(bw, box, *a).reshape(32, 32).T.reshape(-1)
        rates = read_pages(photos)
        print("crops not transposed ", rates, f"mean of pages {np.mean(rates[:4]):.3f}")
        q4.crop_for_network = crop
        with open("q3_weights.pickle", "rb") as fh:
            trained = pickle.load(fh)
        rng = np.random.default_rng(0)
        with open("q3_weights.pickle", "wb") as fh:
            pickle.dump({k: rng.uniform(-0.1, 0.1, v.shape) for k, v in trained.items()}, fh)
        rates = read_pages(photos)
        print("untrained network    ", rates, f"mean of pages {np.mean(rates[:4]):.3f}")


if __name__ == "__main__":
    main()
