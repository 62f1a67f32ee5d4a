"""Probe builtins for a student's PyTorch model: find it, run it on held-out images, count it.

Students name their networks freely (``model``, ``net``, ``cnn``, ``Net()`` assigned to anything),
build them inside ``main()`` or a training function without any global name, and feed them images
either flat (N, 784) or as (N, 1, 28, 28). The probe finds the trained ``nn.Module`` among a
script's or notebook's globals *and* the modules it built while it ran (:mod:`.instances`), and
adapts the input layout the way the student's own training loop must have; the judge, outside,
turns the returned scores into an accuracy against labels the sandbox never sees. torch is imported
lazily: numpy-only rubrics never pay for it.
"""
from __future__ import annotations

import numpy as np

from . import instances, watch

PREFERRED_NAMES = ("model", "net", "network", "cnn", "classifier", "clf", "mlp")


def _named(where, kind) -> dict:
    items = where.items() if isinstance(where, dict) else vars(where).items()
    return {k: v for k, v in items if isinstance(v, kind) and not k.startswith("_")}


def _modules_in(where) -> dict:
    import torch

    return _named(where, torch.nn.Module)


def _contains(model, type_name: str) -> bool:
    return any(type(m).__name__ == type_name for m in model.modules())


def candidate_models(where) -> list[tuple[object, str | None]]:
    """``(model, global name or None)`` for every model a script or notebook has: its global
    modules and the modules it built or called while it ran, outermost only (a layer of a
    candidate, or a loss function when there are networks, is not one)."""
    pool: dict[int, list] = {}
    for name, module in _modules_in(where).items():
        pool.setdefault(id(module), [module, name])
    for module in instances.models_of(instances.source_of(where)):
        pool.setdefault(id(module), [module, None])
    inner = set()
    for module, _ in pool.values():
        inner.update(id(sub) for sub in module.modules() if sub is not module)
    outer = [(m, n) for m, n in pool.values() if id(m) not in inner]
    with_parameters = [(m, n) for m, n in outer if param_count(m) > 0]
    return with_parameters or outer


def _shape_key(shape) -> tuple:
    """A dense weight counts the same either way round ((in, out) for ``X.mm(W)``, (out, in) for nn.Linear)."""
    shape = tuple(int(d) for d in shape)
    return tuple(sorted(shape)) if len(shape) == 2 else shape


def has_shapes(model, shapes) -> bool:
    """Whether every shape of ``shapes`` is among the model's parameter shapes (each used once)."""
    pool = [_shape_key(p.shape) for p in model.parameters()]
    try:
        for key in map(_shape_key, shapes):
            pool.remove(key)
    except ValueError:
        return False
    return True


def _rank(entry) -> tuple:
    """Trained first (its parameters changed), then the most training calls, then the first built
    (handout order: 4.v's network before 4.vii's zero-initialised copy), a conventional name,
    the most parameters."""
    model, name = entry
    seen = instances.facts(model)
    created = seen["created"] if seen["created"] is not None else float("inf")
    return (not seen["trained"], -seen["calls"], created, name not in PREFERRED_NAMES, -param_count(model))


def find_model(where, *names: str, like: str | None = None, unlike: str | None = None,
               params: int | list | None = None, shapes: list | None = None):
    """The model a question is about, among ``where``'s globals and the models the script built
    while it ran (:func:`candidate_models`).

    ``like``/``unlike`` keep only models that do (or do not) contain a module of that class, to tell
    two models of one script apart (a fine-tuned ``SqueezeNet`` and a network trained from scratch).
    ``params`` (a count or a list of counts) and ``shapes`` (parameter shapes the model must include,
    dense weights either way round) prefer the models that match: the 784-200-10 network of a
    notebook whose last cells try other sizes. They are a preference, not a filter: with no match
    the choice falls back to every model, and the question's own checks then say what is wrong.
    Then the first of ``names`` that is a global model; else the ranking of :func:`_rank`: the
    trained model, trained longest, built first."""
    found = [(m, n) for m, n in candidate_models(where)
             if (like is None or _contains(m, like)) and (unlike is None or not _contains(m, unlike))]
    if not found:
        which = f" containing a {like}" if like else f" without a {unlike}" if unlike else ""
        raise LookupError(f"no torch.nn.Module{which} was built by the script (or kept among its names)")
    counts = None if params is None else {int(c) for c in (params if isinstance(params, (list, tuple)) else [params])}
    matching = [(m, n) for m, n in found
                if (counts is None or param_count(m) in counts) and (shapes is None or has_shapes(m, shapes))]
    found = matching or found
    for wanted in names:
        for model, name in found:
            if name == wanted:
                return model
    return min(found, key=_rank)[0]


def find_model_with(where, *functions: str):
    """The model (as :func:`find_model` ranks them) whose forward pass calls one of ``functions``
    (a BatchNorm or Dropout variant: ``find_model_with(script, 'batch_norm', 'dropout')``), tried
    on a flat 784 input."""
    probe = np.zeros((2, 784), dtype=np.float32)
    matches = []
    for entry in candidate_models(where):
        try:
            names = call_names(entry[0], probe)
        except Exception:  # noqa: BLE001 - a loss function, a layer, another input size
            continue
        if any(f in names for f in functions):
            matches.append(entry)
    if not matches:
        raise LookupError(f"no model whose forward pass calls {' or '.join(functions)}")
    return min(matches, key=_rank)[0]


class LoaderFacts:
    """A DataLoader the script built and dropped (inside ``main()``), as far as probes ask: its
    length in batches and its dataset's length."""

    def __init__(self, examples: int, batches: int):
        self.dataset = range(int(examples))
        self.batches = int(batches)

    def __len__(self) -> int:
        return self.batches


def find_loader(where, *names: str):
    """The training ``DataLoader``: named first, else the one over the largest dataset among the
    script's globals and the loaders it built while it ran (those it dropped as :class:`LoaderFacts`);
    ``len(loader)`` is then the number of batches in an epoch."""
    from torch.utils.data import DataLoader

    found = _named(where, DataLoader)
    for name in names:
        if name in found:
            return found[name]
    source = instances.source_of(where)
    pool = list({id(v): v for v in [*found.values(), *instances.loaders_of(source)]}.values())
    pool += [LoaderFacts(s["examples"], s["batches"]) for s in instances.loaders_of(source, live=False)]
    if not pool:
        raise LookupError("the script built no torch DataLoader")
    return max(pool, key=lambda loader: len(loader.dataset))


def training_runs(where) -> list[dict]:
    """The distinct training runs while the script or notebook loaded (:func:`instances.runs_of`):
    for counting the settings a search tried, wherever the loop over them is written."""
    return instances.runs_of(instances.source_of(where))


def stepped_optimizers(where) -> list[dict]:
    """Every optimizer that took a step while the script loaded, dead ones included: type, steps,
    the clock of its first and last step, the watched functions running when it first stepped."""
    return instances.optimizers_of(instances.source_of(where), live=False)


RATE_WORDS = ("lr", "eta", "learning", "rate", "schedule", "decay")


def rate_functions(where, ts) -> dict:
    """The values at ``ts`` of every function of one argument whose name speaks of a learning rate
    (``learning_rate(t)``, ``eta(t)``, ``lr_schedule(t)``), for checking a schedule at several t.
    Other functions are never called: a one-argument ``train(epochs)`` would start training."""
    import inspect

    items = where.items() if isinstance(where, dict) else vars(where).items()
    values = {}
    for name, fn in items:
        if not (inspect.isfunction(fn) and any(w in name.lower() for w in RATE_WORDS)) or len(values) >= 8:
            continue
        try:
            required = [p for p in inspect.signature(fn).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if len(required) != 1:
                continue
            values[name] = [float(fn(t)) for t in ts]
        except Exception:  # noqa: BLE001 - not a schedule after all
            continue
    return values


def param_count(model) -> int:
    """Number of parameters, as the handouts count them (weights and biases, trainable or not)."""
    return int(sum(p.numel() for p in model.parameters()))


def param_shapes(model) -> list[list[int]]:
    """Shapes of the parameters in registration order (784-200-10: [[200, 784], [200], [10, 200], [10]])."""
    return [list(p.shape) for p in model.parameters()]


def count_layers(model, *type_names: str) -> int:
    """How many of the model's submodules are of these classes (by class name, e.g. ``"Conv2d"``):
    whether a "convolutional network" has convolutions, a "fully connected" one none."""
    return sum(type(m).__name__ in type_names for m in model.modules())


def _layouts(x: np.ndarray) -> list[np.ndarray]:
    """The input as given, then flat, then as one-channel square images."""
    flat = x.reshape(len(x), -1)
    side = int(round(flat.shape[1] ** 0.5))
    options = [x, flat]
    if side * side == flat.shape[1]:
        options += [flat.reshape(len(x), 1, side, side), flat.reshape(len(x), side, side)]
    unique, seen = [], set()
    for o in options:
        if o.shape not in seen:
            seen.add(o.shape)
            unique.append(o)
    return unique


def _as_input(model, x: np.ndarray):
    """``x`` as a tensor in the model's dtype and device, in the first layout the model accepts
    (tried on two rows, so a wrong layout costs nothing)."""
    import torch

    try:
        first = next(model.parameters())
        dtype, device = first.dtype, first.device
    except StopIteration:
        dtype, device = torch.float32, torch.device("cpu")
    errors = []
    with torch.no_grad():
        for layout in _layouts(x):
            tensor = torch.as_tensor(np.ascontiguousarray(layout), dtype=dtype, device=device)
            try:
                model(tensor[:2])
            except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                errors.append(f"{tuple(layout.shape[1:])}: {str(exc).splitlines()[0][:120]}")
                continue
            return tensor
    raise ValueError("the model accepted none of the input layouts tried: " + "; ".join(errors))


class _EvalMode:
    """eval() (BatchNorm, Dropout) and no gradients for the duration; the model's mode restored."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        import torch

        self.was_training = self.model.training
        self.model.eval()
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)


def predict(model, x, batch: int = 500) -> np.ndarray:
    """The model's scores (N, classes) on ``x`` in eval mode without gradients, in the first input
    layout the model accepts."""
    import torch

    x = np.asarray(x)
    with _EvalMode(model):
        tensor = _as_input(model, x)
        parts = [model(tensor[i:i + batch]) for i in range(0, len(tensor), batch)]
        scores = torch.cat([p if p.ndim > 1 else p[:, None] for p in parts]).float().cpu().numpy()
    return scores.reshape(len(x), -1)


SETTINGS = {"conv2d": (("stride", 3), ("padding", 4)), "conv1d": (("stride", 3), ("padding", 4)),
            "max_pool2d": (("kernel_size", 1), ("stride", 2)), "avg_pool2d": (("kernel_size", 1), ("stride", 2))}
BOOKKEEPING = ("get", "set", "dim", "size", "numel")


def forward_calls(model, x) -> list[dict]:
    """The torch functions one forward pass calls, in order, with the settings that define an
    architecture: ``[{"name": "conv2d", "stride": [1, 1], "padding": [2, 2]}, {"name": "relu"}, ...]``.

    Recorded with a ``TorchFunctionMode``, so ``F.relu``, ``torch.relu``, ``nn.ReLU()`` and
    ``x.relu()`` all count as ``relu``, however the student wrote the model."""
    from torch.overrides import TorchFunctionMode

    calls: list[dict] = []

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", str(func)).strip("_").removesuffix("_")
            if len(calls) < 10_000 and not name.startswith(BOOKKEEPING):
                entry = {"name": name}
                for key, pos in SETTINGS.get(name, ()):
                    value = kwargs.get(key, args[pos] if len(args) > pos else None)
                    entry[key] = _symmetric(value)
                calls.append(entry)
            return func(*args, **kwargs)

    with _EvalMode(model):
        tensor = _as_input(model, np.asarray(x))
        with Recorder():
            model(tensor)
    return calls


def _symmetric(value):
    """(2, 2) and [2, 2] read as 2, as the handouts state a stride or padding."""
    if isinstance(value, (tuple, list)):
        value = list(value)
        return value[0] if value and all(v == value[0] for v in value) else value
    return value


def conv_settings(model, x) -> list[list]:
    """[stride, padding] of every convolution in one forward pass, in order."""
    return [[c.get("stride"), c.get("padding")] for c in forward_calls(model, x) if c["name"].startswith("conv")]


def call_names(model, x) -> list[str]:
    """Just the names of :func:`forward_calls` (``['conv2d', 'relu', ...]``)."""
    return [c["name"] for c in forward_calls(model, x)]


def find_optimizer(where, *names: str):
    """The ``torch.optim.Optimizer`` a script trained with: named first, else the one that took the
    most steps while the script ran, among its globals, the optimizers still alive and those it
    dropped (ties: a conventional name, then the last built). A dropped one (built inside
    ``main()``, or rebound by a later experiment) is given as its summary, a dict
    :func:`optimizer_state` reads."""
    import torch

    found = _named(where, torch.optim.Optimizer)
    for name in names:
        if name in found:
            return found[name]
    source = instances.source_of(where)
    pool = {id(v): (instances.optimizer_steps(v), k in ("optimizer", "opt", "optim"), v) for k, v in found.items()}
    for opt in instances.optimizers_of(source):
        pool.setdefault(id(opt), (instances.optimizer_steps(opt), False, opt))
    candidates = list(pool.values())
    alive = {instances.optimizer_serial(c[2]) for c in candidates}
    candidates += [(int(s["steps"]), False, s) for s in instances.optimizers_of(source, live=False)
                   if s["serial"] not in alive]
    if not candidates:
        raise LookupError("no torch.optim optimizer among the script's (or notebook's) names, and none took a step")
    return max(enumerate(candidates), key=lambda t: (t[1][0], t[1][1], t[0]))[1][2]


def optimizer_state(opt) -> dict:
    """What training left in an optimizer: its kind, current learning rate and steps taken (Adam
    counts them per parameter; for one that keeps no count, SGD, the steps seen taken while the
    script ran, else -1). Also reads the summary :func:`find_optimizer` gives for a dropped one."""
    if isinstance(opt, dict):
        return {"type": str(opt["type"]), "lr": float(opt["lr"]), "steps": float(opt["steps"])}
    steps = [float(s["step"]) for s in opt.state.values() if isinstance(s, dict) and "step" in s]
    group = opt.param_groups[0]
    seen = instances.optimizer_steps(opt)
    return {"type": type(opt).__name__, "lr": float(group["lr"]),
            "steps": max(steps) if steps else float(seen) if seen else -1.0}


EVAL_WORDS = ("test", "val", "eval")


def _is_transform(obj) -> bool:
    return callable(obj) and type(obj).__module__.startswith("torchvision.transforms")


def eval_transforms(where) -> list:
    """The image transforms a script evaluates with, most telling first: those of its datasets and
    loaders over a val/test folder, then transforms named like test/val/eval (also in a dict such
    as the fine-tuning tutorial's ``data_transforms['val']``), then any other transform. Loaders the
    script built without keeping them (inside ``main()``) count like its global ones."""
    items = list(where.items() if isinstance(where, dict) else vars(where).items())
    items += [(f"loader{i}", loader) for i, loader in enumerate(instances.loaders_of(instances.source_of(where)))]
    scored = []
    for name, obj in items:
        if name.startswith("_"):
            continue
        dataset = getattr(obj, "dataset", obj)  # a DataLoader's dataset, or the object itself
        transform = getattr(dataset, "transform", None)
        root = str(getattr(dataset, "root", ""))
        if _is_transform(transform):
            scored.append((0 if any(w in root.lower() for w in EVAL_WORDS) else 3, name, transform))
        elif _is_transform(obj):
            scored.append((1 if any(w in name.lower() for w in EVAL_WORDS) else 4, name, obj))
        elif isinstance(obj, dict):
            for key, value in obj.items():
                if _is_transform(value):
                    telling = any(w in str(key).lower() for w in EVAL_WORDS)
                    scored.append((2 if telling else 5, f"{name}[{key!r}]", value))
    unique, seen = [], set()
    for _, _, transform in sorted(scored, key=lambda t: (t[0], t[1])):
        if id(transform) not in seen:
            seen.add(id(transform))
            unique.append(transform)
    return unique


def predict_images(model, images, where, batch: int = 64) -> np.ndarray:
    """The model's scores on RGB images (uint8, N x H x W x 3) passed through the script's own
    evaluation transform (:func:`eval_transforms`): the first transform whose output the model
    accepts is used for all the images."""
    import torch
    from PIL import Image

    transforms = eval_transforms(where)
    if not transforms:
        raise LookupError("no torchvision transform among the script's names; keep the one you "
                          "evaluate with in a variable (e.g. test_transform) or a dataset")
    pictures = [Image.fromarray(np.asarray(im, dtype=np.uint8)) for im in images]
    errors = []
    with _EvalMode(model):
        for transform in transforms:
            try:
                parts = [model(torch.stack([transform(p) for p in pictures[i:i + batch]]))
                         for i in range(0, len(pictures), batch)]
            except (RuntimeError, ValueError, TypeError) as exc:
                errors.append(str(exc).splitlines()[0][:120])
                continue
            return torch.cat(parts).float().cpu().numpy().reshape(len(pictures), -1)
    raise ValueError("the model accepted none of the script's transforms: " + "; ".join(errors))


BUILTINS = {"find_model": find_model, "param_count": param_count, "param_shapes": param_shapes,
            "predict": predict, "forward_calls": forward_calls, "call_names": call_names, "conv_settings": conv_settings,
            "find_optimizer": find_optimizer, "optimizer_state": optimizer_state,
            "find_model_with": find_model_with, "find_loader": find_loader, "rate_functions": rate_functions,
            "count_layers": count_layers, "predict_images": predict_images,
            "training_runs": training_runs, "stepped_optimizers": stepped_optimizers,
            "opened_files": watch.opened_files}
