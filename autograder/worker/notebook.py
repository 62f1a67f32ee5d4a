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
import os
import sys
import types

from . import figures, hooks, protocol, shims, watch
from .main import Worker, flush_std_streams, seed_everything

_state: dict = {}


def start(source: str, notebook: str, key: str, shim_names: list[str], seed: int, uses_torch: bool,
          watched: list[str] = ()) -> None:
    worker = Worker(source, resp_fd=-1)
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
    _state.update(worker=worker, key=key)


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


def serve(request_path: str, reply_path: str) -> None:
    """Answer one probe request (a frame in a file) with one reply frame (in another file)."""
    worker: Worker = _state["worker"]
    with open(request_path, "rb") as fh:
        header, value = protocol.read_frame_blocking(fh.fileno())
    fd = os.open(reply_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        worker.resp_fd = fd
        worker.handle(header, value)
    finally:
        flush_std_streams()
        os.close(fd)
