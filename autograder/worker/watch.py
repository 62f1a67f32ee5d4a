"""Watch named functions of a script while it runs: how often they are called, with what, and what
they did (files opened, optimizers created).

The rubric names the functions (``watch: [hyperparam_tuning, plotPath]``); the script's source is
rewritten before it runs so that each definition of such a name is wrapped right after it, wherever
it is: at module level, as a method (static and class methods too), nested in ``main()`` or under
``if __name__ == '__main__':``. That keeps line numbers and costs nothing elsewhere. What is
recorded are facts for the judge (e.g. "no test file was opened and no argument had the test
split's row count while the search ran", or the inner products of the trajectory ``plotPath`` was
given, from which the judge computes its principal components); the judge decides what they mean.

Events share one clock (:func:`tick`) with :mod:`.instances` (models trained, optimizers stepped),
and while a rubric watches functions every data file of the submission opened during a load is
logged with its time (:func:`opened_files`): a search written as a loop in ``__main__`` has no
function to watch, and the judge then places the file reads against the training runs instead.
"""
from __future__ import annotations

import ast
import functools
import itertools
import os
import sys

import numpy as np

from . import figures

MAX_ITEMS = 200
MAX_GRAM_ROWS = 500   # trajectories are sampled a few times per epoch
MAX_GRAMS = 8
_records: dict[str, dict] = {}
_active: list[str] = []
_installed: list[bool] = []


_clock = itertools.count(1)


def tick() -> int:
    """The next time on the clock every watched event shares (calls, training steps, files)."""
    return next(_clock)


def active() -> tuple[str, ...]:
    """The watched functions running right now (outermost first, each once)."""
    return tuple(dict.fromkeys(_active))


def current_source() -> str | None:
    """The rubric file key whose script or notebook is loading now; None while probes run."""
    source = figures._source[0]  # figures.begin/end bracket every load, for scripts and notebooks alike
    return None if source == "(probe)" else source


BODIES = ("body", "orelse", "finalbody")


def rewrite(tree: ast.Module, names: list[str]) -> ast.Module:
    """After each ``def name(...)`` of a watched name, wherever it is (module, class, function or
    ``if``/``with``/``try`` bodies), add ``name = __autograde_watch__('name', name)``."""
    _install()
    for node in ast.walk(tree):
        for field in BODIES:
            body = getattr(node, field, None)
            if not isinstance(body, list) or not body or not isinstance(body[0], ast.stmt):
                continue
            out = []
            for stmt in body:
                out.append(stmt)
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in names:
                    wrapper = ast.parse(f"{stmt.name} = __autograde_watch__({stmt.name!r}, {stmt.name})").body[0]
                    out.append(ast.copy_location(wrapper, stmt))
            setattr(node, field, out)
    return ast.fix_missing_locations(tree)


def wrap(name: str, fn):
    """``fn`` watched under ``name``; a static or class method stays one (its function is wrapped)."""
    if isinstance(fn, (staticmethod, classmethod)):
        return type(fn)(wrap(name, fn.__func__))
    if not callable(fn):
        return fn
    record = _records.setdefault(name, _empty())
    _install()

    @functools.wraps(fn)
    def watched(*args, **kwargs):
        record["calls"] += 1
        for value in _flatten([*args, *kwargs.values()]):
            rows = _rows(value)
            if rows is not None and len(record["arg_rows"]) < MAX_ITEMS:
                record["arg_rows"].append(rows)
        for value in [*args, *kwargs.values()] if len(record["grams"]) < MAX_GRAMS else []:
            matrix = _matrix(value)  # a watched function called in a loop stops paying once full
            if matrix is not None and len(record["grams"]) < MAX_GRAMS:
                record["grams"].append(matrix @ matrix.T)
        _active.append(name)
        try:
            return fn(*args, **kwargs)
        finally:
            _active.pop()

    return watched


def record_of(module, name: str | None = None) -> dict:
    """``watched(hw3, 'hyperparam_tuning')``: what the function did while the script ran. Naming the
    module makes the probe load (run) it first; a function the script never defined reads as never
    called."""
    return _records.get(module if name is None else name, _empty())


def _empty() -> dict:
    return {"calls": 0, "optimizers": 0, "files": [], "arg_rows": [], "grams": []}


def _flatten(values, depth: int = 0):
    for v in values:
        if isinstance(v, (list, tuple)) and depth < 2 and len(v) <= 16:
            yield from _flatten(v, depth + 1)
        elif isinstance(v, dict) and depth < 2 and len(v) <= 16:
            yield from _flatten(list(v.values()), depth + 1)
        else:
            yield v


def _rows(value):
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1 and not isinstance(value, (str, bytes)):
        return int(shape[0])
    if hasattr(value, "dataset") and hasattr(value.dataset, "__len__"):  # a DataLoader
        return int(len(value.dataset))
    if hasattr(value, "__len__") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes, list, tuple, dict)):
        try:
            return int(len(value))  # a Dataset
        except TypeError:
            return None
    return None


def _matrix(value):
    """A trajectory-like argument as an (n, d) float matrix, 3 <= n <= MAX_GRAM_ROWS: a 2-D array
    or tensor, or a list of n points, each a vector or a model's parameters (a list or dict of arrays).
    Its Gram matrix (the rows' inner products) is what is recorded: n x n however many parameters,
    and enough for the judge to compute the rows' principal-component scores exactly."""
    if isinstance(value, (list, tuple)):
        if not 3 <= len(value) <= MAX_GRAM_ROWS:
            return None
        rows = [_vector(v) for v in value]
        if any(r is None for r in rows) or len({r.size for r in rows}) != 1 or rows[0].size < 2:
            return None
        return np.stack(rows)
    array = _array(value)
    if array is None or array.ndim != 2 or not 3 <= array.shape[0] <= MAX_GRAM_ROWS or array.shape[1] < 2:
        return None
    return array


def _vector(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        parts = [_array(v) for v in value]
        return None if not parts or any(p is None for p in parts) else np.concatenate([p.ravel() for p in parts])
    array = _array(value)
    return None if array is None else array.ravel()


def _array(value):
    """A numeric numpy view of an array or a tensor (without importing torch); None otherwise."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu" or value.size > 50_000_000:
        return None
    return value.astype(np.float64, copy=False)


CODE_SUFFIXES = (".py", ".pyc", ".so")
_roots: list[str] = []
MAX_OPEN_NAMES = 200      # distinct data files logged per source
MAX_OPEN_TIMES = 16       # times kept per file: the first ones and the last
_opens: dict[str, dict[str, list[int]]] = {}


def watch_files_under(root: str) -> None:
    """Called once by the worker for the submission's folder: only its files count (its data), not
    what libraries open. From then on the torch objects the submission builds are watched too, as
    soon as it imports torch (:mod:`.instances`), and the data files each script opens are logged
    (:func:`opened_files`; :mod:`.chain` reports which earlier script wrote them)."""
    from . import hooks, instances

    _roots.append(os.path.abspath(root) + os.sep)
    _install()
    hooks.after_import("torch", instances.install)


def opened_files(module) -> list[list]:
    """``[[name, time], ...]``: the submission's data files the script (a module the probe names)
    opened while it loaded, each with the clock's times (up to 16 per file)."""
    source = getattr(module, figures.KEY, None)
    if source is None and isinstance(module, dict):
        source = module.get(figures.KEY)
    return [[name, t] for name, times in _opens.get(source, {}).items() for t in times]


def _on_open(event: str, args) -> None:
    """Data files of the submission opened while a watched function runs, and every one opened
    while a script or notebook loads (with its time)."""
    if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    source = current_source()
    if not _active and source is None:
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if path.endswith(CODE_SUFFIXES) or not path.startswith(tuple(_roots)) or not os.path.isfile(path):
        return
    name = os.path.basename(path)
    for watched_name in set(_active):
        files = _records[watched_name]["files"]
        if len(files) < MAX_ITEMS:
            files.append(name)
    if source is not None:
        log = _opens.setdefault(source, {})
        if name in log or len(log) < MAX_OPEN_NAMES:
            times = log.setdefault(name, [])
            if len(times) >= MAX_OPEN_TIMES:
                times.pop()  # keep the first ones and the latest
            times.append(tick())


def _install() -> None:
    """Once per worker: an audit hook for opened files, and, once the script imports torch, a count
    of optimizers created while a watched function runs (each tried setting trains a fresh model
    with a fresh optimizer)."""
    if _installed:
        return
    _installed.append(True)
    sys.addaudithook(_on_open)
    from . import hooks

    hooks.after_import("torch", _count_optimizers)


def _count_optimizers(torch) -> None:
    original = torch.optim.Optimizer.__init__

    def init(self, *args, **kwargs):
        for name in set(_active):
            _records[name]["optimizers"] += 1
        original(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = init
