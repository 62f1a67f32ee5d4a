"""Calibrate synthetic NIST36: the handout's MLP must reach 75-85 % validation accuracy, as on real data.

    python benchmarks/calibrate_nist36.py [--data-dir DIR] [--seeds 0 1] [--lr 2e-3] [--epochs 30]

Trains handout 004's network with the *reference solution's* functions (1024-64 sigmoid-36 softmax,
Xavier init, summed cross-entropy, SGD, batch 32) and prints train/valid/test accuracy per epoch
milestone, the time taken, and how close that time is to the matrix multiplications alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solution" / "cmu-hw5" / "python"))
import nn  # noqa: E402  the reference solution

from autograder import data  # noqa: E402
from autograder.data import nist36  # noqa: E402


def train(x, y, valid, lr: float, epochs: int, batch: int, seed: int, hidden: int = 64):
    np.random.seed(seed)
    params: dict = {}
    nn.initialize_weights(1024, hidden, params, "layer1")
    nn.initialize_weights(hidden, 36, params, "output")
    history = []
    for epoch in range(epochs):
        for xb, yb in nn.get_random_batches(x, y, batch):
            probs = nn.forward(nn.forward(xb, params, "layer1"), params, "output", nn.softmax)
            delta = nn.backwards(probs - yb, params, "output", nn.linear_deriv)
            nn.backwards(delta, params, "layer1", nn.sigmoid_deriv)
            for k in ("Wlayer1", "blayer1", "Woutput", "boutput"):
                params[k] -= lr * params["grad_" + k]
        history.append((epoch + 1, accuracy(params, x, y), accuracy(params, *valid)))
    return params, history


def accuracy(params, x, y) -> float:
    probs = nn.forward(nn.forward(x, params, "layer1"), params, "output", nn.softmax)
    return float(nn.compute_loss_and_acc(y, probs)[1])


def matmul_floor(n: int, batch: int, epochs: int, hidden: int = 64) -> float:
    """Seconds the forward and backward matrix products alone take for the same training."""
    a, w1, w2 = np.random.rand(batch, 1024), np.random.rand(1024, hidden), np.random.rand(hidden, 36)
    steps = (n // batch) * epochs
    t = time.perf_counter()
    for _ in range(min(steps, 2000)):
        h = a @ w1; o = h @ w2  # noqa: E702
        d = o @ w2.T; _ = a.T @ d; _ = h.T @ o  # noqa: E702
    return (time.perf_counter() - t) * steps / min(steps, 2000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    found = data.resolve("nist36", args.data_dir)
    print(f"data: {found.origin} ({found.source}) in {found.folder}")
    x, y = nist36.load(found.folder, "train")
    valid, test = nist36.load(found.folder, "valid"), nist36.load(found.folder, "test")
    for seed in args.seeds:
        t = time.perf_counter()
        params, history = train(x, y, valid, args.lr, args.epochs, args.batch, seed)
        seconds = time.perf_counter() - t
        marks = [h for h in history if h[0] in (1, 5, 10, 20, args.epochs)]
        print(f"seed {seed} lr {args.lr:g}: " + "; ".join(f"epoch {e} train {a:.3f} valid {v:.3f}" for e, a, v in marks)
              + f"; test {accuracy(params, *test):.3f}; {seconds:.1f} s "
                f"(matrix products alone {matmul_floor(len(x), args.batch, args.epochs):.1f} s)")


if __name__ == "__main__":
    main()
