"""``property``: structural facts with no single right answer (a random split covers every example once)."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from .base import Outcome, ProbeCheck, ProbeParams, failed_reply
from .compare import _numeric


def batches_partition(batches, x, y, batch_size) -> str | None:
    """Every (x, y) pair lands in exactly one batch, pairs stay together, batches have the size asked."""
    if not isinstance(batches, (list, tuple)):
        return f"expected a list of (batch_x, batch_y) pairs, got {type(batches).__name__}"
    if not batches:
        return "returned no batches (an empty list)"
    seen = []
    n = len(x)
    for i, batch in enumerate(batches):
        if not isinstance(batch, (list, tuple)) or len(batch) != 2:
            return f"batch {i} is not a (batch_x, batch_y) pair"
        bx, by = _numeric(batch[0]), _numeric(batch[1])
        if bx is None or by is None or bx.ndim != 2 or len(bx) != len(by):
            return f"batch {i} does not hold matching 2-D arrays"
        ids = np.rint(bx[:, 0]).astype(int)
        if ((ids < 0) | (ids >= n)).any() or not np.allclose(bx, x[ids]):
            return f"batch {i} holds rows that are not examples of x"
        if by.shape[1:] != y.shape[1:] or not np.allclose(by, y[ids]):
            return f"batch {i}: labels no longer match their examples"
        seen.extend(ids.tolist())
    counts = np.bincount(seen, minlength=n)
    if (counts == 0).any():
        return f"{int((counts == 0).sum())} of {n} examples are in no batch"
    if (counts > 1).any():
        return f"{int((counts > 1).sum())} examples appear in more than one batch"
    sizes = [len(b[0]) for b in batches]
    expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if sorted(sizes) != sorted(expected):
        return f"batch sizes {sizes} for {n} examples and batch size {batch_size}"
    return None


def batches_shuffled(batches, x, y, batch_size) -> str | None:
    """The split is random: examples do not come back in their original order."""
    try:
        order = np.concatenate([np.rint(_numeric(b[0])[:, 0]) for b in batches])
    except (TypeError, IndexError, ValueError):
        return "could not read the batches"
    if np.array_equal(order, np.arange(len(order))):
        return "the examples come back in their original order: shuffle before splitting"
    return None


PROPERTIES = {f.__name__: f for f in (batches_partition, batches_shuffled)}


class Params(ProbeParams):
    kind: Literal["property"]
    property: Literal["batches_partition", "batches_shuffled"]
    args: dict[str, str] = Field(description="property argument -> observation or input name")


class Property(ProbeCheck):
    Params = Params
    needs_reference = False

    def judge(self, params, case, student, reference, ctx):
        if not student.ok:
            return failed_reply(params, case, student)
        names = {**case.inputs, **student.value}
        problem = PROPERTIES[params.property](**{arg: names[src] for arg, src in params.args.items()})
        return Outcome(0.0, f"{case.label}: {problem}") if problem else Outcome(1.0)


KIND = Property()
