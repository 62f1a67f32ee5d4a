"""Run a probe scenario: a few Python statements that call into a submission, then observations.

A scenario is data written in the rubric, e.g.::

    steps:   ["post = nn.forward(X, params, 'layer1')"]
    observe: {post: "post", cache: "params['cache_layer1']"}

The grader checks the statements' shape when it loads the rubric (``autograder.rubric.expressions``);
here they are executed against the student's modules (inside the sandbox) or the reference
solution's (in the trusted reference worker). Each observation is evaluated on its own, so one
missing key costs only that observation.
"""
from __future__ import annotations

import copy
import os

import numpy as np

from . import arrays, chain, figures, models, updates, watch
from .protocol import ObservedError

def load_pickle(path: str):
    """Unpickle a file the student's code wrote. Only ever called inside the sandbox: what crosses
    back to the grader is the plain arrays it holds, never the pickle."""
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - untrusted, but we are the sandboxed side


DATA_SUFFIXES = (".yaml", ".yml", ".json")


class DataFile(dict):
    """A hand-in that is data, not code (``q1_weights.yaml``, ``answers.yaml``): its top-level keys
    read like a module's names (``q1.W1``) or like a dict's (``answers['Q2']``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the file has no entry {name!r}") from None


def load_data_file(path: str) -> DataFile:
    import yaml  # JSON is YAML; safe_load builds plain data only

    with open(path, encoding="utf-8") as fh:
        content = yaml.safe_load(fh)
    if not isinstance(content, dict):
        raise ValueError(f"{os.path.basename(path)} should hold named entries (a mapping), "
                         f"not {type(content).__name__}")
    return DataFile({str(k): v for k, v in content.items()})


PRINTED = "__autograde_printed__"
MAX_PRINTED_CHARS = 1 << 20


class PrintedTail:
    """A stdout that still prints (to the worker's log) and keeps what a script printed, for
    deliverables that *are* printed text (the OCR script's extracted lines). Capped in size."""

    def __init__(self, stream):
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def write(self, text) -> int:
        text = str(text)
        if self.size < MAX_PRINTED_CHARS:
            self.parts.append(text[:MAX_PRINTED_CHARS - self.size])
            self.size += len(self.parts[-1])
        try:
            return self.stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        return "".join(self.parts)

    def __getattr__(self, name):
        """Everything else (isatty, fileno, encoding, buffer) is the real stream's."""
        return getattr(self.stream, name)


def printed(script) -> str:
    """What a script run as ``__main__`` printed (``printed(run_q4)`` in a probe step)."""
    return str(getattr(script, PRINTED, ""))


def layer_names(params) -> list[str]:
    """Layer names of a ``params`` dict in the nn.py convention (``'W'+name`` with a ``'b'+name``), in
    the order the layers were created: students name layers freely (``hidden``/``hidden2``,
    ``hidden1``/``hidden2``, ``layer2``/``layer3``), but they create them input to output."""
    keys = list(params.keys())
    return [k[1:] for k in keys if isinstance(k, str) and k.startswith("W") and "b" + k[1:] in params]


def call(fn, /, *args, **kwargs):
    """Call ``fn`` with the positional arguments and the keyword arguments its signature accepts.

    Course starters grow over the years (TDT4265's ``SoftmaxModel`` gained a ``use_relu`` flag,
    students add ``mean, std`` parameters): a probe passes every argument any known variant takes,
    by name, and each variant receives the ones it declares; keywords it does not declare are
    dropped. Positional arguments are passed as they are (for a parameter students rename, such as
    ``X`` in ``pre_process_images(X_batch)``). Parameters left out keep their defaults; a required one
    left out raises ``TypeError`` as a plain call would. Functions that take ``**kwargs``, and
    callables whose signature cannot be read, receive every keyword.
    """
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return fn(*args, **kwargs)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    filled = {p.name for p in params[:len(args)] if p.kind in positional}
    named = {p.name for p in params
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return fn(*args, **{k: v for k, v in kwargs.items() if k in named and k not in filled})


# --------------------------------------------------------------------------------------------
# trusted stand-ins: one bug costs one question. A probe of one function that needs another
# (forward with a softmax, backwards with a filled cache) calls these, never the student's own
# version of that other function, so a broken softmax is lost in the softmax question only.
# They are the grader's code: the same in the sandbox and in the reference worker.


def ref_sigmoid(x):
    """The logistic function, without overflow for large |x|."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ref_sigmoid_deriv(post_act):
    """The sigmoid's derivative as a function of its output (the nn.py handouts' convention)."""
    post_act = np.asarray(post_act, dtype=float)
    return post_act * (1.0 - post_act)


def ref_softmax(x):
    """Softmax of each row, the row maximum subtracted first."""
    x = np.asarray(x, dtype=float)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def ref_forward(X, params, name="", activation=ref_sigmoid):
    """One affine layer and its activation, ``post = activation(X @ W + b)``, leaving the cache
    ``params['cache_' + name] = (X, pre_act, post_act)`` the nn.py handouts' ``backwards`` reads:
    a check of the student's ``backwards`` then does not rest on the student's ``forward``."""
    pre_act = np.asarray(X, dtype=float) @ params["W" + name] + params["b" + name]
    post_act = activation(pre_act)
    params["cache_" + name] = (X, pre_act, post_act)
    return post_act


def first_items(items, at_most: int):
    """A returned collection as a list of at most ``at_most + 1`` items (one more than a right answer
    can hold, so a check sees an excess), for any iterable a student may return: a list, a
    generator, a ``zip``. Anything that cannot be iterated is returned as it is, for the judge to
    name. Each item that is itself a generator or ``zip`` (a lazy pair) becomes a tuple."""
    import itertools

    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        return items
    out = list(itertools.islice(iter(items), max(int(at_most), 0) + 1))
    return [tuple(itertools.islice(item, 3)) if _lazy(item) else item for item in out]


def _lazy(item) -> bool:
    return hasattr(item, "__next__") or type(item).__name__ in ("zip", "map")


def batches_of_examples(batches, x, y):
    """``batches`` unchanged when every row of every batch is an example of ``x`` with its label of
    ``y``; ValueError otherwise. A shuffle check judges the order of examples: batches of zeros or
    random rows hold no examples to order, and must not pass it."""
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("no batches to read")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    for i, batch in enumerate(batches):
        try:
            bx, by = (np.asarray(part, dtype=float) for part in batch)
        except (TypeError, ValueError):
            raise ValueError(f"batch {i} is not a (batch_x, batch_y) pair") from None
        if bx.ndim != 2 or bx.shape[1:] != x.shape[1:] or by.shape[1:] != y.shape[1:] or len(bx) != len(by):
            raise ValueError(f"batch {i} does not hold rows of x and y")
        for row, label in zip(bx, by):
            match = np.flatnonzero(np.all(np.isclose(x, row), axis=1))
            if not len(match) or not np.allclose(y[match[0]], label):
                raise ValueError(f"batch {i} holds a row that is not an example of x with its label")
    return batches


SAFE_BUILTINS = {
    "load_pickle": load_pickle, "handed_in": chain.handed_in, "printed": printed, "layer_names": layer_names, "call": call,
    "ref_sigmoid": ref_sigmoid, "ref_sigmoid_deriv": ref_sigmoid_deriv, "ref_softmax": ref_softmax,
    "ref_forward": ref_forward, "first_items": first_items, "batches_of_examples": batches_of_examples,
    "len": len, "range": range, "list": list, "tuple": tuple, "dict": dict, "float": float,
    "int": int, "abs": abs, "min": min, "max": max, "sum": sum, "sorted": sorted, "zip": zip,
    "enumerate": enumerate, "isinstance": isinstance, "None": None, "True": True, "False": False,
    "watched": watch.record_of, "figures_drawn": figures.summaries_of,
    **models.BUILTINS, **arrays.BUILTINS, **updates.BUILTINS,
}


def _namespace(inputs: dict, modules: dict) -> dict:
    ns = {"__builtins__": SAFE_BUILTINS, "np": np}
    ns.update(modules)
    ns.update(inputs)
    return ns


def run_steps(steps: list[str], inputs: dict, modules: dict) -> dict:
    """Execute the scenario's statements; exceptions propagate to the caller (the probe fails)."""
    ns = _namespace(inputs, modules)
    for i, step in enumerate(steps):
        exec(compile(step, f"<step {i + 1}>", "exec"), ns)  # noqa: S102 - checked by the rubric loader
    return ns


def observe(ns: dict, observe_exprs: dict[str, str]) -> dict:
    """Evaluate each observation on its own; a failure becomes an :class:`ObservedError` value."""
    out = {}
    for name, expr in observe_exprs.items():
        try:
            out[name] = eval(compile(expr, f"<observe {name}>", "eval"), ns)  # noqa: S307
        except Exception as exc:  # noqa: BLE001 - any student failure is data
            out[name] = ObservedError(type(exc).__name__, str(exc)[:300])
    return out


def run_scenario(scenario: dict, inputs: dict, modules: dict) -> dict:
    ns = run_steps(scenario["steps"], inputs, modules)
    return observe(ns, scenario["observe"])


# --------------------------------------------------------------------------------------------
# numerical gradients (used by the trusted reference worker for gradient checks)


def _get_path(tree, path: list):
    for key in path:
        tree = tree[key]
    return tree


def numerical_gradient(scenario: dict, inputs: dict, modules: dict, output: str, upstream: str,
                       wrt: dict[str, list], eps: float) -> dict:
    """Central differences of ``L = sum(inputs[upstream] * output)`` w.r.t. each path in ``wrt``.

    ``wrt`` maps an observation name to a path into the inputs (``["params", "Wlayer1"]``).
    """
    weights = np.asarray(inputs[upstream], dtype=float)

    def loss(current_inputs):
        ns = run_steps(scenario["steps"], copy.deepcopy(current_inputs), modules)
        value = eval(compile(output, "<output>", "eval"), ns)  # noqa: S307
        return float(np.sum(weights * np.asarray(value, dtype=float)))

    grads = {}
    for name, path in wrt.items():
        work = copy.deepcopy(inputs)
        target = _get_path(work, path)
        grad = np.zeros(target.shape, dtype=float)
        flat_target, flat_grad = target.reshape(-1), grad.reshape(-1)
        for i in range(flat_target.size):
            original = flat_target[i]
            flat_target[i] = original + eps
            plus = loss(work)
            flat_target[i] = original - eps
            minus = loss(work)
            flat_target[i] = original
            flat_grad[i] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads
