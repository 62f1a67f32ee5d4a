"""Find a script's arrays by what they are, not by what they are called.

A rubric that reads ``run_q6.lrank`` fails the student who wrote ``valid_lrank``, kept ``U[:, :32]``
in a dict, or rebuilt the images in a loop. Here every array among a module's data (its globals, and
the values of the dicts, lists and tuples among them, two levels down) is a candidate, and a
question's helper picks the ones of the right kind: ``projections(run_q6, 1024)`` the subspaces a PCA
script projects onto. What the arrays mean is decided by the judge.
"""
from __future__ import annotations

import types
from collections.abc import Mapping

import numpy as np

MAX_ENTRIES = 64          # entries of one dict or list looked into
MAX_ELEMENTS = 50_000_000
DEPTH = 2


def data_arrays(module, depth: int = DEPTH):
    """``(where, array)`` for every numeric array among a module's data. A list or tuple of arrays
    of one shape (rows rebuilt one at a time in a loop) also counts as those rows stacked."""
    seen: set[int] = set()

    def walk(value, where: str, level: int):
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "fiu" and 0 < value.size <= MAX_ELEMENTS:
                yield where, value
            return
        if level >= depth:
            return
        if isinstance(value, Mapping):
            for key, item in list(value.items())[:MAX_ENTRIES]:
                yield from walk(item, f"{where}[{key!r}]", level + 1)
        elif isinstance(value, (list, tuple)):
            stacked = _stacked(value)
            if stacked is not None:
                yield where, stacked
                return
            for i, item in enumerate(value[:MAX_ENTRIES]):
                yield from walk(item, f"{where}[{i}]", level + 1)

    try:
        names = list(vars(module).items())
    except TypeError:
        return
    for name, value in names:
        if name.startswith("__") or isinstance(value, (types.ModuleType, types.FunctionType, type)):
            continue
        yield from walk(value, name, 0)


def _stacked(items) -> np.ndarray | None:
    """Rows appended one at a time: two or more arrays of one shape, as one (n, size) array."""
    if len(items) < 2 or not all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in items):
        return None
    if len({a.shape for a in items}) != 1 or items[0].ndim > 2 or len(items) * items[0].size > MAX_ELEMENTS:
        return None
    return np.stack(items).reshape(len(items), -1).astype(float)


ORTHONORMAL_TOL = 1e-4    # float32 bases pass; a batch of images does not
RANK_TOL = 1e-6           # singular values below this share of the largest are rounding


def _orthonormal(basis: np.ndarray) -> bool:
    gram = basis.T @ basis
    return bool(np.max(np.abs(gram - np.eye(len(gram)))) <= ORTHONORMAL_TOL)


def _projector_basis(P: np.ndarray, most: int) -> np.ndarray | None:
    """A (side, side) projector (symmetric, P @ P = P, rank <= most): the basis of its range."""
    scale = np.max(np.abs(P))
    if scale == 0 or np.max(np.abs(P - P.T)) > 1e-6 * scale:
        return None
    if np.max(np.abs(P @ P - P)) > 1e-6 * max(scale, 1.0):
        return None
    values, vectors = np.linalg.eigh((P + P.T) / 2)
    keep = values > 0.5
    return vectors[:, keep] if 0 < keep.sum() <= most else None


def _row_space(rows: np.ndarray, most: int) -> np.ndarray | None:
    """Rows of low rank after centring (images reconstructed from k components): a basis of the
    space they span, None unless that rank is between 1 and ``most``. A random sketch of the centred
    rows (computed without a centred copy: a training split is 88 MB) gives the rank, and its product
    with the rows the space."""
    mean = rows.mean(axis=0)
    omega = np.random.default_rng(0).normal(size=(rows.shape[1], most + 8))
    sketch = rows @ omega - mean @ omega
    s = np.linalg.svd(sketch, compute_uv=False)
    rank = int(np.sum(s > s[0] * RANK_TOL)) if s[0] > 0 else 0
    if not 0 < rank <= most:
        return None
    spanning = rows.T @ sketch - np.outer(mean, sketch.sum(axis=0))
    return np.linalg.svd(spanning, full_matrices=False)[0][:, :rank]


def _same_space(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and float(np.sum((a.T @ b) ** 2)) >= a.shape[1] - 1e-6


def projections(module, side: int = 1024, most: int = 128, limit: int = 8) -> list[np.ndarray]:
    """The subspaces a PCA script projects onto, each as a (side, k) basis with k <= ``most``, found
    among the module's arrays by shape: a (side, k) or (k, side) matrix with orthonormal columns or
    rows (``Vt[:32].T``, ``U[:, :32]``, ``V32``), a (side, side) projector of rank k (``P = V V^T``),
    or dataset-sized rows of rank k after centring (the reconstructed images, when the basis itself
    was only a slice taken inline). The same subspace found twice counts once."""
    side, most = int(side), int(most)
    found: list[np.ndarray] = []
    for _, array in data_arrays(module):
        if array.ndim != 2 or side not in array.shape:
            continue
        a = np.asarray(array, dtype=float)
        if not np.all(np.isfinite(a)):
            continue
        basis = None
        rows, cols = a.shape
        if rows == side and cols == side:
            basis = _projector_basis(a, most)
        elif min(rows, cols) <= most:
            oriented = a if rows == side else a.T
            basis = oriented if _orthonormal(oriented) else None
        else:
            basis = _row_space(a if cols == side else a.T, most)
        if basis is not None and not any(_same_space(basis, b) for b in found):
            found.append(np.ascontiguousarray(basis))
            if len(found) >= limit:
                break
    return found


BUILTINS = {"projections": projections}
