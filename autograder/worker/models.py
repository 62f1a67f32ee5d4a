"""Probe builtins for a student's PyTorch model: find it, run it on held-out images, count it.

Students name their networks freely (``model``, ``net``, ``cnn``, ``Net()`` assigned to anything)
and feed them images either flat (N, 784) or as (N, 1, 28, 28). The probe finds the trained
``nn.Module`` among a script's or notebook's globals and adapts the input layout the way the
student's own training loop must have; the judge, outside, turns the returned scores into an
accuracy against labels the sandbox never sees. torch is imported lazily: numpy-only rubrics never
pay for it.
"""
from __future__ import annotations

import numpy as np

PREFERRED_NAMES = ("model", "net", "network", "cnn", "classifier", "clf", "mlp")


def _modules_in(where) -> dict:
    import torch

    items = where.items() if isinstance(where, dict) else vars(where).items()
    return {k: v for k, v in items if isinstance(v, torch.nn.Module) and not k.startswith("_")}


def _contains(model, type_name: str) -> bool:
    return any(type(m).__name__ == type_name for m in model.modules())


def find_model(where, *names: str, like: str | None = None, unlike: str | None = None):
    """The model among ``where``'s globals: the first of ``names`` that is an ``nn.Module``, else a
    conventional name (model, net, ...), else the one with the most parameters (the network, not
    its loss function or a layer kept in a variable). ``like``/``unlike`` keep only models that do
    (or do not) contain a module of that class, to tell two models of one script apart (a
    fine-tuned ``SqueezeNet`` and a network trained from scratch)."""
    found = {k: m for k, m in _modules_in(where).items()
             if (like is None or _contains(m, like)) and (unlike is None or not _contains(m, unlike))}
    for name in (*names, *PREFERRED_NAMES):
        if name in found:
            return found[name]
    if not found:
        which = f" containing a {like}" if like else f" without a {unlike}" if unlike else ""
        raise LookupError(f"no torch.nn.Module{which} among the script's names; keep the trained model "
                          "in a variable (e.g. model = Net())")
    return max(found.values(), key=param_count)


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


def predict(model, x, batch: int = 500) -> np.ndarray:
    """The model's scores (N, classes) on ``x`` in eval mode without gradients, in the first input
    layout the model accepts."""
    import torch

    x = np.asarray(x)
    try:
        first = next(model.parameters())
        dtype, device = first.dtype, first.device
    except StopIteration:
        dtype, device = torch.float32, torch.device("cpu")
    was_training = model.training
    model.eval()
    errors = []
    try:
        with torch.no_grad():
            for layout in _layouts(x):
                try:
                    parts = [model(torch.as_tensor(layout[i:i + batch], dtype=dtype, device=device))
                             for i in range(0, len(layout), batch)]
                except (RuntimeError, ValueError, TypeError) as exc:
                    errors.append(f"{tuple(layout.shape[1:])}: {str(exc).splitlines()[0][:120]}")
                    continue
                scores = torch.cat([p if p.ndim > 1 else p[:, None] for p in parts]).float().cpu().numpy()
                return scores.reshape(len(x), -1)
    finally:
        model.train(was_training)
    raise ValueError("the model accepted none of the input layouts tried: " + "; ".join(errors))


EVAL_WORDS = ("test", "val", "eval")


def _is_transform(obj) -> bool:
    return callable(obj) and type(obj).__module__.startswith("torchvision.transforms")


def eval_transforms(where) -> list:
    """The image transforms a script evaluates with, most telling first: those of its datasets and
    loaders over a val/test folder, then transforms named like test/val/eval (also in a dict such
    as the fine-tuning tutorial's ``data_transforms['val']``), then any other transform."""
    items = where.items() if isinstance(where, dict) else vars(where).items()
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
    was_training = model.training
    model.eval()
    errors = []
    try:
        with torch.no_grad():
            for transform in transforms:
                try:
                    parts = [model(torch.stack([transform(p) for p in pictures[i:i + batch]]))
                             for i in range(0, len(pictures), batch)]
                except (RuntimeError, ValueError, TypeError) as exc:
                    errors.append(str(exc).splitlines()[0][:120])
                    continue
                return torch.cat(parts).float().cpu().numpy().reshape(len(pictures), -1)
    finally:
        model.train(was_training)
    raise ValueError("the model accepted none of the script's transforms: " + "; ".join(errors))


BUILTINS = {"find_model": find_model, "param_count": param_count, "param_shapes": param_shapes,
            "predict": predict, "count_layers": count_layers, "predict_images": predict_images}
