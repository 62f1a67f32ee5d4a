"""The grader's handle on one worker: start it, send probe requests, enforce budgets, restart it.

One worker serves every probe of a submission (the student's modules are imported once). A probe
that hangs, floods memory or kills the process costs only its own question: the worker is killed
with its whole process tree and started again, lazily, for the next probe. A module whose import
killed the worker is remembered, so later probes fail at once instead of dying again.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from ..worker import protocol
from ..worker.compat import ENTRIES
from . import launch, seccomp
from .cgroups import WorkerCgroups
from ..tempdirs import private_dir, remove
from .layers import Layers, SandboxUnavailable, detect, sandbox_required

MAX_REPLY_BYTES = 256 << 20
LOG_KEEP_BYTES = 16 << 10
REFERENCE_MEMORY_MB = 4096        # the reference worker's memory limit, at least
REFERENCE_CPU_SECONDS = 1 << 30   # it lives for a whole batch: no lifetime CPU limit


@dataclass
class Reply:
    """What came back from one probe: a value, the student's exception, or how the worker died."""

    status: str  # "ok" | "error" (exception in student code) | "timeout" | "died" | "oom" | "protocol"
    value: object = None
    error: dict = field(default_factory=dict)
    seconds: float = 0.0
    notes: list = field(default_factory=list)  # e.g. a script that stopped early with an exception
    imports: dict = field(default_factory=dict)  # top-level module -> where the student's code imported it
    redirects: dict = field(default_factory=dict)  # a missing path the code opened -> the provided file given
    compat: list = field(default_factory=list)   # old library APIs bridged for the student (worker/compat.py)
    chain: list = field(default_factory=list)    # files a script read that an earlier one wrote, or the hand-in's

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """A sentence a student understands, for feedback."""
        if self.status == "ok":
            return "ok"
        if self.status == "error":
            err = self.error
            where = f" at {err['where'][-1]}" if err.get("where") else ""
            if err.get("phase") == "import":
                return f"importing {err.get('module')} failed: {err['type']}: {err['message']}{where}"
            return f"raised {err['type']}: {err['message']}{where}"
        return self.error.get("message", self.status)

    def note_text(self) -> str:
        """Why observations may be missing: the script raised part-way through."""
        return "; ".join(f"{n.get('module')} {n.get('event', 'stopped early')}: {n['type']}: {n['message']}"
                         + (f" at {n['where'][-1]}" if n.get("where") else "") for n in self.notes)


def answer_of(head: dict, value, seconds: float = 0.0) -> Reply:
    """The worker's answer frame (``ok`` with a value, or the student's exception) as a Reply.

    The frame's header is the student's process talking: every field is checked and cut to size
    here, so a forged header can neither break the grader nor fill a report."""
    taken = _number(head.get("seconds"), seconds)
    notes = [_clean_error(n) for n in head.get("notes", [])[:MAX_NOTES]] if isinstance(head.get("notes"), list) else []
    records = {key: _clean_record(head.get(key)) for key in ("imports", "redirects")}
    compat = _clean_compat(head.get("compat"))
    chain = _clean_chain(head.get("chain"))
    if head.get("ok") is True:
        return Reply("ok", value=value, seconds=taken, notes=notes, compat=compat, chain=chain, **records)
    return Reply("error", error=_clean_error(head.get("error")), seconds=taken, notes=notes, compat=compat,
                 chain=chain, **records)


def _clean_record(raw, limit: int = 200) -> dict[str, str]:
    """A name -> text record from the worker (imports seen, paths redirected): strings, cut short."""
    if not isinstance(raw, dict):
        return {}
    return {str(k)[:300]: str(v)[:300] for k, v in list(raw.items())[:limit]}


MAX_COMPAT = 100
MAX_CHAIN = 20


def _clean_chain(raw) -> list[dict]:
    """Where chained scripts' files came from, as the worker says (worker/chain.py): strings only,
    cut short; the report names the files, never their contents."""
    if not isinstance(raw, list):
        return []
    clean = []
    for record in raw[:MAX_CHAIN]:
        if isinstance(record, dict):
            after = record.get("after") if isinstance(record.get("after"), list) else []
            clean.append({"script": str(record.get("script") or "")[:100], "file": str(record.get("file") or "")[:300],
                          "from": str(record.get("from") or "")[:100], "after": [str(a)[:100] for a in after[:5]]})
    return clean


def _clean_compat(raw) -> list[dict]:
    """The bridges that fired, as the worker says: records of a known table entry only, four
    strings each, cut short (the report builds its sentence from our table, not from the worker)."""
    if not isinstance(raw, list):
        return []
    clean = []
    for record in raw:
        if len(clean) == MAX_COMPAT:
            break
        if isinstance(record, dict) and record.get("shim") in ENTRIES:
            clean.append({key: str(record.get(key) or "")[:200] for key in ("shim", "old", "new", "where")})
    return clean


MAX_NOTES = 5
_TEXT_LIMITS = {"type": 100, "message": 400, "phase": 20, "module": 200, "event": 40}


def _clean_error(raw) -> dict:
    """An exception description from the worker: known keys only, strings only, each cut short."""
    if not isinstance(raw, dict):
        return {"type": "UnreadableError", "message": "the worker sent an unreadable error"}
    clean = {key: str(raw[key])[:limit] for key, limit in _TEXT_LIMITS.items() if raw.get(key) is not None}
    clean.setdefault("type", "Error")
    clean.setdefault("message", "")
    where = raw.get("where")
    clean["where"] = [str(w)[:200] for w in where[:3]] if isinstance(where, list) else []
    return clean


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class OutputTail:
    """Drains the worker's stdout/stderr, keeping the first and last few KiB (prints never block)."""

    def __init__(self, stream):
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            if len(self.head) < LOG_KEEP_BYTES:
                take = LOG_KEEP_BYTES - len(self.head)
                self.head += chunk[:take]
                chunk = chunk[take:]
            self.tail += chunk
            if len(self.tail) > LOG_KEEP_BYTES:
                self.dropped += len(self.tail) - LOG_KEEP_BYTES
                del self.tail[:-LOG_KEEP_BYTES]

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes omitted ...]\n" if self.dropped else ""
        return (bytes(self.head) + middle.encode() + bytes(self.tail)).decode("utf-8", "replace")


class WorkerProcess:
    """A sandboxed worker, or (``sandboxed=False``) the trusted reference worker, which runs outside
    the sandbox but still under a memory limit: it evaluates the reference on a student's arrays.

    ``scratch`` is a host folder the grader owns and removes: a worker outside bubblewrap keeps its
    working copy and temp files there, never in the host's shared temp folder."""

    def __init__(self, source: str, shims: list[str], limits: launch.Limits | None = None,
                 sandboxed: bool = True, layers: Layers | None = None, scratch: str | os.PathLike | None = None):
        self.source = source
        self.shims = shims
        self.limits = limits or launch.Limits()
        self.sandboxed = sandboxed
        self.scratch = str(scratch) if scratch is not None else None
        self.layers = (layers or detect()) if sandboxed else Layers(frozenset())
        if sandboxed and sandbox_required() and self.layers.missing:
            raise SandboxUnavailable("AUTOGRADE_REQUIRE_SANDBOX is set but these layers are missing: "
                                     + "; ".join(self.layers.missing.values()))
        if not sandboxed:  # the reference: generous budgets, but a ceiling all the same
            self.limits = self.limits.model_copy(update={
                "memory_mb": max(2 * self.limits.memory_mb, REFERENCE_MEMORY_MB),
                "address_space_mb": max(2 * self.limits.address_space_mb, 4 * REFERENCE_MEMORY_MB),
                "cpu_seconds": REFERENCE_CPU_SECONDS})
            self._confinement = detect()
        self.proc: subprocess.Popen | None = None
        self.cgroups: WorkerCgroups | None = None
        self.fatal_imports: dict[str, Reply] = {}
        self.starts = 0
        self.startup_seconds = 0.0
        self.logs: list[str] = []
        self._next_id = 0
        self._memory_mb = self.limits.memory_mb
        self._buffer = bytearray()
        self._loaded: set[str] = set()  # modules this worker process has imported (set by the grader)
        self._own_scratch = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it. Call it from a thread that outlives the worker:
        bubblewrap (``--die-with-parent``) and the reference's ``setpriv --pdeathsig`` kill the worker
        when the thread that launched it ends. ``wait_ready`` may then run in any thread."""
        self._launched = time.perf_counter()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        bpf = None
        try:
            layers = self.layers if self.sandboxed else self._confinement
            if any(layers.has(n) for n in ("cgroup-memory", "cgroup-pids", "kill-tree")):
                self.cgroups = WorkerCgroups(layers, self.limits.memory_mb << 20, self.limits.max_pids)
            procs = self.cgroups.procs_files if self.cgroups else []
            use_bwrap = self.sandboxed and self.layers.has("bubblewrap")
            if use_bwrap and self.layers.has("seccomp"):
                bpf = seccomp.bpf_file()
            if self.sandboxed:
                plan = launch.plan(self.layers, self.limits, self.source, req_r, resp_w, self.shims,
                                   procs, bpf.fileno() if bpf else None,
                                   scratch=None if use_bwrap else self._scratch())
            else:
                plan = launch.confined(self.limits, launch.worker_args(req_r, resp_w, self.source, self.shims,
                                                                       launch.WORKER_PACKAGE),
                                       procs, self._scratch())
            preexec = None
            if self.sandboxed and not use_bwrap and self.layers.has("seccomp"):
                preexec = seccomp.load_in_process
            fds = (req_r, resp_w) + ((bpf.fileno(),) if bpf else ())
            self.proc = subprocess.Popen(plan.argv, env=plan.env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         pass_fds=fds, process_group=0, preexec_fn=preexec)
        finally:
            os.close(req_r)
            os.close(resp_w)
            if bpf:
                bpf.close()
        self.req_w, self.resp_r = req_w, resp_r
        os.set_blocking(resp_r, False)
        self.output = OutputTail(self.proc.stdout)
        self._buffer.clear()
        self._loaded.clear()
        self.starts += 1

    def wait_ready(self) -> None:
        ready = self._read_until(lambda h: h.get("event") == "ready", time.monotonic() + 60)
        self.startup_seconds += time.perf_counter() - self._launched
        if ready is None or isinstance(ready, Reply):
            reason = ready.describe() if isinstance(ready, Reply) else "no answer"
            tail = self.output.text()[-2000:]
            self.kill()
            raise RuntimeError(f"the worker did not start ({reason}); its output:\n{tail}")

    def _scratch(self) -> str:
        """The host folder for a worker outside bubblewrap: the grader's, or one of our own."""
        if self.scratch is None:
            self.scratch = str(private_dir("worker"))
            self._own_scratch = True
        return self.scratch

    def peaks_mb(self) -> tuple[float | None, float | None]:
        """The worker's peak resident memory and its cgroup's peak (page cache included) during the
        last request that imported a module; None where not measured."""
        return (self.cgroups.peak_rss_mb(), self.cgroups.peak_mb()) if self.cgroups else (None, None)

    def has_loaded(self, name: str) -> bool:
        """Whether this worker process has run or imported the rubric file ``name`` already."""
        return name in self._loaded

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the whole tree: cgroup.kill, then the process group; bwrap's pid namespace dies too."""
        if self.proc is None:
            return
        if self.cgroups:
            self.cgroups.kill_all()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._cleanup()

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self.proc is not None:
            try:
                protocol.write_frame(self.req_w, {"op": "exit"}, None)
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.kill()
        if self._own_scratch:
            remove(self.scratch)
            self.scratch, self._own_scratch = None, False

    def _cleanup(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self.logs.append(self.output.text())
        for fd in (self.req_w, self.resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.cgroups:
            self.cgroups.remove()
            self.cgroups = None
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ----------------------------------------------------------------------------
    def request(self, header: dict, value=None, *, time_s: float = 10.0, import_time_s: float = 30.0,
                memory_mb: int | None = None, deadline: float | None = None) -> Reply:
        """Run one probe within its budgets. Never raises for anything the student's code does.

        The deadline is fixed here, on the grader's clock, when the request is sent: ``time_s``, plus
        ``import_time_s`` when a module named has not been imported by this worker yet, and never past
        ``deadline`` (the question's and the grade's ceilings, ``time.monotonic()`` seconds). Frames
        from the worker ("importing nn") only label what it was doing: student code can write such
        frames itself, so nothing it sends may move the deadline."""
        modules = header.get("modules", {})
        for name in modules:
            if name in self.fatal_imports:
                return self.fatal_imports[name]
        if not self.alive():
            self._cleanup()
            self.start()
        self._memory_mb = memory_mb or self.limits.memory_mb
        importing_needed = any(name not in self._loaded for name in modules)
        if self.cgroups:
            self.cgroups.set_memory(self._memory_mb << 20)
            if importing_needed:  # a script's run is measured (peaks_mb), a function call is not
                self.cgroups.reset_peak()
        oom_before = self.cgroups.oom_kills() if self.cgroups else 0
        self._next_id += 1
        rid = self._next_id
        header = dict(header, id=rid)
        budget = time_s + (import_time_s if importing_needed else 0.0)
        started = time.monotonic()
        hard = started + budget if deadline is None else min(started + budget, deadline)
        if hard - started <= 0:
            return Reply("timeout", error={"message": "not run: the time allowed for this question or "
                                                      "this grade had run out"})
        try:
            protocol.write_frame(self.req_w, header, value)
        except OSError:
            return self._death(oom_before, importing=None, budget=time_s)

        importing: str | None = None
        while True:
            frame = self._read_frame(hard)
            if frame is None:  # the deadline passed
                self.kill()
                what = f"importing {importing}" if importing else "running"
                allowed = min(budget, hard - started)
                reply = Reply("timeout", error={"message": f"timed out after {allowed:g} s while {what} "
                                                           "(an infinite loop, or too slow)"},
                              seconds=time.monotonic() - started)
                if importing and importing in modules:
                    self.fatal_imports[importing] = reply
                return reply
            if isinstance(frame, Reply) and frame.status == "protocol":
                self.kill()  # a worker that sent what cannot be read is not asked again
                return frame
            if isinstance(frame, Reply):
                reply = self._death(oom_before, importing, time_s)
                if importing and importing in modules:
                    self.fatal_imports[importing] = reply
                return reply
            head, val = frame
            event = head.get("event")
            if event == "importing":
                importing = head.get("module") if isinstance(head.get("module"), str) else None
            elif event == "imported":
                importing = None
            elif head.get("id") == rid:
                self._loaded.update(modules)
                return answer_of(head, val)

    def _death(self, oom_before: int, importing: str | None, budget: float) -> Reply:
        proc = self.proc
        try:
            code = proc.wait(timeout=5) if proc else None
        except subprocess.TimeoutExpired:
            code = None
        oom = self.cgroups is not None and self.cgroups.oom_kills() > oom_before
        self.kill()
        during = f" while importing {importing}" if importing else ""
        if oom:
            return Reply("oom", error={"message": f"used more than the memory budget of "
                                                  f"{self._memory_mb} MB{during}"})
        return Reply("died", error={"message": _exit_message(code) + during})

    def _read_until(self, predicate, deadline: float):
        while True:
            frame = self._read_frame(deadline)
            if frame is None or isinstance(frame, Reply):
                return frame
            if predicate(frame[0]):
                return frame

    def _read_frame(self, deadline: float):
        """The next complete frame, ``None`` at the deadline, or a ``Reply`` if the stream broke."""
        size = protocol.HEADER.size
        while True:
            if len(self._buffer) >= size:
                head_len, payload_len = protocol.HEADER.unpack_from(self._buffer)
                if head_len > protocol.MAX_HEADER_BYTES or payload_len > MAX_REPLY_BYTES:
                    return Reply("protocol", error={"message": "the code returned more data than the "
                                                               f"{MAX_REPLY_BYTES >> 20} MB allowed"})
                total = size + head_len + payload_len
                if len(self._buffer) >= total:
                    head = bytes(self._buffer[size:size + head_len])
                    payload = bytes(self._buffer[size + head_len:total])
                    del self._buffer[:total]
                    try:
                        return protocol.parse_frame(head, payload, max_bytes=MAX_REPLY_BYTES)
                    except protocol.FrameError as exc:
                        return Reply("protocol", error={"message": f"unreadable reply: {exc}"})
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.resp_r], [], [], remaining)
            if not ready:
                return None
            try:
                chunk = os.read(self.resp_r, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                return Reply("died")
            self._buffer += chunk


def _exit_message(code: int | None) -> str:
    if code is None:
        return "the process stopped answering"
    signum = -code if code < 0 else code - 128 if code > 128 else None
    if signum:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        hints = {"SIGKILL": " (killed: memory or process limit, or it killed itself)",
                 "SIGXCPU": " (CPU time limit)", "SIGSEGV": " (a crash in native code)"}
        return f"the process was killed by {name}{hints.get(name, '')}"
    return f"the code ended the process with exit code {code} (os._exit or a crash)"
