"""``gradient``: analytic gradients from the student's backward pass match central differences.

The numerical gradient is taken by the trusted reference worker through the *reference* forward
pass, of ``L = sum(upstream * output)``, so a student's wrong forward cannot hide a wrong backward.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..rubric.probe import Expression, Steps
from .base import ProbeParams
from .value import ReferenceCheck


class Function(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: Steps
    output: Expression


class Params(ProbeParams):
    kind: Literal["gradient"]
    function: Function = Field(description="the forward computation differentiated numerically")
    upstream: str = Field(description="input holding dL/d(output)")
    wrt: dict[str, str] = Field(description="observation -> input path, e.g. grad_W: params.Wlayer1")
    eps: float = Field(1e-6, gt=0)
    rtol: float = 1e-4
    atol: float = 1e-6


class Gradient(ReferenceCheck):
    Params = Params

    def plan(self, params, ctx):
        cases = super().plan(params, ctx)
        numgrad = {"op": "numgrad", "scenario": {"steps": params.function.steps, "observe": {}},
                   "numgrad": {"output": params.function.output, "upstream": params.upstream,
                               "wrt": {k: v.split(".") for k, v in params.wrt.items()},
                               "eps": params.eps}}
        for case in cases:
            case.reference = numgrad
        return cases

    def compare(self, params, case, observed, expected, ctx):
        outcome = super().compare(params, case, observed, expected, ctx)
        if outcome.message:
            outcome.message += " (compared with central differences of the forward pass)"
        return outcome


KIND = Gradient()
