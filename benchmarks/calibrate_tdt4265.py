"""Calibrate T2c's training threshold (specs/tdt4265-a2.yaml): held-out accuracy after one epoch.

    python benchmarks/calibrate_tdt4265.py [--seeds 5] [--epochs 1]

Runs the rubric's training probe (the task 2c network: sigmoid, weights uniform in [-1, 1], lr 0.1,
batch 32, shuffled) with the reference solution under several numpy seeds, and judges the weights
like the rubric's `then` stage: reference forward pass on training images 50 000-59 999 (never in
the sandbox). Prints the reference's accuracy per seed next to an untrained network's and known
broken variants' (a backward pass without the sigmoid's derivative, a summed instead of averaged
gradient). The data is whatever `autograde data` resolves (synthetic stand-in unless real MNIST was
added), so rerun this after changing the data.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's autograder, not another installed copy
VARIANTS = {
    "reference": [],
    "backward without the derivative": [("task2a.py",
        "delta = (delta @ self.ws[layer].T) * self.activation_derivative(self.zs[layer - 1])",
        "delta = (delta @ self.ws[layer].T)")],
    "gradient summed over the batch": [("task2a.py",
        "delta = -(targets - outputs) / batch_size", "delta = -(targets - outputs)")],
    "no weight update (an untrained network)": [("task2.py",
        "self.model.ws[i] = self.model.ws[i] - self.learning_rate * grad", "pass")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    from autograder.data import idx, resolve
    from autograder.placement import HeadCache

    found = resolve("mnist")
    print(f"data: {found.origin} ({found.source})")
    heads = tempfile.TemporaryDirectory()
    trimmed = HeadCache(Path(heads.name)).head_of(found.folder / "mnist.pkl",
                                                  {"training_images": 20000, "training_labels": 20000})
    images = idx.read(found.folder / "MNIST/raw/train-images-idx3-ubyte")[50000:60000].reshape(-1, 784)
    labels = idx.read(found.folder / "MNIST/raw/train-labels-idx1-ubyte")[50000:60000].astype(int)
    for name, edits in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            for src in (ROOT / "solution" / "tdt4265-a2").glob("*.py"):
                text = src.read_text()
                for find, replace in [(f, r) for file, f, r in edits if file == src.name]:
                    assert text.count(find) == 1, find
                    text = text.replace(find, replace)
                (Path(tmp) / src.name).write_text(text)
            os.makedirs(Path(tmp) / "data")
            shutil.copy(trimmed, Path(tmp) / "data" / "mnist.pkl")
            cwd = os.getcwd()
            os.chdir(tmp)
            sys.path.insert(0, tmp)
            for mod in ("task2a", "task2", "trainer", "utils", "mnist"):
                sys.modules.pop(mod, None)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    import task2
                    import task2a
                    import utils
                    X_train, Y_train, X_val, Y_val = utils.load_full_mnist()
                    Xtr, Xva = task2a.pre_process_images(X_train), task2a.pre_process_images(X_val)
                    Ytr, Yva = task2a.one_hot_encode(Y_train, 10), task2a.one_hot_encode(Y_val, 10)
                    Xh = task2a.pre_process_images(images)
                accs, untrained, secs = [], [], []
                for seed in range(args.seeds):
                    np.random.seed(seed)
                    started = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        model = task2a.SoftmaxModel([64, 10], False, False)
                        untrained.append(np.mean(model.forward(Xh).argmax(1) == labels))
                        # the model resets numpy's seed to 1, so the shuffling would repeat: seed the
                        # batch order here, as a student's different use of the generator would
                        np.random.seed(1000 + seed)
                        trainer = task2.SoftmaxTrainer(0.9, False, model, 0.1, 32, True, Xtr, Ytr, Xva, Yva)
                        trainer.train(args.epochs)
                    secs.append(time.perf_counter() - started)
                    with np.errstate(all="ignore"):
                        accs.append(np.mean(model.forward(Xh).argmax(1) == labels))
            finally:
                os.chdir(cwd)
                sys.path.remove(tmp)
        print(f"{name:34s} held-out accuracy over {args.seeds} seeds: min {min(accs):.4f} "
              f"median {np.median(accs):.4f} max {max(accs):.4f} | untrained max {max(untrained):.4f}"
              f" | {np.mean(secs):.1f} s per run")


if __name__ == "__main__":
    main()
