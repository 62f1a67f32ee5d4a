"""What every check kind shares: its parameters model, cases, outcomes and the probe plan.

A check kind is one module in this package with a ``Params`` pydantic model (its rubric keys,
``kind: Literal[...]`` first) and a ``KIND`` object implementing :class:`CheckKind`. Probe-based
kinds inherit :class:`ProbeCheck`: ``plan`` draws the cases (the inputs sent to the sandbox and
to the reference), ``judge`` turns the two replies into an :class:`Outcome`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..rubric.probe import Probe, draw_dims, draw_inputs, modules_used

if TYPE_CHECKING:
    from ..grading import GradingContext
    from ..sandbox.process import Reply


class CheckParams(BaseModel):
    """Keys every check accepts."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", description="a short label shown in feedback")
    weight: float = Field(1.0, gt=0, description="share of the question's points")
    visibility: Literal["public", "hidden"] | None = Field(
        None, description="hidden: feedback never shows expected values (default: the question's)")
    missing: Literal["fails", "ta"] = Field(
        "fails", description="when a file the check needs was not handed in: the check fails, or the "
                             "TA grades it from the write-up (answers a student may give either way)")
    needs_data: list[str] = Field(
        default_factory=list, description="datasets an instructor may not have installed (the course's "
                                          "own photos): without them the check is not run, not failed")


class ProbeParams(CheckParams):
    probe: Probe
    cases: int = Field(3, ge=1, le=50, description="random draws of the inputs")
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-8, ge=0)


@dataclass
class Case:
    label: str
    dims: dict
    inputs: dict
    student: dict | None = None     # request header for the sandboxed worker
    reference: dict | None = None   # request header for the trusted reference worker
    extra: dict = field(default_factory=dict)


@dataclass
class Attachment:
    """A file shown with the grade (a figure the student's code drew), e.g. for the TA."""

    name: str
    data: bytes
    caption: str = ""


@dataclass
class Outcome:
    """One case's verdict; ``score`` is the fraction earned (partial credit within a case)."""

    score: float
    message: str = ""
    pending: bool = False  # manual: a TA decides
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.score >= 1.0


class CheckKind:
    """Interface of a check kind. Static kinds (no sandbox) override ``evaluate`` only."""

    Params: type[CheckParams]
    uses_probe = True
    ta_graded = False  # its points are always a TA's (figures, manual), whatever the code does
    deferred = False   # judged after every other question of the grade (it weighs what they ran)
    judge_imports: tuple[str, ...] = ()  # slow imports its judge needs: made while the grader starts up

    def plan(self, params, ctx: "GradingContext") -> list[Case]:
        raise NotImplementedError

    def judge(self, params, case: Case, student: "Reply", reference: "Reply | None",
              ctx: "GradingContext") -> Outcome:
        raise NotImplementedError

    def evaluate(self, params, ctx: "GradingContext") -> list[Outcome]:
        raise NotImplementedError

    def missing(self, params, message: str) -> Outcome:
        """The verdict when a file the check needs was not handed in."""
        if params.missing == "ta":
            return Outcome(0.0, f"{message}: graded by a TA from the write-up", pending=True)
        return Outcome(0.0, message)

    def module_names(self, params, files: set[str]) -> list[str]:
        """The submission files a case needs loaded in the worker."""
        return params.probe.module_names(files)

    def fallback(self, params, case: Case) -> tuple[dict, str] | None:
        """A scenario to observe instead when the case's own ran out of time or memory, and what the
        report says of it; or None."""
        return None

    def reference_request(self, params, case: Case, student: "Reply",
                          ctx: "GradingContext") -> tuple[dict, dict, list[str]] | None:
        """What to ask the reference worker once the student's reply is known: header, inputs, files."""
        if case.reference is None:
            return None
        scenario = case.reference["scenario"]
        texts = scenario["steps"] + list(scenario["observe"].values())
        texts += [case.reference["numgrad"]["output"]] if "numgrad" in case.reference else []
        return case.reference, case.inputs, modules_used(texts, set(ctx.rubric.files))


class ProbeCheck(CheckKind):
    """A kind that runs ``params.probe`` on the student's code and, if ``needs_reference``, on the reference."""

    needs_reference = True

    def plan(self, params: ProbeParams, ctx: "GradingContext") -> list[Case]:
        cases = []
        for i in range(params.cases):
            rng = ctx.rng_for(params, i)
            dims = draw_dims(params.probe.dims, rng)
            inputs = draw_inputs(params.probe.inputs, dims, rng)
            label = f"case {i + 1}" + (f" ({', '.join(f'{k}={v}' for k, v in dims.items())})" if dims else "")
            request = {"op": "run", "scenario": {"steps": params.probe.steps,
                                                 "observe": params.probe.observe}}
            cases.append(Case(label, dims, inputs, student=request,
                              reference=request if self.needs_reference else None))
        return cases


def call_text(params: ProbeParams) -> str:
    """The probe's last call, for messages: ``nn.softmax(x)``."""
    if not params.probe.steps:
        return ", ".join(params.probe.observe.values())
    step = params.probe.steps[-1]
    return step.split("=", 1)[1].strip() if "=" in step.split("(")[0] else step


def failed_reply(params: ProbeParams, case: Case, reply: "Reply") -> Outcome:
    return with_notes(Outcome(0.0, f"{case.label}: {call_text(params)} {reply.describe()}"), reply)


def with_notes(outcome: Outcome, reply: "Reply") -> Outcome:
    """Add why observations may be missing (a script that crashed part-way) to a failure message."""
    if outcome.message and getattr(reply, "notes", None):
        outcome.message += f" [{reply.note_text()}]"
    return outcome


def excerpt(value, limit: int = 6) -> str:
    """A short, readable rendering of an input or output for feedback."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        body = np.array2string(flat[:limit], precision=4, separator=", ")
        more = f" ... ({value.size} values, shape {value.shape})" if value.size > limit else ""
        return body + more
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."
