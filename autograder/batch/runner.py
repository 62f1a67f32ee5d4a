"""A whole class in one call: discover, skip what is already graded, grade the rest in parallel,
apply the late policy, write the gradebooks, the similarity report and the class page.

The pipeline, in order (each step one function):

    discover -> plan (resume: batch.json per student) -> grade (local pool or Dask) -> late
             -> gradebooks -> similarity.html -> summary.html

Grading runs ``job.grade_student`` for each student, either in a local supervised pool
(``pool.py``) whose processes each keep one Grader and stop a student past its time limit, or on an
existing Dask cluster (``scheduler``). Late penalties are computed here, not in the job, so a new
``--times`` CSV changes the gradebook without a regrade. The class page lists the students of this
run only (a submission removed since the last run is not on it).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
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
from ..tempdirs import sweep_stale
from . import pool
from .discovery import Student, discover, submission_hash
from .gradebook import Row, write_gradebooks
from .job import announced, close_graders, grade_student, warm_up
from .late import lateness
from .timestamps import read_times, submission_time

RECORD = "batch.json"
REPORT_FILES = ("results.json", "report.md", "provenance.json", "report.html")
ERROR_FILE = "error.txt"  # why grading stopped, for the class page
CLUSTER_POLL_S = 2.0  # how often the Dask client looks for students past their time limit


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
              progress: bool = True, student_timeout: float | None = None,
              job: Callable = grade_student) -> BatchResult:
    """Grade every student in ``submissions`` (see the module docstring); ``student_timeout``
    seconds (default: from the rubric's grade ceiling, :func:`time_limit`) stops one student.
    ``job`` grades one student (an importable function with ``grade_student``'s signature)."""
    started = time.perf_counter()
    spec = Path(spec).resolve()
    rubric = load(spec)
    out = Path(out or Path("reports") / rubric.assignment).resolve()
    out.mkdir(parents=True, exist_ok=True)
    students = discover(Path(submissions), id_pattern)
    only = sorted(only) if only else None
    limit = time_limit(rubric, student_timeout)
    tasks, summaries = plan(students, out, rubric.digest, only, force)
    skipped = [sid for sid in summaries]
    grade = grade_on_cluster if scheduler else grade_locally
    target = scheduler if scheduler else (jobs or os.cpu_count() or 1)
    for task, summary in grade(tasks, spec, rubric.digest, sandboxed, only, target, console, progress,
                               job=job, timeout=limit):
        record(task, rubric.digest, only, summary)
        summaries[task.student.id] = summary
    time_of = read_times(Path(times)) if times else {}
    zone = rubric.late.deadline.tzinfo if rubric.late else timezone.utc
    rows = [Row(s, summaries[s.id], lateness(rubric.late, submission_time(s.id, s.path, time_of, zone)))
            for s in students]
    paths = write_gradebooks(rows, rubric, out, only)
    notes = uncalibrated_notes([summaries[t.student.id] for t in tasks]) + extra_outputs(
        rows, rubric, out, similarity_threshold, paths)
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


def time_limit(rubric: Rubric, explicit: float | None = None) -> float:
    """The wall-clock limit of one student: ``explicit``, else the rubric's grade ceiling with a
    margin (a quarter more, plus five minutes for start-up and a loaded machine)."""
    if explicit is not None:
        if explicit <= 0:
            raise ValueError("the student time-out must be positive")
        return float(explicit)
    return rubric.grade_ceiling_s * 1.25 + 300.0


def grade_locally(tasks: list[Task], spec: Path, digest: str, sandboxed: bool, only, jobs: int,
                  console, progress: bool, job: Callable = grade_student, timeout: float | None = None):
    """Yield ``(task, summary)`` as students finish, from ``jobs`` supervised processes with one
    Grader each; a student past ``timeout`` seconds (default :func:`time_limit`) is stopped."""
    if not tasks:
        return
    timeout = time_limit(load(spec), timeout)
    context = multiprocessing.get_context("forkserver")  # no fork of a process with threads (rich)
    # the fork server imports the grader once (about 2 s, scipy.stats); every grading process forks from it
    context.set_forkserver_preload([pool.__name__, job.__module__])
    workers = pool.SupervisedPool(context, min(jobs, len(tasks)), job, timeout, initializer=warm_up,
                                  initargs=(str(spec), digest, sandboxed), finalizer=close_graders)
    by_key = {task.student.id: task for task in tasks}
    items = [(t.student.id, (str(spec), digest, str(t.student.path), str(t.out), sandboxed, only)) for t in tasks]
    with _progress(console, progress) as bar:
        counter = bar.add_task(f"grading ({workers.size} processes)", total=len(tasks))
        for key, summary in workers.imap(items):
            bar.advance(counter)
            yield by_key[key], summary


def grade_on_cluster(tasks: list[Task], spec: Path, digest: str, sandboxed: bool, only, address: str,
                     console, progress: bool, job: Callable = grade_student, timeout: float | None = None):
    """The same jobs on an existing Dask cluster; its workers must see the same paths.

    Each job tells the client when it starts (:func:`job.announced`), so the time limit runs from
    then. Dask cannot stop a running task: a student past the limit gets an error row, its future is
    cancelled, and its worker is restarted through its nanny (``dask worker`` starts one by default);
    at the end every worker closes its graders and sweeps the temp folders of dead processes. Without
    a nanny the worker keeps grading that student, out of our reach; what a killed worker had started
    outside the sandbox is not tracked (sandbox workers die with it; the reference worker exits when
    its pipe closes)."""
    if not tasks:
        return
    from distributed import Client, wait as dask_wait

    timeout = time_limit(load(spec), timeout)
    topic = f"autograde-started-{uuid.uuid4().hex[:12]}"
    with Client(address) as client, _progress(console, progress) as bar:
        workers = len(client.scheduler_info().get("workers", {}))
        counter = bar.add_task(f"grading (Dask, {workers} workers)", total=len(tasks))
        futures = {}
        for t in tasks:
            key = f"grade-{t.student.id}-{t.sha256[:12]}-{uuid.uuid4().hex[:6]}"
            futures[client.submit(announced, topic, key, job, str(spec), digest, str(t.student.path), str(t.out),
                                  sandboxed, only, key=key, pure=False)] = t
        started: dict[str, tuple[float, str]] = {}  # future key -> (when the client heard, worker)
        heard: set[tuple[float, str]] = set()  # events seen (a task rerun elsewhere starts anew)
        pending = set(futures)
        while pending:
            try:
                done, pending = dask_wait(pending, timeout=CLUSTER_POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # none finished within the poll interval
                done = set()
            for future in done:
                try:
                    summary = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died (KilledWorker) and the like
                    summary = _crash(f"grading crashed on the cluster: {exc!r}")
                bar.advance(counter)
                yield futures[future], summary
            for stamp, event in client.get_events(topic):
                if (stamp, event["key"]) not in heard:
                    heard.add((stamp, event["key"]))
                    started[event["key"]] = (time.monotonic(), event["worker"])
            for future in [f for f in pending if f.key in started]:
                when, worker = started[future.key]
                if time.monotonic() - when <= timeout:
                    continue
                pending.discard(future)
                future.cancel()
                stopped = _restart_worker(client, worker)
                bar.advance(counter)
                yield futures[future], _crash(pool.timed_out(timeout)
                                              + ("" if stopped else f" (Dask could not restart {worker}: "
                                                                    "it may still be grading it)"))
        try:  # each worker's temp folder (graders still grading are left alone), and those of
            client.run(close_graders)  # workers restarted after a time-out
            client.run(sweep_stale)
        except Exception:  # noqa: BLE001 - a worker gone meanwhile; the grades are in
            pass


def _restart_worker(client, worker: str) -> bool:
    try:
        client.restart_workers([worker], timeout=60)
        return True
    except Exception:  # noqa: BLE001 - no nanny, or the worker is gone already
        return False


def uncalibrated_notes(summaries: list[dict]) -> list[str]:
    """Machines (a Dask cluster's workers, or this one) whose datasets are not the calibrated bytes."""
    seen: dict[tuple[str, str], list] = {}
    for summary in summaries:
        host = str(summary.get("worker", "this machine")).split(":")[0]
        for name, why in (summary.get("uncalibrated_data") or {}).items():
            seen.setdefault((host, name), [why, 0])[1] += 1
    return [f"{host}: {n} student(s) judged on a copy of {name} that {why}" for (host, name), (why, n) in seen.items()]


# -- class-wide pages ----------------------------------------------------------------------------
def extra_outputs(rows: list[Row], rubric: Rubric, out: Path, threshold: float | None,
                  paths: dict[str, Path]) -> list[str]:
    """similarity.html (``threshold`` None: not wanted), then summary.html, which links to it. A
    failure here is a note: the gradebooks are already written."""
    notes = []
    if threshold is not None:
        try:
            submissions = {r.student.id: r.student.path for r in rows}
            provided = frozenset(Path(f.path).name for f in rubric.files.values() if f.provided)
            pairs = similar_pairs(submissions, rubric.path(rubric.starter), threshold, provided=provided)
            paths["similarity"] = write_similarity_report(pairs, out, threshold=threshold)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            notes.append(f"similarity report failed: {exc!r}")
    try:
        paths["summary"] = write_summary_html(out, rubric, {r.student.id: r.summary for r in rows})
    except Exception as exc:  # noqa: BLE001 - as above
        notes.append(f"summary.html failed: {exc!r}")
    return notes
