"""Calibrate handout 004's autoencoder and PCA thresholds (Q5.1.1, Q5.1.2, Q5.3.2, Q6.3).

Runs the reference ``run_q5.py`` and known-wrong variants of it (no momentum; sigmoid in a hidden
layer) on the NIST36 in the data directory, then measures what the rubric's judge measures: the
average PSNR of the trained layers on the held-out test split, and how closely the output layer's
momentum accumulator follows the last gradient. Also prints the reference PCA's validation PSNR.

    python benchmarks/calibrate_autoencoder.py --seeds 0 1
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import runpy
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import data
from autograder.data import nist36
from autograder.rubric.expr import cosine, psnr
from autograder.worker import shims

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solution" / "cmu-hw5" / "python"
VARIANTS = {
    "reference": [],
    "no momentum": [("0.9 * params['m_' + name] - learning_rate", "- learning_rate")],
    "sigmoid hidden layer": [("('hidden', hidden_size, hidden_size, relu, relu_deriv)",
                              "('hidden', hidden_size, hidden_size, sigmoid, sigmoid_deriv)")],
}


def run(script: Path, seed: int) -> dict:
    np.random.seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(script), run_name="__main__")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    shims.apply(["numpy_aliases", "matplotlib_agg", "skimage_compare_psnr"])
    found = data.resolve("nist36", args.data_dir)
    test_x, _ = nist36.load(found.folder, "test")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "python"
        shutil.copytree(REFERENCE, work)
        (Path(tmp) / "data").mkdir()
        for split in ("train", "valid"):
            shutil.copy(found.folder / f"nist36_{split}.mat", Path(tmp) / "data")
        os.chdir(work)
        sys.path.insert(0, str(work))
        for name, edits in VARIANTS.items():
            text = (REFERENCE / "run_q5.py").read_text()
            for old, new in edits:
                assert text.count(old) == 1, old
                text = text.replace(old, new)
            script = work / "variant_q5.py"
            script.write_text(text)
            for seed in args.seeds:
                started = time.perf_counter()
                g = run(script, seed)
                x = test_x
                for layer, act in (("layer1", g["relu"]), ("hidden", g["relu"]), ("hidden2", g["relu"]),
                                   ("output", g["sigmoid"])):
                    x = g["forward"](x, g["params"], layer, act)
                p = g["params"]
                print(f"{name:22s} seed {seed}: test PSNR {psnr(test_x, x):.2f} dB, "
                      f"cosine(m_Woutput, -grad_Woutput) {cosine(p['m_Woutput'], -p['grad_Woutput']):.3f}, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
        g = run(work / "run_q6.py", 0)
        print(f"PCA reference: validation PSNR {psnr(g['valid_x'], g['recon_valid']):.2f} dB")


if __name__ == "__main__":
    main()
