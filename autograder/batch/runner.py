"""A whole class in one call: discover, skip what is already graded, grade the rest in parallel,
apply the late policy, write the gradebooks, the similarity report and the class page.

The pipeline, in order (each step one function):

    discover -> plan (resume: batch.json per student) -> grade (local pool or Dask) -> late
             -> gradebooks -> similarity.html -> summary.html

Grading runs ``job.grade_student`` for each student, either in a local ``ProcessPoolExecutor`` whose
processes each keep one Grader, or on an existing Dask cluster (``scheduler``). Late penalties are
computed here, not in the job, so a new ``--times`` CSV changes the gradebook without a regrade.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from ..report.html import write_summary_html
from ..rubric.schema import Rubric, load
from ..similarity import similar_pairs, write_similarity_report
from .discovery import Student, discover, submission_hash
from .gradebook import Row, write_gradebooks
from .job import grade_student, warm_up
from .late import lateness
from .timestamps import read_times, submission_time

RECORD = "batch.json"
REPORT_FILES = ("results.json", "report.md", "provenance.json", "report.html")
ERROR_FILE = "error.txt"  # why grading stopped, for the class page
POOL_ATTEMPTS = 3  # a grading process that dies takes its pool down: start a new one this often


@dataclass
class Task:
    student: Student
    sha256: str
    out: Path


@dataclass
class BatchResult:
    rows: list[Row]
    graded: list[str]            # student ids graded in this run
    skipped: list[str]           # unchanged since the last run (batch.json matched)
    paths: dict[str, Path]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [r.student.id for r in self.rows if r.summary.get("status") == "error"]


def run_batch(submissions: Path, spec: Path, out: Path | None = None, jobs: int | None = None,
              id_pattern: str | None = None, times: Path | None = None, force: bool = False,
              scheduler: str | None = None, sandboxed: bool = True, only: list[str] | None = None,
              similarity_threshold: float | None = 0.5, console: Console | None = None,
              progress: bool = True) -> BatchResult:
    started = time.perf_counter()
    spec = Path(spec).resolve()
    rubric = load(spec)
    out = Path(out or Path("reports") / rubric.assignment).resolve()
    out.mkdir(parents=True, exist_ok=True)
    students = discover(Path(submissions), id_pattern)
    only = sorted(only) if only else None
    tasks, summaries = plan(students, out, rubric.digest, only, force)
    skipped = [sid for sid in summaries]
    grade = grade_on_cluster if scheduler else grade_locally
    target = scheduler if scheduler else (jobs or os.cpu_count() or 1)
    for task, summary in grade(tasks, spec, rubric.digest, sandboxed, only, target, console, progress):
        record(task, rubric.digest, only, summary)
        summaries[task.student.id] = summary
    time_of = read_times(Path(times)) if times else {}
    zone = rubric.late.deadline.tzinfo if rubric.late else timezone.utc
    rows = [Row(s, summaries[s.id], lateness(rubric.late, submission_time(s.id, s.path, time_of, zone)))
            for s in students]
    paths = write_gradebooks(rows, rubric, out, only)
    notes = extra_outputs(rows, rubric, out, similarity_threshold, paths)
    return BatchResult(rows, [t.student.id for t in tasks], skipped, paths,
                       time.perf_counter() - started, notes)


# -- resume --------------------------------------------------------------------------------------
def plan(students: list[Student], out: Path, digest: str, only: list[str] | None,
         force: bool) -> tuple[list[Task], dict[str, dict]]:
    """Students to grade, and the summaries of those graded before with the same submission and rubric."""
    tasks, kept = [], {}
    for student in students:
        task = Task(student, submission_hash(student.path), out / student.id)
        previous = read_record(task.out)
        if (not force and previous and previous.get("submission_sha256") == task.sha256
                and previous.get("rubric_sha256") == digest and previous.get("only") == only
                and previous.get("summary", {}).get("status") in ("graded", "unreadable")
                and (task.out / "results.json").is_file()):
            kept[student.id] = previous["summary"]
        else:
            tasks.append(task)
    return tasks, kept


def read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None


def record(task: Task, digest: str, only: list[str] | None, summary: dict) -> None:
    """``batch.json``: what was graded with what, and the outcome (errors are retried on a rerun)."""
    task.out.mkdir(parents=True, exist_ok=True)
    (task.out / ERROR_FILE).unlink(missing_ok=True)
    if summary.get("status") == "error":  # no stale report may outlive a failed regrade
        for name in REPORT_FILES:
            (task.out / name).unlink(missing_ok=True)
        (task.out / ERROR_FILE).write_text(summary.get("message", "") + "\n\n" + summary.get("traceback", ""))
    (task.out / RECORD).write_text(json.dumps({
        "student": task.student.id, "submission": str(task.student.path),
        "submission_sha256": task.sha256, "rubric_sha256": digest, "only": only,
        "score": summary.get("score"), "status": summary.get("status"),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "summary": summary,
    }, indent=2))


# -- grading -------------------------------------------------------------------------------------
def _progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, disable=not enabled)


def _crash(message: str) -> dict:
    return {"status": "error", "message": message}


def grade_locally(tasks: list[Task], spec: Path, digest: str, sandboxed: bool, only, jobs: int,
                  console, progress: bool, job: Callable = grade_student):
    """Yield ``(task, summary)`` as students finish, from ``jobs`` processes with one Grader each."""
    if not tasks:
        return
    pending = list(tasks)
    context = multiprocessing.get_context("forkserver")  # no fork of a process with threads (rich)
    # the fork server imports the grader once (about 2 s, scipy.stats); every pool process forks from it
    context.set_forkserver_preload([job.__module__])
    with _progress(console, progress) as bar:
        counter = bar.add_task(f"grading ({jobs} processes)", total=len(tasks))
        for _ in range(POOL_ATTEMPTS):
            broken = []
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=context,
                                       initializer=warm_up, initargs=(str(spec), digest, sandboxed))
            try:
                futures = {pool.submit(job, str(spec), digest, str(t.student.path), str(t.out), sandboxed, only): t
                           for t in pending}
                for future in as_completed(futures):
                    task = futures[future]
                    try:
                        summary = future.result()
                    except BrokenProcessPool:
                        broken.append(task)
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. a summary that cannot be unpickled
                        summary = _crash(f"grading crashed: {exc!r}")
                    bar.advance(counter)
                    yield task, summary
            finally:  # Ctrl-C (or a failing consumer) must not leave the queue grading on
                pool.shutdown(wait=True, cancel_futures=True)
            if not broken:
                return
            pending = broken
        for task in pending:
            bar.advance(counter)
            yield task, _crash(f"the grading process died {POOL_ATTEMPTS} times while this submission was "
                               "being graded or queued (out of memory?); rerun the batch to retry")


def grade_on_cluster(tasks: list[Task], spec: Path, digest: str, sandboxed: bool, only, address: str,
                     console, progress: bool):
    """The same jobs on an existing Dask cluster; its workers must see the same paths."""
    if not tasks:
        return
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address) as client, _progress(console, progress) as bar:
        workers = len(client.scheduler_info().get("workers", {}))
        counter = bar.add_task(f"grading (Dask, {workers} workers)", total=len(tasks))
        futures = {client.submit(grade_student, str(spec), digest, str(t.student.path), str(t.out), sandboxed,
                                 only, key=f"grade-{t.student.id}-{t.sha256[:12]}", pure=False): t
                   for t in tasks}
        for future in dask_completed(list(futures)):
            task = futures[future]
            try:
                summary = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died (KilledWorker) and the like
                summary = _crash(f"grading crashed on the cluster: {exc!r}")
            bar.advance(counter)
            yield task, summary


# -- class-wide pages ----------------------------------------------------------------------------
def extra_outputs(rows: list[Row], rubric: Rubric, out: Path, threshold: float | None,
                  paths: dict[str, Path]) -> list[str]:
    """similarity.html (``threshold`` None: not wanted), then summary.html, which links to it. A
    failure here is a note: the gradebooks are already written."""
    notes = []
    if threshold is not None:
        try:
            submissions = {r.student.id: r.student.path for r in rows}
            pairs = similar_pairs(submissions, rubric.path(rubric.starter), threshold)
            paths["similarity"] = write_similarity_report(pairs, out, threshold=threshold)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            notes.append(f"similarity report failed: {exc!r}")
    try:
        paths["summary"] = write_summary_html(out, rubric)
    except Exception as exc:  # noqa: BLE001 - as above
        notes.append(f"summary.html failed: {exc!r}")
    return notes
