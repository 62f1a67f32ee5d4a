"""How well does the reference OCR pipeline, trained on synthetic NIST36, read the real photos?

    python benchmarks/ocr_real_photos.py [--photos ../shared/data/ocr-images] [--epochs 60]

Trains handout 004's network (1024-64-36) with the reference solution on the synthetic NIST36,
runs the reference findLetters and text extraction on the four photos, and prints per photo: box
recall and precision at IoU >= 0.5 against boxes.json, and character accuracy (1 - edit distance /
length) against ground_truth.yaml. That number says how realistic the synthetic training set is.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solution" / "cmu-hw5" / "python"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import nn  # noqa: E402
import q4  # noqa: E402
import skimage.io  # noqa: E402

from autograder import data  # noqa: E402
from autograder.data import nist36  # noqa: E402
from autograder.rubric.expr import matched_boxes  # noqa: E402  the rubric's own IoU >= 0.5 matching


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def char_accuracy(lines: list[str], truth: list[str]) -> float:
    got, want = "".join(lines), "".join(truth)
    return max(0.0, 1.0 - edit_distance(got, want) / len(want))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "ocr-images"))
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=5e-3)
    args = parser.parse_args()
    import calibrate_nist36

    found = data.resolve("nist36", args.data_dir)
    x, y = nist36.load(found.folder, "train")
    t = time.perf_counter()
    params, history = calibrate_nist36.train(x, y, nist36.load(found.folder, "valid"), args.lr, args.epochs, 32, 0)
    print(f"trained on {found.origin} NIST36 in {time.perf_counter() - t:.0f} s: valid accuracy {history[-1][2]:.3f}")
    photos = Path(args.photos)
    truth = yaml.safe_load((photos / "ground_truth.yaml").read_text())
    boxes = json.loads((photos / "boxes.json").read_text())
    totals = np.zeros(3)
    for name, lines in truth.items():
        image = skimage.img_as_float(skimage.io.imread(photos / name))
        bboxes, bw = q4.findLetters(image)
        truth_boxes = [c["bbox"] for c in boxes[name]]
        m, nf, nt = matched_boxes(bboxes, truth_boxes), len(bboxes), len(truth_boxes)
        text = q4.extract_text(image, params, nn.forward, nn.softmax)
        acc = char_accuracy(text, lines)
        totals += (acc * len("".join(lines)), len("".join(lines)), 0)
        print(f"{name}: boxes recall {m / nt:.3f} precision {m / max(nf, 1):.3f} ({m} of {nt}, {nf} found); "
              f"characters {acc:.3f}\n    read: {' / '.join(text)}")
    print(f"all photos: character accuracy {totals[0] / totals[1]:.3f}")


if __name__ == "__main__":
    main()
