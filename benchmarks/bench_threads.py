"""OpenMP's wait policy under contention: 300 Adam steps of a small dense autoencoder with two threads.

    python benchmarks/bench_threads.py            # run it while another job keeps the cores busy

Prints the time with OpenMP's default (threads spin while they wait) and with OMP_WAIT_POLICY=PASSIVE,
which every sandboxed worker and kernel uses (autograder/sandbox/launch.py). Each runs in a fresh
interpreter, since OpenMP reads the variable once.
"""
from __future__ import annotations

import os
import subprocess
import sys

LOOP = """
import time, torch
from torch import nn
torch.set_num_threads(2); torch.manual_seed(0)
m = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(),
                  nn.Linear(128, 784), nn.Sigmoid())
opt = torch.optim.Adam(m.parameters(), 1e-3); x = torch.rand(128, 784)
t = time.perf_counter()
for _ in range(300):
    loss = nn.functional.mse_loss(m(x), x); opt.zero_grad(); loss.backward(); opt.step()
print(f"{time.perf_counter() - t:.2f}")
"""


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, policy in (("default (spinning)", None), ("OMP_WAIT_POLICY=PASSIVE", "PASSIVE")):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        out = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True, text=True, check=True)
        print(f"{label:26s} {out.stdout.strip()} s")


if __name__ == "__main__":
    main()
