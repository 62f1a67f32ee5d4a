"""``stability``: no NaN or inf on extreme inputs (softmax of ``[1000, 1001, 1002]``), then ``value``."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from .base import Outcome, ProbeParams, call_text, excerpt
from .compare import _numeric
from .value import ReferenceCheck


class Params(ProbeParams):
    kind: Literal["stability"]
    input: str = Field(description="the input whose offending row is quoted in feedback")
    cases: int = 1


class Stability(ReferenceCheck):
    Params = Params

    def compare(self, params, case, observed, expected, ctx):
        for key, value in observed.items():
            arr = _numeric(value)
            if arr is None or np.isfinite(arr).all():
                continue
            source = np.asarray(case.inputs[params.input])
            row = source[0]
            if arr.ndim >= 1 and arr.shape[0] == source.shape[0]:
                bad_rows = np.where(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))[0]
                row = source[bad_rows[0]] if len(bad_rows) else row
            return Outcome(0.0, f"{case.label}: {call_text(params)} returned NaN or inf for inputs with "
                                f"large values, e.g. {excerpt(row)} (subtract the row maximum first?)")
        return super().compare(params, case, observed, expected, ctx)


KIND = Stability()
