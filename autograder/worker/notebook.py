"""The kernel side of notebook grading: set a notebook's kernel up like a worker, then serve probes.

The grader (outside the sandbox) drives an IPython kernel (inside it) with nbclient. Before the
student's first cell it runs :func:`start` (hidden from the record): the submission is copied to a
private working folder, the notebook's folder becomes the current directory, seeds are fixed,
``plt.show()`` only snapshots figures, and the rubric's shims apply. After the last cell,
:func:`serve` answers probe requests exactly as the worker does (:class:`agworker.main.Worker`),
with the notebook's global names as the module the rubric calls ``key``. Requests and replies are
frames in files of the shared folder; the grader reads replies as data, never as code.
"""
from __future__ import annotations

import ast
import collections
import contextlib
import os
import sys
import types

from . import figures, hooks, imports, protocol, shims, watch
from .main import Worker, flush_std_streams, seed_everything

_state: dict = {}


def start(source: str, notebook: str, key: str, shim_names: list[str], seed: int, uses_torch: bool,
          watched: list[str] = ()) -> None:
    worker = Worker(source, resp_fd=-1)
    worker.begin()  # the submission's working copy, with imports and paths recorded under it
    if watched:  # the same wrapping a script gets, applied to every cell as it runs
        get_ipython().ast_transformers.append(_WatchCells(list(watched)))  # noqa: F821 - in a kernel
        get_ipython().user_ns["__autograde_watch__"] = watch.wrap  # noqa: F821
    folder = os.path.dirname(os.path.join(worker.workdir, notebook))
    os.chdir(folder)  # "./data", "model.pt": relative to the notebook, as in Jupyter or Colab
    if folder not in sys.path:
        sys.path.insert(0, folder)
    shims.apply(shim_names)
    figures.install()
    figures.begin(key)
    seed_everything(seed)
    if uses_torch:  # seeded when the notebook imports it: importing torch here would cost ~1 s
        hooks.after_import("torch", lambda torch: torch.manual_seed(seed))
    _cap_output(get_ipython())  # noqa: F821
    _state.update(worker=worker, key=key)


CELL_OUTPUT_CHARS = 4 << 20   # what one cell may send of each stream; the grader keeps head and tail
TAIL_CHARS = 64 << 10         # and the end of the rest, sent when the cell ends
WRITE_CHUNK = 256 << 10       # one message at most: the grader's sockets refuse oversized ones


def _cap_output(shell) -> None:
    """Send each cell's printout in small messages, and of each stream only the first
    ``CELL_OUTPUT_CHARS`` plus, when the cell ends, its last ``TAIL_CHARS`` with the count of what
    was left out: one huge ``print`` would otherwise travel as one message larger than the grader
    accepts, and a flood would fill the kernel's memory on its way out.

    IPython 9 wraps the streams' ``write`` around every cell to keep the cell's whole printout in
    its history (``InteractiveShell._tee``), and puts back at the cell's end the ``write`` it found:
    a flood would stay in the kernel's memory until the cgroup kills it, and a cap installed inside
    a cell would be undone. Nothing here reads that history, so the tee is switched off, and the cap
    is (re)installed before every cell."""
    if hasattr(shell, "_tee"):
        shell._tee = lambda channel: contextlib.nullcontext()
    states = {name: {} for name in ("stdout", "stderr")}

    def install():
        for name, state in states.items():
            stream = getattr(sys, name)
            if getattr(stream.write, "_autograde_cap", None) is state:
                continue
            state.update(write=stream.write, flush=stream.flush)

            def capped(text, state=state):
                if not isinstance(text, str):
                    return state["write"](text)
                room = CELL_OUTPUT_CHARS - state["sent"]
                kept, rest = text[:max(room, 0)], text[max(room, 0):]
                for at in range(0, len(kept), WRITE_CHUNK):
                    state["write"](kept[at:at + WRITE_CHUNK])
                    if len(kept) > WRITE_CHUNK:
                        state["flush"]()
                state["sent"] += len(kept)
                if rest:
                    state["cut"] += len(rest)
                    state["tail"].append(rest[-TAIL_CHARS:])
                    state["tail_len"] += min(len(rest), TAIL_CHARS)
                    while state["tail_len"] - len(state["tail"][0]) >= TAIL_CHARS:
                        state["tail_len"] -= len(state["tail"].popleft())
                return len(text)

            capped._autograde_cap = state
            stream.write = capped

    def reset(*_):
        install()
        for state in states.values():
            state.update(sent=0, cut=0, tail=collections.deque(), tail_len=0)

    def flush_tail(*_):
        for state in states.values():
            if state["cut"]:
                tail = "".join(state["tail"])[-TAIL_CHARS:]
                state["write"](f"\n[... {state['cut'] - len(tail)} characters not sent by the grader ...]\n")
                for at in range(0, len(tail), WRITE_CHUNK):
                    state["write"](tail[at:at + WRITE_CHUNK])
                state["flush"]()

    reset()
    shell.events.register("pre_run_cell", reset)
    shell.events.register("post_run_cell", flush_tail)


class _WatchCells(ast.NodeTransformer):
    def __init__(self, names: list[str]):
        self.names = names

    def visit_Module(self, node):
        return watch.rewrite(node, self.names)


def _notebook_module(user_ns: dict) -> types.ModuleType:
    module = types.ModuleType(_state["key"])
    module.__dict__.update({k: v for k, v in user_ns.items() if not k.startswith("_")})
    module.__dict__[figures.KEY] = _state["key"]
    return module


def finish(user_ns: dict) -> None:
    """After the last cell: snapshot open figures, expose the notebook's names to probes."""
    figures.end()
    worker: Worker = _state["worker"]
    worker.modules[_state["key"]] = _notebook_module(user_ns)
    imports.scan_globals(worker.modules[_state["key"]], "a notebook cell")


def serve(request_path: str, reply_path: str) -> None:
    """Answer one probe request (a frame in a file) with one reply frame (in another file)."""
    worker: Worker = _state["worker"]
    with open(os.open(request_path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:
        header, value = protocol.read_frame_blocking(fh.fileno())
    fd = os.open(reply_path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)  # the grader made it
    try:
        worker.resp_fd = fd
        worker.handle(header, value)
    finally:
        flush_std_streams()
        os.close(fd)
