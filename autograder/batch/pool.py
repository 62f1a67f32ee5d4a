"""A supervised process pool: one student at a time per process, each with a wall-clock limit.

``concurrent.futures`` cannot stop one task: a grading process stuck in one student (a blocking
read inside the grader) kept its pool, and so the batch, waiting forever. Here the parent feeds each
process one task at a time over its own pipe, so it knows when every student started; a student past
``timeout`` has its process stopped (:func:`procs.stop`: SIGTERM, SIGKILL, temp folder swept) and
replaced, and costs only its own row. A process that dies (crash, OOM killer) costs only the student
it was grading, after one retry on a fresh process.

The processes come from a forkserver context (no fork of a parent with threads) and keep what the
``initializer`` made (a Grader) from one task to the next; the ``finalizer`` runs when they are told
to stop (the end of the batch, SIGTERM), so they close their graders. They stop by themselves when
the parent dies: a watchdog thread sees their "alive" pipe close.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterable, Iterator

from . import procs

RETRIES = 1          # a student whose process died is tried once more on a fresh process
START_ATTEMPTS = 3   # processes that die or hang before their first task, in a row, before giving up
CLOSE_S = 60.0       # a process closing its grader at the end of the batch
ORPHAN_EXIT_S = 15.0  # a process whose parent died exits this long after the SIGTERM it sends itself


def error(message: str, **extra) -> dict:
    return {"status": "error", "message": message, **extra}


def timed_out(limit: float, what: str = "grading") -> str:
    """The error message of a student stopped at its time limit."""
    seconds = f"{limit:.0f}" if limit >= 10 else f"{limit:g}"
    return f"{what} took longer than {seconds} s and was stopped"


# -- the worker process --------------------------------------------------------------------------
class Stopped(BaseException):
    """SIGTERM in a worker process: leave the task (its ``finally`` blocks run), close, exit. Not an
    ``Exception``, so a job's ``except Exception`` does not swallow it."""


def _on_sigterm(signum, frame):
    raise Stopped()


def _watch_parent(alive: Connection) -> None:
    """The parent never writes to ``alive``: end of file means it is gone (or retired us)."""
    try:
        alive.recv()
    except (EOFError, OSError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_EXIT_S)  # stuck in C code, or closing takes too long
    os._exit(1)


def serve(tasks: Connection, alive: Connection, job: Callable, initializer: Callable | None,
          initargs: tuple, finalizer: Callable | None) -> None:
    """The worker process's loop: ``("ready", pid)`` once set up, then for each ``(key, args)``
    received, ``("done", key, job(*args))``; ``None`` or a closed pipe ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_watch_parent, args=(alive,), daemon=True, name="watch-parent").start()
    try:
        if initializer is not None:
            initializer(*initargs)
        tasks.send(("ready", os.getpid()))
        while (message := tasks.recv()) is not None:
            key, args = message
            try:
                result = job(*args)
            except Exception as exc:  # noqa: BLE001 - one task's failure is that task's result
                result = error(f"grading crashed: {exc!r}", traceback=traceback.format_exc()[-3000:])
            try:
                tasks.send(("done", key, result))
            except (EOFError, OSError):
                raise
            except Exception as exc:  # noqa: BLE001 - a result that does not pickle
                tasks.send(("done", key, error(f"grading crashed: its result cannot be sent: {exc!r}")))
    except (Stopped, EOFError, OSError):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if finalizer is not None:
            finalizer()


# -- the parent ----------------------------------------------------------------------------------
@dataclass
class _Item:
    key: object
    args: tuple
    attempt: int = 0


@dataclass
class _Slot:
    process: object
    tasks: Connection
    alive: Connection
    since: float
    born: int | None  # the process's start time (procs.started): its pid is not reused under us
    state: str = "starting"  # starting | idle | busy
    item: _Item | None = None


class SupervisedPool:
    """``imap`` yields ``(key, result)`` for every ``(key, args)`` given, in completion order; a
    result is ``job(*args)`` or an error summary (time-out, dead process)."""

    def __init__(self, context, size: int, job: Callable, timeout: float, initializer: Callable | None = None,
                 initargs: tuple = (), finalizer: Callable | None = None, grace: float = procs.GRACE_S):
        self.context, self.size, self.job, self.timeout = context, max(1, size), job, float(timeout)
        self.initializer, self.initargs, self.finalizer, self.grace = initializer, initargs, finalizer, grace
        self.pids: list[int] = []  # every process started, for tests and reports

    def _spawn(self) -> _Slot:
        ours, theirs = self.context.Pipe()
        alive_r, alive_w = self.context.Pipe(duplex=False)
        process = self.context.Process(target=serve, name="autograde-grader", daemon=True,
                                       args=(theirs, alive_r, self.job, self.initializer, self.initargs,
                                             self.finalizer))
        process.start()
        theirs.close()
        alive_r.close()
        self.pids.append(process.pid)
        return _Slot(process, ours, alive_w, time.monotonic(), procs.started(process.pid))

    def _retire(self, slot: _Slot, force: bool) -> None:
        """Stop a process: ask it to finish (it closes its grader), else stop it by signal."""
        if not force and slot.process.is_alive():
            try:
                slot.tasks.send(None)
            except (OSError, ValueError):
                pass
            slot.process.join(CLOSE_S)
        procs.stop(slot.process, slot.born, self.grace)  # after an exit: sweeps its folders
        for end in (slot.tasks, slot.alive):
            end.close()
        with contextlib.suppress(ValueError):  # still running: unkillable (D state); leave it be
            slot.process.close()

    def imap(self, items: Iterable[tuple[object, tuple]]) -> Iterator[tuple[object, dict]]:
        queue = deque(_Item(key, tuple(args)) for key, args in items)
        slots: list[_Slot] = []
        self._failed_starts = 0
        try:
            while queue or any(s.state == "busy" for s in slots):
                busy = sum(s.state == "busy" for s in slots)
                while len(slots) < min(self.size, busy + len(queue)):
                    slots.append(self._spawn())
                self._feed(slots, queue)
                ready = self._wait(slots)
                for slot in list(slots):
                    outcome, loss = self._check(slot, ready)
                    if outcome is not None:
                        yield outcome
                    if loss is not None:
                        slots.remove(slot)
                        self._retire(slot, force=True)
                        yield from self._after_loss(slot, loss, queue)
                if self._failed_starts >= START_ATTEMPTS:
                    while queue:
                        yield queue.popleft().key, error(f"no grading process could start ({self._last_loss}); "
                                                         "rerun the batch to retry")
        finally:  # the end, or Ctrl-C / a consumer that stopped: no process may outlive the batch
            for slot in slots:
                self._retire(slot, force=slot.state != "idle")

    def _feed(self, slots: list[_Slot], queue: deque) -> None:
        for slot in slots:
            if slot.state == "idle" and queue:
                slot.item = queue.popleft()
                slot.tasks.send((slot.item.key, slot.item.args))
                slot.state, slot.since = "busy", time.monotonic()

    def _wait(self, slots: list[_Slot]) -> set:
        """Until a process sends something or exits, or the next time limit falls due."""
        now = time.monotonic()
        timers = [s.since + self.timeout - now for s in slots if s.state != "idle"]
        return set(wait([s.tasks for s in slots] + [s.process.sentinel for s in slots],
                        max(0.0, min(timers)) if timers else None))

    def _check(self, slot: _Slot, ready: set) -> tuple[tuple | None, tuple[str, str] | None]:
        """What ``slot`` sent (a finished task), and whether it is lost: ("died", how) or
        ("timeout", message)."""
        if slot.tasks in ready or slot.tasks.poll(0):
            try:
                message = slot.tasks.recv()
            except (EOFError, OSError):
                return None, ("died", self._death(slot))
            except Exception as exc:  # noqa: BLE001 - a result that does not unpickle here
                message = ("done", None, error(f"grading crashed: its result cannot be read: {exc!r}"))
            if message[0] == "ready":
                slot.state, slot.since = "idle", time.monotonic()
                self._failed_starts = 0
            elif message[0] == "done" and slot.item is not None:
                outcome = (slot.item.key, message[2])
                slot.state, slot.item = "idle", None
                return outcome, None
            return None, None
        if slot.process.sentinel in ready or not slot.process.is_alive():
            return None, ("died", self._death(slot))
        if slot.state != "idle" and time.monotonic() - slot.since > self.timeout:
            what = "grading" if slot.state == "busy" else "starting the grader"
            return None, ("timeout", timed_out(self.timeout, what))
        return None, None

    def _after_loss(self, slot: _Slot, loss: tuple[str, str], queue: deque) -> Iterator[tuple[object, dict]]:
        """The student a lost process was grading: retried once after a death, else an error row."""
        kind, text = loss
        self._last_loss = text
        if slot.state == "starting":
            self._failed_starts += 1
        if slot.state != "busy":
            return
        item = slot.item
        if kind == "died" and item.attempt < RETRIES:
            queue.appendleft(_Item(item.key, item.args, item.attempt + 1))
            return
        if kind == "died":
            tried = f", on {item.attempt + 1} processes" if item.attempt else ""
            text = (f"the grading process {text} while grading this submission{tried} (out of memory?); "
                    "rerun the batch to retry")
        yield item.key, error(text)

    @staticmethod
    def _death(slot: _Slot) -> str:
        slot.process.join(1)
        code = slot.process.exitcode
        if code is not None and code < 0:
            try:
                return f"died (signal {signal.Signals(-code).name})"
            except ValueError:
                return f"died (signal {-code})"
        return f"died (exit code {code})"
