"""``value``: the student's function gives the reference's outputs on random inputs (allclose)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..rubric import expr
from .base import Outcome, ProbeCheck, ProbeParams, failed_reply
from .compare import compare


class Params(ProbeParams):
    kind: Literal["value"]
    alternatives: dict[str, list[str]] = Field(
        default_factory=dict,
        description="observation -> other accepted answers, as expressions over the reference's "
                    "observations and the inputs (e.g. a mean instead of a summed loss)")


class ReferenceFailed(RuntimeError):
    """The reference solution itself failed: a rubric or solution bug, never the student's fault."""


def expected_of(reference) -> dict:
    if reference is None or not reference.ok:
        raise ReferenceFailed(reference.describe() if reference else "no reference reply")
    for key, value in reference.value.items():
        if type(value).__name__ == "ObservedError":
            raise ReferenceFailed(f"observation {key!r} failed on the reference: {value!r}")
    return reference.value


def judge_observations(params, case, observed: dict, expected: dict, visible: bool,
                       describe_missing=None) -> Outcome:
    """Compare every observation; the case's score is the share that matched."""
    problems = []
    for key, exp in expected.items():
        obs = observed.get(key)
        if describe_missing and type(obs).__name__ == "ObservedError":
            problems.append(describe_missing(key, obs))
            continue
        mismatch = compare(obs, exp, params.rtol, params.atol, path=key)
        for alternative in getattr(params, "alternatives", {}).get(key, []) if mismatch else []:
            alt_value = expr.evaluate(alternative, {**case.inputs, **expected})
            if compare(obs, alt_value, params.rtol, params.atol, path=key) is None:
                mismatch = None
                break
        if mismatch:
            problems.append(mismatch.text(visible))
    score = 1.0 - len(problems) / max(len(expected), 1)
    return Outcome(score, f"{case.label}: " + "; ".join(problems) if problems else "")


class ReferenceCheck(ProbeCheck):
    """A kind that compares the student's observations with the reference's: subclasses ``compare``."""

    def judge(self, params, case, student, reference, ctx):
        expected = expected_of(reference)  # first: a failing reference is a rubric bug, not a 0
        if not student.ok:
            return failed_reply(params, case, student)
        return self.compare(params, case, student.value, expected, ctx)

    def compare(self, params, case, observed: dict, expected: dict, ctx) -> Outcome:
        return judge_observations(params, case, observed, expected, ctx.visible)


class Value(ReferenceCheck):
    Params = Params


KIND = Value()
