"""Grade one student: the job a local grading process or a Dask worker runs.

It takes plain paths and returns a small JSON-able summary, so the same function runs in the
supervised pool here (``pool.py``) and on a Dask worker elsewhere (which must see the same paths).
Each process keeps one :class:`~autograder.grading.Grader` per rubric, so the rubric is parsed and
the trusted reference worker started once per process, not once per student; ``close_graders``
removes its temp folder (the staged reference: tens of MB) when the process is done.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from ..grading import Grader, GradeReport
from ..report.writers import write_reports

# (rubric path, rubric digest, sandboxed) -> (grader, lock); a Dask worker with several threads
# shares one grader, so its calls are serialised (start workers with --nthreads 1)
_GRADERS: dict[tuple[str, str, bool], tuple[Grader, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()


class RubricMismatch(RuntimeError):
    """This process sees another version of the rubric than the batch was started with."""


def rubric_digest(spec: str | Path) -> str:
    """The same digest as ``Rubric.digest`` (SHA-256 of the YAML text), without parsing it."""
    return hashlib.sha256(Path(spec).read_text().encode()).hexdigest()


def cached_grader(spec: str, digest: str, sandboxed: bool) -> tuple[Grader, threading.Lock]:
    key = (str(Path(spec).resolve()), digest, sandboxed)
    with _CACHE_LOCK:
        if key not in _GRADERS:
            found = rubric_digest(spec)
            if found != digest:
                raise RubricMismatch(f"{spec} on {socket.gethostname()} has digest {found[:12]}, the batch "
                                     f"was started with {digest[:12]}: install the same rubric everywhere")
            for old in list(_GRADERS):  # one rubric at a time per process: close the others
                _GRADERS.pop(old)[0].close()
            grader = Grader(spec, sandboxed=sandboxed)
            if grader.rubric.digest != digest:
                grader.close()
                raise RubricMismatch(f"{spec} changed while the batch started; rerun the batch")
            for line in uncalibrated(grader):  # before this machine grades anyone (its reports say it too)
                print(f"autograde: {socket.gethostname()}: {line}", file=sys.stderr, flush=True)
            _GRADERS[key] = (grader, threading.Lock())
        return _GRADERS[key]


def uncalibrated(grader: Grader) -> list[str]:
    """This machine's datasets for the rubric that are not the bytes its thresholds were calibrated on."""
    from ..data.manifest import uncalibrated as differing

    return [f"{name}: {why}" for name, why in differing(grader.data_used()).items()]


def drop_grader(spec: str, digest: str, sandboxed: bool) -> None:
    """Forget a grader after an exception escaped it: the next student gets a fresh one."""
    with _CACHE_LOCK:
        entry = _GRADERS.pop((str(Path(spec).resolve()), digest, sandboxed), None)
    if entry is not None:
        try:
            entry[0].close()
        except Exception:  # noqa: BLE001 - closing a broken grader must not hide the first error
            pass


def close_graders(wait_s: float = 5.0) -> None:
    """Close this process's graders (the end of a batch). One still grading after ``wait_s`` (a
    Dask worker's other thread) is left alone: closing it would break that grade."""
    with _CACHE_LOCK:
        entries = list(_GRADERS.items())
    for key, (grader, lock) in entries:
        if not lock.acquire(timeout=wait_s):
            continue
        try:
            with _CACHE_LOCK:
                if _GRADERS.get(key, (None,))[0] is grader:
                    del _GRADERS[key]
            grader.close()
        except Exception:  # noqa: BLE001 - the others must still be closed
            pass
        finally:
            lock.release()


def announced(topic: str, key: str, job, *args) -> dict:
    """``job(*args)`` on a Dask worker, after telling the client (an event on ``topic``) that this
    student's grading has started there: its time limit runs from then, not from the queue."""
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(topic, {"key": key, "worker": worker.address, "pid": os.getpid()})
    except (ImportError, ValueError):  # not on a Dask worker
        pass
    return job(*args)


def warm_up(spec: str, digest: str, sandboxed: bool) -> None:
    """Pool initializer: load the rubric and stage the reference before the first student. A failure
    here is left for ``grade_student`` to report per student (an initializer that raises would break
    the whole pool)."""
    try:
        cached_grader(spec, digest, sandboxed)
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def grade_student(spec: str, digest: str, submission: str, out: str, sandboxed: bool = True,
                  only: list[str] | None = None) -> dict:
    """Grade ``submission`` with the rubric at ``spec``, write its reports to ``out``, return a summary.

    Any exception (a grader bug, a rubric that differs on this worker) becomes ``status: error``
    with its message, so one student's crash never stops the batch."""
    started, epoch = time.perf_counter(), time.time()
    where = f"{socket.gethostname()}:{os.getpid()}"
    try:
        grader, lock = cached_grader(spec, digest, sandboxed)
        with lock:
            report = grader.grade(submission, only=set(only) if only else None)
        write_reports(report, Path(out))  # results.json, report.md, provenance.json, report.html
    except Exception as exc:  # noqa: BLE001 - see the docstring
        drop_grader(spec, digest, sandboxed)
        return {"status": "error", "message": f"grading crashed: {exc!r}",
                "traceback": traceback.format_exc()[-3000:], "seconds": time.perf_counter() - started,
                "started": epoch, "worker": where}
    return dict(summarize(report), seconds=round(time.perf_counter() - started, 4),
                started=epoch, worker=where)


def summarize(report: GradeReport) -> dict:
    """What the gradebook needs: per-question auto score (None for TA-graded), total, status."""
    from ..data.manifest import uncalibrated as differing

    questions = {q.id: (None if q.manual else q.score) for q in report.questions}
    return {"status": "unreadable" if report.fatal else "graded",
            "message": report.fatal or "; ".join(report.intake_problems)[:500],
            "score": report.score, "auto_max": report.auto_max, "questions": questions,
            "uncalibrated_data": differing(report.provenance.get("data", []))}  # this machine's copy
