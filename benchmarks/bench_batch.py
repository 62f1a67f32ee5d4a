"""Throughput of ``autograde batch``: one process, two processes, and a two-worker Dask cluster.

    python benchmarks/bench_batch.py [--n 200] [--no-sandbox] [--skip-cluster]

Makes ``--n`` submissions of handout 004 (copies of the reference and of the mutants of
specs/cmu-hw5 that edit nn.py or run_q2.py, each with its own comment line so every submission has
its own hash and seed), grades them on the function-check questions Q2.1.2-Q2.5.1 with ``-j 1``,
``-j 2`` and through a ``LocalCluster`` of two single-threaded worker processes, and prints
submissions per second and the speed-up over ``-j 1`` (target: >= 1.8x on two cores). It first
prints the machine's own ceiling: a CPU-bound Python loop alone and two copies at once (virtual
cores that share a physical one give far less than 2x).

Each timed run starts from an empty report folder and includes starting the pool processes and
their Graders (rubric, staged reference, reference worker); the fork server's one-off import of
the grader and the cluster's start-up are done before the clock starts, as they would be on a
machine that grades more than one batch.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from autograder.batch import run_batch
from autograder.rubric.schema import load
from autograder.validation import apply_mutant, load_mutants

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "cmu-hw5.yaml"
FUNCTION_QUESTIONS = ["Q2.1.2", "Q2.2.1", "Q2.2.2", "Q2.2.3", "Q2.3.1", "Q2.4.1", "Q2.5.1"]
EDITED_FILES = {"python/nn.py", "python/run_q2.py"}


def _spin(n: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - started


def machine_ceiling(n: int = 20_000_000) -> str:
    """How much two processes get done at once, against one: the most any -j 2 can gain here."""
    import multiprocessing

    alone = _spin(n)
    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        both = pool.map(_spin, [n, n])
    return (f"machine: a CPU-bound loop took {alone:.2f} s alone and {max(both):.2f} s with two at once: "
            f"a ceiling of {2 * alone / max(both):.2f}x for two processes")


def make_class(folder: Path, n: int) -> Path:
    rubric = load(SPEC)
    reference = rubric.path(rubric.reference)
    variants = [None] + [m for m in load_mutants(rubric) if m.file in EDITED_FILES]
    subs = folder / "submissions"
    subs.mkdir(parents=True)
    for i in range(n):
        mutant = variants[i % len(variants)]
        dest = subs / f"student{i:03d}"
        if mutant is None:
            shutil.copytree(reference, dest, symlinks=False)
        else:
            apply_mutant(reference, mutant, dest)
        nn = dest / "python" / "nn.py"
        nn.write_text(f"# student {i}\n" + nn.read_text())
    return subs


def breakdown(out: Path) -> str:
    """Where a submission's time goes, from the provenance.json files: sandbox start-up and questions."""
    totals, startups, per_q = [], [], Counter()
    for prov in out.glob("*/provenance.json"):
        timing = json.loads(prov.read_text()).get("timing", {})
        totals.append(timing.get("total_s", 0))
        startups.append(timing.get("sandbox_startup_s", 0))
        per_q.update(timing.get("per_question_s", {}))
    if not totals:
        return ""
    n = len(totals)
    slowest = ", ".join(f"{q} {s / n:.2f} s" for q, s in per_q.most_common(3))
    return (f"    per submission: grade {sum(totals) / n:.2f} s, of which sandbox start-up "
            f"{sum(startups) / n:.2f} s; slowest questions {slowest}")


def timed(label: str, n: int, **kwargs) -> float:
    started = time.perf_counter()
    result = run_batch(**kwargs)
    seconds = time.perf_counter() - started
    statuses = Counter(r.summary.get("status") for r in result.rows)
    full = sum(1 for r in result.rows if r.summary.get("score") == r.summary.get("auto_max"))
    busy = sum(r.summary.get("seconds", 0) for r in result.rows)
    print(f"{label:28s} {n} submissions in {seconds:6.1f} s = {n / seconds:5.2f} /s; "
          f"{busy / n:.2f} s per submission inside the job, {busy / seconds:.2f} graded at once on average "
          f"({dict(statuses)}, {full} with full marks; {len({r.summary.get('worker') for r in result.rows})} "
          f"grading processes; load average {os.getloadavg()[0]:.2f})", flush=True)
    print(breakdown(kwargs["out"]), flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of submissions (default 200)")
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    sandboxed = not args.no_sandbox
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = Path(tmp)
        subs = make_class(tmp, args.n)
        # grading only: the similarity report compares every pair of students (bench_similarity.py)
        common = dict(submissions=subs, spec=SPEC, only=FUNCTION_QUESTIONS, sandboxed=sandboxed, progress=False,
                      similarity_threshold=None)
        print(f"{args.n} submissions of handout 004, questions {FUNCTION_QUESTIONS[0]}-{FUNCTION_QUESTIONS[-1]}, "
              f"{'sandboxed' if sandboxed else 'no sandbox'}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        print(machine_ceiling(), flush=True)
        warm = tmp / "warm"
        warm.mkdir()
        for name in sorted(os.listdir(subs))[:2]:
            shutil.copytree(subs / name, warm / name)
        run_batch(**dict(common, submissions=warm, out=tmp / "out-warm", jobs=2))  # fork server imports once
        one = timed("-j 1", args.n, out=tmp / "out-1", jobs=1, **common)
        two = timed("-j 2", args.n, out=tmp / "out-2", jobs=2, **common)
        print(f"speed-up -j 2 over -j 1: {one / two:.2f}x (target >= 1.8x)", flush=True)
        if not args.skip_cluster:
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                with Client(cluster.scheduler_address) as client:
                    client.run(lambda: __import__("autograder.batch.job"))  # workers import the grader
                dask = timed("Dask LocalCluster, 2 workers", args.n, out=tmp / "out-dask",
                             scheduler=cluster.scheduler_address, **common)
            print(f"speed-up Dask (2 workers) over -j 1: {one / dask:.2f}x", flush=True)


if __name__ == "__main__":
    main()
