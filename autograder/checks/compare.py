"""Compare an observed value with the expected one, PrairieLearn-style: explicit rtol/atol, shape, NaN.

Returns ``None`` when they match, else a :class:`Mismatch` whose ``public`` text may show the expected
value and whose ``hidden`` text never does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..worker.protocol import ObservedError, Opaque


@dataclass
class Mismatch:
    hidden: str   # what was wrong, without the expected answer
    public: str   # the same, with the values that differed

    def text(self, visible: bool) -> str:
        return self.public if visible else self.hidden


def _same(msg: str) -> Mismatch:
    return Mismatch(msg, msg)


def _numeric(value):
    """An array view of a numeric observation (array, number, or list of numbers), else None."""
    if isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype=float)
    if isinstance(value, (int, float, np.integer, np.floating, np.ndarray)):
        arr = np.asarray(value)
        return arr if arr.dtype.kind in "biufc" else None
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def compare(observed, expected, rtol: float, atol: float, path: str = "result") -> Mismatch | None:
    if isinstance(observed, ObservedError):
        return _same(f"{path}: could not be read ({observed.type_name}: {observed.message})")
    if isinstance(expected, dict):
        if not isinstance(observed, dict):
            return _same(f"{path}: expected a dict, got {_kind(observed)}")
        for key, exp in expected.items():
            if key not in observed:
                return _same(f"{path}: key {key!r} is missing")
            found = compare(observed[key], exp, rtol, atol, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)) and _numeric(expected) is None:
        if not isinstance(observed, (list, tuple)):
            return _same(f"{path}: expected a sequence of {len(expected)} items, got {_kind(observed)}")
        if len(observed) != len(expected):
            return _same(f"{path}: expected {len(expected)} items, got {len(observed)}")
        for i, (obs, exp) in enumerate(zip(observed, expected)):
            found = compare(obs, exp, rtol, atol, f"{path}[{i}]")
            if found:
                return found
        return None
    exp_arr = _numeric(expected)
    if exp_arr is None:  # strings, None, opaque
        if observed == expected:
            return None
        return Mismatch(f"{path}: wrong value", f"{path}: got {observed!r}, expected {expected!r}")
    return compare_arrays(observed, exp_arr, rtol, atol, path)


def compare_arrays(observed, expected: np.ndarray, rtol: float, atol: float, path: str) -> Mismatch | None:
    if observed is None:
        return _same(f"{path}: returned None (did the function forget to return a value?)")
    obs = _numeric(observed)
    if obs is None:
        return _same(f"{path}: expected numbers, got {_kind(observed)}")
    if obs.shape != expected.shape:
        # a (n,) vs (n,1) slip is a common, real error: say so plainly
        hint = " (transposed?)" if obs.ndim == 2 and obs.T.shape == expected.shape else ""
        return _same(f"{path}: shape {obs.shape}, expected {expected.shape}{hint}")
    if obs.dtype.kind == "c" and expected.dtype.kind != "c":
        return _same(f"{path}: complex values where real numbers were expected")
    obs = obs.astype(float)
    bad_obs, bad_exp = ~np.isfinite(obs), ~np.isfinite(expected)
    if (bad_obs & ~bad_exp).any():
        idx = tuple(int(i) for i in np.argwhere(bad_obs & ~bad_exp)[0])
        what = "NaN" if np.isnan(obs[idx]) else "inf"
        return _same(f"{path}: contains {what} (first at index {idx})")
    close = np.isclose(obs, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    if obs.ndim == 2 and obs.shape == obs.T.shape and np.allclose(obs.T, expected, rtol=rtol, atol=atol):
        return _same(f"{path}: the values are transposed")
    diff = np.where(close, 0.0, np.abs(obs - expected))
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape)) if diff.ndim else ()
    share = f"{int((~close).sum())} of {close.size} values differ"
    where = f" (largest error at index {idx})" if idx else ""
    hidden = f"{path}: wrong values, {share}{where}"
    public = f"{hidden}: got {float(obs[idx]):.6g}, expected {float(expected[idx]):.6g}"
    return Mismatch(hidden, public)


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"
