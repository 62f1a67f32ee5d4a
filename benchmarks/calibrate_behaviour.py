"""Calibrate the behaviour checks of handout 004's momentum (Q5.1.2) and PCA (Q6.1, Q6.3) questions.

    python benchmarks/calibrate_behaviour.py [--only run_q5.py|run_q6.py]

Runs the reference ``run_q5.py`` / ``run_q6.py`` and every mutant of ``specs/cmu-hw5/mutants.yaml``
that edits them, outside the sandbox, on the NIST36 of the data directory, and prints what the
judge measures: for run_q5.py the fitted momentum (``parameter_updates`` then ``momentum_share``,
``momentum_gamma``, and the residual of each parameter's fit), for run_q6.py the projections found
by shape and the PSNR of the held-out test images the judge reconstructs with them. A random
orthonormal projection and the training mean alone are printed as baselines.
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
import types
from pathlib import Path

import numpy as np
import yaml

from autograder import data
from autograder.data import nist36
from autograder.rubric.expr import (_momentum_fits, momentum_gamma, momentum_share, projection_dims,
                                    projection_psnr, psnr)
from autograder.worker import shims
from autograder.worker.arrays import projections
from autograder.worker.updates import parameter_updates

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solution" / "cmu-hw5" / "python"
MUTANTS = ROOT / "specs" / "cmu-hw5" / "mutants.yaml"


def variants(script: str) -> list[tuple[str, str]]:
    reference = (REFERENCE / script).read_text()
    out = [("reference", reference)]
    for mutant in yaml.safe_load(MUTANTS.read_text()):
        if mutant["file"] == f"python/{script}":
            out.append((mutant["name"], reference.replace(mutant["find"], mutant["replace"])))
    return out


def momentum(work: Path, name: str, text: str) -> None:
    path = work / "variant_q5.py"
    path.write_text(text)
    np.random.seed(0)
    script = types.ModuleType("variant")
    script.__file__ = str(path)
    updates = parameter_updates(script)
    fits = _momentum_fits(updates)
    worst = max((f["residual"] for f in fits), default=float("nan"))
    print(f"{name}: {updates['states']} states, share {momentum_share(updates):.3f}, "
          f"gamma {momentum_gamma(updates):.6f}, worst residual {worst:.1e}", flush=True)


def pca(work: Path, name: str, text: str, test_x: np.ndarray, train_x: np.ndarray) -> None:
    path = work / "variant_q6.py"
    path.write_text(text)
    np.random.seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        names = runpy.run_path(str(path), run_name="__main__")
    module = types.ModuleType("variant")
    module.__dict__.update(names)
    found = projections(module, 1024)
    print(f"{name}: found {[f.shape for f in found]}, dims {projection_dims(found, 32):g}, "
          f"test PSNR {projection_psnr(found, test_x, train_x, 32):.2f} dB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["run_q5.py", "run_q6.py"])
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    shims.apply(["numpy_aliases", "matplotlib_agg", "skimage_compare_psnr"])
    found = data.resolve("nist36", args.data_dir)
    test_x, _ = nist36.load(found.folder, "test")
    train_x, _ = nist36.load(found.folder, "train")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "python"
        shutil.copytree(REFERENCE, work)
        (Path(tmp) / "data").mkdir()
        for split in ("train", "valid"):
            shutil.copy(found.folder / f"nist36_{split}.mat", Path(tmp) / "data")
        os.chdir(work)
        sys.path.insert(0, str(work))
        import nn  # noqa: F401 - imported as a worker's first run of the script would have

        if args.only in (None, "run_q5.py"):
            for name, text in variants("run_q5.py"):
                momentum(work, name, text)
        if args.only in (None, "run_q6.py"):
            for name, text in variants("run_q6.py"):
                pca(work, name, text, test_x, train_x)
            for seed in range(5):
                basis = np.linalg.qr(np.random.default_rng(seed).normal(size=(1024, 32)))[0]
                print(f"random orthonormal projection (seed {seed}): test PSNR "
                      f"{projection_psnr([basis], test_x, train_x, 32):.2f} dB")
            mean = np.tile(train_x.mean(axis=0), (len(test_x), 1))
            print(f"training mean alone: test PSNR {psnr(test_x, mean):.2f} dB")


if __name__ == "__main__":
    main()
