"""Watch a numpy training script update its parameters, whatever it names its accumulators.

A rule such as momentum (``M = 0.9 M - lr dJ/dW; W = W + M``) cannot be read from a script's final
state: the accumulators may sit in ``params['m_W1']``, ``params['mW1']``, a dict of their own, globals
or a function's locals, and the last one alone does not show gamma. What does show it is how the
parameters move from one batch to the next. So the probe runs the script once more and records the
parameters (and the gradients the course's ``backwards`` leaves in ``params['grad_' + key]``) each time
a new state reaches ``forward(X, params, ...)``: forward is called at the start of every batch, after
the previous batch's update, so consecutive records are consecutive updates. After a few of them the
run is stopped. The judge fits the update rule to the records (``expr.momentum_share``,
``expr.momentum_gamma``).

Only the student's own functions named ``forward`` are watched: those of the submission's modules
already imported (the course's ``nn.py``, which the script's first run imported) and one the script
defines at top level. A script that never calls such a function with its parameters records nothing.
The re-run starts from the worker's seed, costs the script's set-up (loading the data, 3-5 s for
handout 004's run_q5.py) and a few batches, and leaves the first run's globals untouched.
"""
from __future__ import annotations

import ast
import functools
import os
import sys
import types
from collections.abc import Mapping

import numpy as np

from . import watch

MAX_VALUES = 500_000   # parameters recorded per state (the handout's autoencoder has 68 704)
MAX_KEYS = 64
MAX_DICTS = 4          # distinct params dicts followed (a script may build a second network)
HOOK = "__autograde_updates__"


class _Enough(BaseException):
    """Raised from the watched function once enough states are recorded: stops the run (a
    BaseException, so the script's own ``except Exception`` does not swallow it)."""


def _layer_keys(params: Mapping) -> list[str]:
    """'W' + name and 'b' + name for every layer of an nn.py-style params dict, in creation order."""
    keys = [k for k in list(params.keys())[:1000] if isinstance(k, str)]
    layers = [k[1:] for k in keys if k.startswith("W") and "b" + k[1:] in params]
    return [p + name for name in layers for p in ("W", "b")][:MAX_KEYS]


class Recorder:
    """States of each params dict seen by the watched function, one per distinct set of values."""

    def __init__(self, states: int):
        self.states = states
        self.calls = 0
        self.traces: list[tuple[Mapping, list[dict]]] = []
        self.done = False
        self.closed = False  # after the run: the watched functions just call through

    def wrap(self, fn):
        if getattr(fn, HOOK, None) is self or not callable(fn):
            return fn

        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            self.see([*args, *kwargs.values()])
            return fn(*args, **kwargs)

        setattr(recorded, HOOK, self)
        return recorded

    def see(self, values) -> None:
        if self.closed:
            return
        if self.done:
            raise _Enough
        self.calls += 1
        for value in values:
            if isinstance(value, Mapping):
                keys = _layer_keys(value)
                if keys and self._record(value, keys):
                    self.done = True
                    raise _Enough

    def _trace_of(self, params: Mapping) -> list[dict] | None:
        for seen, trace in self.traces:
            if seen is params:
                return trace
        if len(self.traces) >= MAX_DICTS:
            return None
        self.traces.append((params, []))
        return self.traces[-1][1]

    def _record(self, params: Mapping, keys: list[str]) -> bool:
        """Record the current state if it differs from the last one; True once there are enough."""
        values = {k: params[k] for k in keys}
        if not all(isinstance(v, np.ndarray) and v.dtype.kind in "fiu" for v in values.values()):
            return False
        if sum(v.size for v in values.values()) > MAX_VALUES:
            return False
        trace = self._trace_of(params)
        if trace is None:
            return False
        last = trace[-1]["values"] if trace else None
        if last is not None and last.keys() == values.keys() and all(
                np.array_equal(last[k], v) for k, v in values.items()):
            return False
        grads = {}
        for k, v in values.items():
            grad = params.get("grad_" + k) if hasattr(params, "get") else None
            usable = isinstance(grad, np.ndarray) and grad.shape == v.shape
            grads[k] = np.array(grad, dtype=float) if usable else None
        trace.append({"values": {k: np.array(v, dtype=float) for k, v in values.items()}, "grads": grads})
        return len(trace) >= self.states

    def result(self) -> dict:
        """The longest trace, per parameter: values (states, *shape) and grads (NaN where none)."""
        trace = max((t for _, t in self.traces), key=len, default=[])
        params = {}
        for key in trace[0]["values"] if trace else []:
            shapes = {np.shape(state["values"].get(key)) for state in trace}
            if len(shapes) != 1:
                continue
            shape = shapes.pop()
            values = np.stack([state["values"][key] for state in trace])
            grads = np.stack([state["grads"][key] if state["grads"].get(key) is not None
                              else np.full(shape, np.nan) for state in trace])
            params[key] = {"values": values, "grads": grads}
        return {"calls": self.calls, "states": len(trace), "params": params}


def _wrap_definitions(tree: ast.Module, name: str) -> ast.Module:
    """After a top-level ``def name``, add ``name = __autograde_updates__(name)``."""
    body = []
    for node in tree.body:
        body.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            body.append(ast.copy_location(ast.parse(f"{name} = {HOOK}({name})").body[0], node))
    tree.body = body
    return ast.fix_missing_locations(tree)


def _students(module, folder: str) -> bool:
    """A module of the submission (``nn.py``): next to the script, or anywhere in the submission's
    working copy (the worker's watched root)."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return False
    file = os.path.abspath(file)
    return os.path.dirname(file) == folder or file.startswith(tuple(watch._roots))  # noqa: SLF001


class _Discard:
    """stdout while the script runs again: its printout was kept from the first run."""

    def write(self, text) -> int:
        return len(str(text))

    def flush(self) -> None:
        pass


def parameter_updates(script, trigger: str = "forward", states: int = 6) -> dict:
    """``parameter_updates(run_q5)``: run the script again as ``__main__`` with the functions named
    ``trigger`` watched, and return the first ``states`` distinct states of the params dict they
    were given (see the module's docs). The script's first run and its globals are untouched."""
    path = os.path.abspath(str(getattr(script, "__file__", "") or ""))
    if not os.path.isfile(path):
        raise ValueError("parameter_updates needs a script the rubric runs (run_as: script)")
    folder = os.path.dirname(path)
    recorder = Recorder(max(3, int(states)))
    patched = []
    for module in list(sys.modules.values()):
        if _students(module, folder):
            original = getattr(module, trigger, None)
            if isinstance(original, types.FunctionType):
                setattr(module, trigger, recorder.wrap(original))
                patched.append((module, original))
    with open(path, "rb") as fh:
        code = compile(_wrap_definitions(ast.parse(fh.read(), path), trigger), path, "exec")
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__dict__[HOOK] = recorder.wrap
    saved = os.getcwd(), sys.argv, sys.stdout
    try:
        os.chdir(folder)
        sys.argv, sys.stdout = [path], _Discard()
        exec(code, module.__dict__)  # noqa: S102 - the student's script, in the sandbox
    except BaseException:  # noqa: BLE001 - _Enough, or the script's own end: what was recorded counts
        pass
    finally:
        recorder.closed = True
        os.chdir(saved[0])
        sys.argv, sys.stdout = saved[1], saved[2]
        for owner, original in patched:
            setattr(owner, trigger, original)
    return recorder.result()


BUILTINS = {"parameter_updates": parameter_updates}
