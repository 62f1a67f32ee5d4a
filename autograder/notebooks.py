"""Grade a Jupyter notebook: execute it with nbclient in a sandboxed kernel, then probe its names.

A :class:`NotebookSession` answers probe requests like a :class:`~.sandbox.process.WorkerProcess`,
so every check kind works on a notebook unchanged. On the first request it runs the notebook once,
cell by cell, each cell within the rubric's per-cell budget and all of them within the notebook's
budget. A cell that raises or times out is recorded and execution goes on, so it costs only the
questions whose names it would have defined; every failing probe's feedback names the cells that
failed. Nothing the notebook printed is read as a result: probes observe the notebook's objects
(a variable, a function called on given inputs, a model's predictions on unlabeled images) and the
judge, outside, scores those observations.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync

from .checks.base import Attachment
from .checks.figures import valid_png
from .sandbox import launch
from .sandbox.capped_client import CappedNotebookClient
from .sandbox.kernel import KernelSandbox
from .sandbox.layers import Layers, SandboxUnavailable, detect, sandbox_required
from .sandbox.process import MAX_REPLY_BYTES, Reply, answer_of
from .worker import protocol

KERNEL_START_S = 60
MAX_ERROR_CHARS = 600
IOPUB_WAIT_S = 10       # after a cell's reply, how long its last outputs may take to arrive
RECOVER_S = 10          # after an interrupt, how long the kernel has to answer again
WATCHDOG_SLACK_S = 20   # beyond every budget above: the kernel is killed, whatever it does


@dataclass
class CellRecord:
    index: int            # position among all cells
    number: int           # position among code cells, from 1: "code cell 7"
    status: str           # "ok" | "error" | "timeout" | "not run"
    seconds: float = 0.0
    error: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        return f"code cell {self.number}"


@dataclass
class NotebookRun:
    """One notebook's execution, for the TA: every code cell with its status and errors."""

    key: str
    path: str
    cells: list[CellRecord] = field(default_factory=list)
    problem: str = ""             # the kernel did not start, died, or the budget ran out
    seconds: float = 0.0
    overhead_seconds: float = 0.0  # kernel start, set-up and shutdown
    peak_rss_mb: float | None = None  # the kernel's peak resident memory (None: not measured)
    peak_mb: float | None = None      # its cgroup's peak, page cache included
    executed: object = None        # the executed notebook (nbformat), outputs included
    figures: list[Attachment] = field(default_factory=list)

    @property
    def failures(self) -> list[CellRecord]:
        return [c for c in self.cells if c.status in ("error", "timeout")]

    def notes(self) -> list[dict]:
        """Why a probe may find names missing, attached to failing probes' feedback."""
        notes = [{"module": f"{self.path} {c.label}", "type": "cell " + c.status,
                  "message": c.error.splitlines()[0][:200] if c.error else "", "event": "failed"}
                 for c in self.failures[:3]]
        if self.problem:
            notes.append({"module": self.path, "type": "notebook", "message": self.problem, "event": "stopped"})
        return notes

    def summary(self) -> str:
        counts = {s: sum(c.status == s for c in self.cells) for s in ("ok", "error", "timeout", "not run")}
        text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return f"{len(self.cells)} code cells: {text or 'none'}; {self.seconds:.1f} s"


@dataclass
class NotebookBudget:
    cell_s: float
    total_s: float
    memory_mb: int


class NotebookSession:
    """One notebook of one submission in one sandboxed kernel, executed once, then probed."""

    def __init__(self, key: str, rel_path: str, source: str, budget: NotebookBudget, shims: list[str],
                 limits: launch.Limits, seed: int, sandboxed: bool = True, layers: Layers | None = None,
                 watch: list[str] = (), scratch: str | os.PathLike | None = None):
        self.key, self.rel_path, self.source = key, rel_path, source
        self.budget, self.shims, self.seed, self.watch = budget, shims, seed, list(watch)
        self.limits = limits.model_copy(update={"memory_mb": budget.memory_mb})
        self.sandboxed = sandboxed
        self.scratch = scratch
        self.layers = (layers or detect()) if sandboxed else Layers(frozenset())
        if sandboxed and sandbox_required() and self.layers.missing:
            raise SandboxUnavailable("AUTOGRADE_REQUIRE_SANDBOX is set but these layers are missing: "
                                     + "; ".join(self.layers.missing.values()))
        self.run: NotebookRun | None = None
        self.box: KernelSandbox | None = None
        self.client = None
        self.startup_seconds = 0.0
        self.starts = 0
        self._launched = False
        self._notebook = None      # the parsed notebook, once launched
        self._launch_problem = ""  # why it could not be launched
        self._last_reply = None    # the execute reply of the cell just run (nbclient's hook)
        self._killed_by_watchdog = False

    # -- execution ---------------------------------------------------------------------------
    def launch(self) -> None:
        """Start the kernel process and return without waiting for it (idempotent).

        A kernel spends most of its ~0.8 s start importing IPython; a grader that launches every
        notebook's kernel as a submission's grading begins hides that behind the worker's checks
        and the other notebooks' cells. Nothing here raises: a problem is reported by ``execute``.
        """
        if self._launched:
            return
        self._launched = True
        t0 = time.perf_counter()
        try:
            self._notebook = nbformat.read(os.path.join(self.source, self.rel_path), as_version=4)
        except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook
            self._launch_problem = f"not a readable notebook: {type(exc).__name__}: {str(exc)[:200]}"
            return
        for cell in self._notebook.cells:  # what the student saved is not what ran here
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        try:
            self.box = KernelSandbox(self.source, self.layers, self.limits, self.sandboxed, self.scratch)
            self.client = CappedNotebookClient(
                self._notebook, km=self.box.manager(), timeout=int(self.budget.cell_s), allow_errors=True,
                interrupt_on_timeout=True, record_timing=True, startup_timeout=KERNEL_START_S,
                error_on_timeout={"ename": "CellTimeout",
                                  "evalue": f"the cell ran longer than its budget of {self.budget.cell_s:g} s"},
                shutdown_kernel="immediate", iopub_timeout=IOPUB_WAIT_S,
                on_cell_executed=self._on_cell_executed)
            self.client.start_new_kernel()
            self.starts += 1
        except Exception as exc:  # noqa: BLE001
            self._launch_problem = self._start_failure(exc)
        self.startup_seconds += time.perf_counter() - t0

    def execute(self, deadline: float | None = None) -> NotebookRun:
        """Run every code cell once (idempotent); never raises for anything the notebook does.
        ``deadline`` (``time.monotonic()``) caps the notebook's own budget: the question's ceiling."""
        if self.run is not None:
            return self.run
        started = time.perf_counter()
        self.launch()
        run = self.run = NotebookRun(self.key, self.rel_path)
        nb = self._notebook
        if nb is not None:
            run.executed = nb
            code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            run.cells = [CellRecord(i, n + 1, "not run", source=c.source) for n, (i, c) in enumerate(code)]
        if not self._launch_problem:
            try:
                self._set_up_kernel(nb)
            except Exception as exc:  # noqa: BLE001
                self._launch_problem = self._start_failure(exc)
        if self._launch_problem:
            run.problem = self._launch_problem
            self._stop_kernel()
            return run
        booted = time.perf_counter()
        own = time.monotonic() + self.budget.total_s
        self._execute_cells(nb, run, deadline=own if deadline is None else min(own, deadline))
        if self.client is not None:
            self._hidden("__import__('sys').modules['agworker.notebook'].finish(get_ipython().user_ns)", 30)
            run.figures = self._figures()
        if self.box is not None and self.box.cgroups is not None:
            run.peak_rss_mb, run.peak_mb = self.box.cgroups.peak_rss_mb(), self.box.cgroups.peak_mb()
        run.seconds = time.perf_counter() - started
        run.overhead_seconds = booted - started
        return run

    def _start_failure(self, exc: Exception) -> str:
        tail = self.box.log_tail() if self.box else ""
        return f"the kernel did not start: {type(exc).__name__}: {str(exc)[:300]}" + (
            f"; its output ended: {tail[-600:]}" if tail.strip() else "")

    def _set_up_kernel(self, nb) -> None:
        """Wait for the launched kernel, then run the hidden set-up before the first cell."""
        t0 = time.perf_counter()
        self.client.start_new_kernel_client()
        uses_torch = any("torch" in c.source for c in nb.cells if c.cell_type == "code")
        boot = BOOT.format(pkg=self.box.package, source=self.box.submission, notebook=self.rel_path,
                           key=self.key, shims=self.shims, seed=self.seed, torch=uses_torch, watch=self.watch)
        reply = self._hidden(boot, KERNEL_START_S)
        self.startup_seconds += time.perf_counter() - t0
        if reply is None or reply["content"]["status"] != "ok":
            content = (reply or {}).get("content", {})
            raise RuntimeError(f"set-up failed: {content.get('ename', 'timeout')}: {content.get('evalue', '')}")

    def _execute_cells(self, nb, run: NotebookRun, deadline: float) -> None:
        """Each cell within its budget and all of them within the notebook's. A cell that runs past
        its budget is interrupted; one that ignores the interrupt gets its kernel stopped, and the
        cells after it are left "not run" (nothing the kernel does can hold the grade)."""
        from nbclient.exceptions import DeadKernelError

        for record in run.cells:
            remaining = deadline - time.monotonic()
            if remaining < 1:
                run.problem = f"the notebook's time budget of {self.budget.total_s:g} s ran out"
                return
            self.client.timeout = max(1, int(min(self.budget.cell_s, remaining)))
            self._last_reply = None
            client = self.client
            t0 = time.perf_counter()
            limit = self.client.timeout + IOPUB_WAIT_S + WATCHDOG_SLACK_S
            try:
                with self._watchdog(limit):
                    cell = self.client.execute_cell(nb.cells[record.index], record.index)
            except DeadKernelError:
                record.status, record.seconds = "error", time.perf_counter() - t0
                if self._killed_by_watchdog:
                    record.status = "timeout"
                    record.error = (f"ran past its budget of {self.client.timeout} s and ignored the "
                                    "interrupt; its kernel was stopped")
                    run.problem = (f"{record.label} ran past its budget and ignored the interrupt, so the "
                                   "kernel was stopped; the cells after it did not run")
                else:
                    record.error = "the kernel died (memory limit, a crash, or the process was killed)"
                    run.problem = f"the kernel died in {record.label}"
                self._stop_kernel()
                return
            except Exception as exc:  # noqa: BLE001 - an nbclient failure costs the rest, not the run
                record.status, record.error = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
                run.problem = f"execution stopped at {record.label}"
                self._stop_kernel()
                return
            finally:
                client.finish_cell(nb.cells[record.index], record.index)
            record.seconds = time.perf_counter() - t0
            content = (self._last_reply or {}).get("content", {})
            if content.get("ename") == "CellTimeout":
                # nbclient's own time-out reply: it interrupted the cell; no error output says so
                record.status = "timeout"
                record.error = f"ran longer than its budget of {self.client.timeout} s and was interrupted"
                if self._hidden("pass", RECOVER_S) is None:
                    record.error += "; it ignored the interrupt, so its kernel was stopped"
                    run.problem = (f"{record.label} ran past its budget and ignored the interrupt, so the "
                                   "kernel was stopped; the cells after it did not run")
                    self._stop_kernel()
                    return
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if not errors and content.get("status", "ok") == "ok":
                record.status = "ok"
                continue
            first = errors[0] if errors else content
            interrupted = first.get("ename") == "KeyboardInterrupt" and record.seconds >= self.client.timeout
            record.status = "timeout" if interrupted else "error"
            record.error = (f"ran longer than its budget of {self.client.timeout} s and was interrupted"
                            if interrupted else f"{first.get('ename')}: {first.get('evalue', '')}")[:MAX_ERROR_CHARS]

    def _on_cell_executed(self, cell, cell_index, execute_reply) -> None:
        self._last_reply = execute_reply

    @contextlib.contextmanager
    def _watchdog(self, seconds: float):
        """Kill the kernel's whole process tree if the block outlives ``seconds``: nbclient then sees
        a dead kernel. The grader's clock, never the kernel's, decides when a cell is over."""
        self._killed_by_watchdog = False

        def fire():
            self._killed_by_watchdog = True
            self._kill_kernel_tree()

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _kill_kernel_tree(self) -> None:
        box, client = self.box, self.client
        if box is not None:
            box.kill_all()
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    def _hidden(self, code: str, timeout: float):
        """Run grader code in the kernel, outside the notebook's record; None on a time-out."""
        outputs: list = []
        try:
            with self._watchdog(timeout + WATCHDOG_SLACK_S):
                return run_sync(self.client.kc.execute_interactive)(
                    code, timeout=timeout, store_history=False, allow_stdin=False,
                    output_hook=lambda msg: outputs.append(msg) if len(outputs) < 100 else None)
        except TimeoutError:
            try:
                run_sync(self.client.km.interrupt_kernel)()
            except Exception:  # noqa: BLE001
                pass
            return None
        except Exception:  # noqa: BLE001 - a kernel killed under it
            return None

    def _figures(self) -> list[Attachment]:
        """What the notebook drew (plt.show, savefig, figures left open), as checked PNGs."""
        reply = self.request({"op": "figures", "source": self.key,
                              "modules": {self.key: {"path": self.rel_path, "as": "notebook"}}}, time_s=30)
        if not reply.ok or not isinstance(reply.value, dict):
            return []
        shown = [(f, png) for f in reply.value.get("figures", []) if (png := valid_png(f.get("png")))]
        return [Attachment(f"{i + 1}.png", png, f"{self.rel_path}, figure {i + 1}"
                           + (f": {f['title']}" if f.get("title") else "")) for i, (f, png) in enumerate(shown)]

    # -- probes ------------------------------------------------------------------------------
    def request(self, header: dict, value=None, *, time_s: float = 10.0, import_time_s: float = 30.0,
                memory_mb: int | None = None, deadline: float | None = None) -> Reply:
        """One probe on the executed notebook's names; the same contract as ``WorkerProcess.request``.

        The request and the reply travel as files in the kernel's shared folder. The grader makes
        both files itself before the kernel runs the probe; the folder is sticky, so the kernel's
        uid can write into the reply file but never remove it or put a link, a FIFO or another file
        in its place, and the grader reads it without following links, checks that it is still its
        own regular file, and reads at most ``MAX_REPLY_BYTES``."""
        run = self.execute(deadline)
        notes = run.notes()
        if self.client is None:
            message = run.problem or "the notebook could not be executed"
            return Reply("died", error={"message": f"{self.rel_path}: {message}"}, notes=notes)
        if deadline is not None:
            time_s = min(time_s, deadline - time.monotonic())
            if time_s <= 0:
                return Reply("timeout", error={"message": "not run: the time allowed for this question "
                                                          "had run out"}, notes=notes)
        token = secrets.token_hex(8)
        request_path = os.path.join(self.box.shared, f"req-{token}")
        reply_path = os.path.join(self.box.shared, f"rep-{token}")
        try:
            fd = _create(request_path, 0o644)
            try:
                protocol.write_frame(fd, dict(header, id=1), value)
            finally:
                os.close(fd)
            os.close(_create(reply_path, 0o666))
            mine = os.lstat(reply_path)
        except OSError as exc:
            return Reply("protocol", error={"message": f"the probe could not be sent ({exc.strerror})"},
                         notes=notes)
        started = time.monotonic()
        code = f"__import__('sys').modules['agworker.notebook'].serve({request_path!r}, {reply_path!r})"
        reply = self._hidden(code, time_s)
        seconds = time.monotonic() - started
        try:
            if reply is None:
                if self.client is None or self._hidden("pass", RECOVER_S) is None:
                    self._stop_kernel()
                    run.problem = run.problem or "the kernel stopped answering after a probe timed out"
                return Reply("timeout", error={"message": f"timed out after {time_s:g} s (an infinite loop, "
                                                          "or too slow)"}, seconds=seconds, notes=notes)
            answer = _read_reply(reply_path, mine, seconds)
            answer.notes = notes
            return answer
        finally:
            for path in (request_path, reply_path):
                try:
                    os.unlink(path)
                except OSError:
                    pass

    # -- lifecycle ---------------------------------------------------------------------------
    def _stop_kernel(self) -> None:
        t0 = time.perf_counter()
        if self.client is not None:
            try:
                run_sync(self.client._async_cleanup_kernel)()
            except Exception:  # noqa: BLE001 - it may be dead already
                pass
            with contextlib.suppress(Exception):
                self.client.km.destroy_client_context()
            self.client = None
        if self.box is not None:
            self.box.close()
            self.box = None
        if self.run is not None:
            self.run.overhead_seconds += time.perf_counter() - t0

    def close(self) -> None:
        self._stop_kernel()


def _create(path: str, mode: int) -> int:
    """A new file of the grader's, never an existing one and never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    os.fchmod(fd, mode)  # past the umask: the kernel's uid writes the reply
    return fd


def _read_reply(path: str, mine: os.stat_result, seconds: float) -> Reply:
    """The answer the kernel wrote, read as data with a size cap. The file holds the worker's frames
    in order: an event frame for each module it had to load ("importing", "imported"), then the
    answer. Only the file the grader made is read (not a link, FIFO or device put in its place), and
    none of its bytes reach a report unless they decode as frames."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return Reply("protocol", error={"message": "the probe's reply file was replaced (the notebook "
                                                   "changed the grader's files?)"})
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or (found.st_dev, found.st_ino) != (mine.st_dev, mine.st_ino):
            return Reply("protocol", error={"message": "the probe's reply file was replaced (the notebook "
                                                       "changed the grader's files?)"})
        if found.st_size == 0:
            return Reply("protocol", error={"message": "the probe wrote no reply (the notebook replaced "
                                                       "the grader's helpers?)"})
        if found.st_size > MAX_REPLY_BYTES:
            return Reply("protocol", error={"message": f"the code returned more data than the "
                                                       f"{MAX_REPLY_BYTES >> 20} MB allowed"})
        data = _read_at_most(fd, found.st_size)
    finally:
        os.close(fd)
    start = 0
    try:
        while start < len(data):
            head_len, payload_len = protocol.HEADER.unpack_from(data, start)
            body = start + protocol.HEADER.size
            end = body + head_len + payload_len
            if head_len > protocol.MAX_HEADER_BYTES or end > len(data):
                raise protocol.FrameError("lengths do not match the file")
            head, value = protocol.parse_frame(data[body:body + head_len], data[body + head_len:end],
                                               max_bytes=MAX_REPLY_BYTES)
            if "event" not in head:
                return answer_of(head, value, seconds)
            start = end
        raise protocol.FrameError("no answer after the events")
    except Exception as exc:  # noqa: BLE001 - struct.error, FrameError: whatever the file holds
        return Reply("protocol", error={"message": f"unreadable reply ({type(exc).__name__})"})


def _read_at_most(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


BOOT = """\
def _autograde_boot():
    import importlib.util as u, sys
    if 'agworker' not in sys.modules:
        s = u.spec_from_file_location('agworker', {pkg!r} + '/__init__.py', submodule_search_locations=[{pkg!r}])
        m = u.module_from_spec(s); sys.modules['agworker'] = m; s.loader.exec_module(m)
    import agworker.notebook
    agworker.notebook.start({source!r}, {notebook!r}, {key!r}, {shims!r}, {seed!r}, {torch!r}, {watch!r})
_autograde_boot(); del _autograde_boot
"""
