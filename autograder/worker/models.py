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


def find_model(where, *names: str):
    """The model among ``where``'s globals: the first of ``names`` that is an ``nn.Module``, else a
    conventional name (model, net, ...), else the one with the most parameters (the network, not
    its loss function or a layer kept in a variable)."""
    found = _modules_in(where)
    for name in (*names, *PREFERRED_NAMES):
        if name in found:
            return found[name]
    if not found:
        raise LookupError("no torch.nn.Module among the script's names; keep the trained model in a "
                          "variable (e.g. model = Net())")
    return max(found.values(), key=param_count)


def param_count(model) -> int:
    """Number of parameters, as the handouts count them (weights and biases, trainable or not)."""
    return int(sum(p.numel() for p in model.parameters()))


def param_shapes(model) -> list[list[int]]:
    """Shapes of the parameters in registration order (784-200-10: [[200, 784], [200], [10, 200], [10]])."""
    return [list(p.shape) for p in model.parameters()]


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


BUILTINS = {"find_model": find_model, "param_count": param_count, "param_shapes": param_shapes,
            "predict": predict}
