"""Calibrate Q2.4.1's thresholds: where does the reference's toy training end, over many seeds?

    python benchmarks/calibrate_toy.py [--seeds 200]

Runs the reference run_q2.py's training part (no gradient check) under seeds 0..N-1 and prints the
worst and typical final accuracy and mean loss on the toy set, judged with the reference forward
pass, next to an untrained network's. The rubric's thresholds must sit well beyond the worst seed.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for src in (ROOT / "solution" / "cmu-hw5" / "python").glob("*.py"):
            shutil.copy(src, tmp)
        sys.path.insert(0, tmp)
        import nn

        source = (Path(tmp) / "run_q2.py").read_text()
        training = compile(source[: source.index("# Q 2.5.1")], "run_q2.py", "exec")
        results = {"trained": [], "untrained": []}
        for seed in range(args.seeds):
            np.random.seed(seed)
            scope = {"__name__": "__main__"}
            with contextlib.redirect_stdout(io.StringIO()):
                exec(training, scope)
            x, y = scope["x"], scope["y"]
            for name, params in (("trained", scope["params"]), ("untrained", fresh(nn))):
                probs = nn.forward(nn.forward(x, params, "layer1"), params, "output", nn.softmax)
                loss, acc = nn.compute_loss_and_acc(y, probs)
                results[name].append((acc, loss / len(x)))
    for name, rows in results.items():
        acc, loss = np.array(rows).T
        print(f"{name:9s} accuracy min {acc.min():.3f} median {np.median(acc):.3f} max {acc.max():.3f}; "
              f"mean loss max {loss.max():.3f} median {np.median(loss):.3f} min {loss.min():.3f}")


def fresh(nn) -> dict:
    params: dict = {}
    nn.initialize_weights(2, 25, params, "layer1")
    nn.initialize_weights(25, 4, params, "output")
    return params


if __name__ == "__main__":
    main()
