"""Watch named functions of a script while it runs: how often they are called, with what, and what
they did (files opened, optimizers created).

The rubric names the functions (``watch: [hyperparam_tuning, plotPath]``); the script's source is
rewritten before it runs so that each top-level definition of such a name is wrapped right after it,
which keeps line numbers and costs nothing elsewhere. What is recorded are facts for the judge (e.g.
"no test file was opened and no argument had the test split's row count while the search ran", or
the inner products of the trajectory ``plotPath`` was given, from which the judge computes its
principal components); the judge decides what they mean.
"""
from __future__ import annotations

import ast
import functools
import os
import sys

import numpy as np

MAX_ITEMS = 200
MAX_GRAM_ROWS = 500   # trajectories are sampled a few times per epoch
MAX_GRAMS = 8
_records: dict[str, dict] = {}
_active: list[str] = []
_installed: list[bool] = []


def rewrite(tree: ast.Module, names: list[str]) -> ast.Module:
    """After ``def name(...)`` at module level, add ``name = __autograde_watch__('name', name)``."""
    body = []
    for node in tree.body:
        body.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            wrap = ast.parse(f"{node.name} = __autograde_watch__({node.name!r}, {node.name})").body[0]
            body.append(ast.copy_location(wrap, node))
    tree.body = body
    return ast.fix_missing_locations(tree)


def wrap(name: str, fn):
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


def watch_files_under(root: str) -> None:
    """Only files of the submission's own folder count (its data), not what libraries open."""
    _roots.append(os.path.abspath(root) + os.sep)


def _on_open(event: str, args) -> None:
    """Data files of the submission opened while a watched function runs."""
    if event != "open" or not _active or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if path.endswith(CODE_SUFFIXES) or not path.startswith(tuple(_roots)) or not os.path.isfile(path):
        return
    for name in set(_active):
        files = _records[name]["files"]
        if len(files) < MAX_ITEMS:
            files.append(os.path.basename(path))


def _install() -> None:
    """Once per worker: an audit hook for opened files, and a count of optimizers created while a
    watched function runs (each tried setting trains a fresh model with a fresh optimizer)."""
    if _installed:
        return
    _installed.append(True)
    sys.addaudithook(_on_open)
    try:
        import torch
    except ImportError:
        return
    original = torch.optim.Optimizer.__init__

    def init(self, *args, **kwargs):
        for name in set(_active):
            _records[name]["optimizers"] += 1
        original(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = init
