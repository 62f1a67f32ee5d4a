"""Run a rubric's reference notebooks in the sandbox and print timings and held-out accuracies.

    python benchmarks/calibrate_notebooks.py specs/apl405-hw2.yaml [--repeat 1]

For each notebook the rubric names: the kernel's overhead (start, set-up, shutdown), every cell's
time, and the accuracy of the trained model (``find_model``) on the rubric's held-out images, the
number a threshold is set from (e.g. the synthetic-MNIST bars of handout 001's Q4 and Q5).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder.grading import Grader, Runners
from autograder.placement import provide_data
from autograder.intake import stage
from autograder.rubric.probe import DataRef, load_data_array
from autograder.rubric.schema import load
from autograder.sandbox.process import WorkerProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--images", default="mnist:MNIST/raw/t10k-images-idx3-ubyte:8000:10000")
    parser.add_argument("--labels", default="mnist:MNIST/raw/t10k-labels-idx1-ubyte:8000:10000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rubric = load(args.spec)
    images, labels = (_ref(text) for text in (args.images, args.labels))
    x = load_data_array(images) / 255.0
    y = load_data_array(labels).astype(int)
    notebooks = [k for k, f in rubric.files.items() if f.run_as == "notebook"]
    with Grader(rubric) as grader, tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            sub = stage(rubric.path(rubric.reference), Path(tmp) / f"ref{attempt}", rubric.files,
                        rubric.source.parent, trusted=True)
            provide_data(sub, rubric, grader.heads)
            worker = WorkerProcess(str(sub.root), rubric.policy.shims, rubric.policy.limits, layers=grader.layers)
            runners = Runners(worker, rubric, sub, seed=attempt, sandboxed=True, layers=grader.layers,
                              scratch=Path(tmp))
            try:
                for key in notebooks:
                    started = time.perf_counter()
                    session = runners.for_names([key])
                    run = session.execute()
                    reply = session.request({"op": "run", "modules": sub.module_paths([key], rubric.files),
                                             "scenario": {"steps": [f"m = find_model({key})"],
                                                          "observe": {"s": "predict(m, x)"}}},
                                            {"x": x}, time_s=120)
                    acc = float(np.mean(reply.value["s"].argmax(axis=1) == y)) if reply.ok else float("nan")
                    cells = " ".join(f"{c.seconds:.1f}" for c in run.cells)
                    print(f"{run.path}: held-out accuracy {acc:.4f}; {run.summary()}; kernel overhead "
                          f"{run.overhead_seconds:.2f} s; cells [{cells}] s; with probe "
                          f"{time.perf_counter() - started:.1f} s" + (f"; {run.problem}" if run.problem else ""))
            finally:
                runners.close()


def _ref(text: str) -> DataRef:
    name, file, start, stop = text.split(":")
    return DataRef(name=name, file=file, rows=(int(start), int(stop)))


if __name__ == "__main__":
    main()
