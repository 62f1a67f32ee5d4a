"""``evaluate``: the judge measures what the student's code produced (trained weights, a script's results).

The student's probe runs first (e.g. a training script) and returns observations. An optional
``then`` stage runs in the *trusted* reference worker with those observations as inputs (e.g. the
reference forward pass over the student's trained weights), so no number the student's process
reports is taken on trust. Then each threshold is an expression over everything observed, with
full credit at ``at_least``/``at_most`` and linear partial credit down to ``zero_at``.
"""
from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..rubric import expr
from ..rubric.probe import Expression, InputSpec, Steps, draw_inputs, modules_used, names_used
from ..worker.protocol import ObservedError
from .base import Attachment, Outcome, ProbeCheck, ProbeParams, failed_reply, with_notes


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, InputSpec] = Field(
        default_factory=dict, description="trusted-only inputs (held-out data and labels): never sent "
                                          "to the sandbox")
    steps: Steps
    observe: dict[str, Expression]
    shapes: dict[str, list[int | None]] = Field(
        default_factory=dict, description="the shape each student observation must have before the "
                                          "reference touches it (null: any size on that axis); axes of "
                                          "size 1 aside, another shape is refused with its reason")
    max_mb: float = Field(64, gt=0, description="the most the student's observations may hold, in MB, "
                                                "before the reference is run on them")


class Rejected(ValueError):
    """A student's observation the reference will not be run on (a wrong shape, too large)."""


def conform(values: dict, stage: Stage) -> dict:
    """The student's observations checked against the stage's shapes and size cap, reshaped to the
    declared shapes (a bias of shape (1, 64) stands for (64,)). The reference runs outside the
    sandbox: a (1000, 1, 64) bias would broadcast there to gigabytes."""
    out = dict(values)
    for name, expected in stage.shapes.items():
        if name not in out:
            continue
        try:
            array = np.asarray(out[name], dtype=float)
        except (TypeError, ValueError):
            raise Rejected(f"{name} is not an array of numbers") from None
        want = [n for n in expected if n != 1]
        have = [n for n in array.shape if n != 1]
        if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
            shown = tuple("any" if n is None else n for n in expected)
            raise Rejected(f"{name} has shape {array.shape}, expected {shown}")
        sizes = iter(have)
        out[name] = array.reshape([1 if n == 1 else next(sizes) for n in expected])
    total = sum(np.asarray(v).nbytes for v in out.values() if isinstance(v, np.ndarray))
    if total > stage.max_mb * 2**20:
        raise Rejected(f"the results hold {total / 2**20:.0f} MB, more than the {stage.max_mb:g} MB the "
                       "judge evaluates")
    return out


class Bounds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_least: float | None = None
    at_most: float | None = None
    zero_at: float | None = Field(None, description="value earning nothing; linear credit in between")

    @model_validator(mode="after")
    def _bounds(self):
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self


class Threshold(Bounds):
    value: Expression = Field(description="expression over inputs, student and reference observations")
    label: str = ""
    dataset: str | None = Field(None, description="the dataset the value is measured on, when the bar "
                                                  "depends on which copy is installed")
    synthetic: Bounds | None = Field(None, description="the bar when that dataset is the synthetic "
                                                       "stand-in (calibrated on it), not the real one")

    def for_origin(self, origin: str | None) -> "Threshold":
        """These bounds, or the synthetic ones when the dataset installed is synthetic."""
        if origin == "synthetic" and self.synthetic is not None:
            return self.model_copy(update=self.synthetic.model_dump())
        return self

    def credit(self, x: float) -> float:
        if math.isnan(x):
            return 0.0
        good = self.at_least if self.at_least is not None else self.at_most
        better = (x >= good) if self.at_least is not None else (x <= good)
        if better:
            return 1.0
        if self.zero_at is None or self.zero_at == good:
            return 0.0
        return float(min(1.0, max(0.0, (x - self.zero_at) / (good - self.zero_at))))

    def requirement(self) -> str:
        return f"at least {self.at_least:g}" if self.at_least is not None else f"at most {self.at_most:g}"


class BoxDrawing(BaseModel):
    """Draw the student's boxes on the image they were found in, for the report (OCR's findLetters
    on the course's photos). Only the student's own boxes are drawn: never the judge's truth."""

    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="name of the image (an input)")
    boxes: str = Field(description="name of the observed boxes, (y1, x1, y2, x2) rows")
    caption: str = ""


class Fallback(BaseModel):
    """What is graded when the probe's script runs out of time or memory: what the course's own flow
    would use, the file the student handed in (``load_pickle(handed_in('q3_weights.pickle'))``)."""

    model_config = ConfigDict(extra="forbid")
    steps: Steps
    note: str = Field(description="what the report says it graded instead")


class Params(ProbeParams):
    kind: Literal["evaluate"]
    otherwise: Fallback | None = Field(None, description="steps observed instead (the probe's observe) when "
                                                         "the probe ran out of time or memory")
    then: Stage | None = Field(None, description="run on the reference with the observations as inputs")
    thresholds: dict[str, Threshold] = Field(min_length=1)
    cases: int = 1
    draw: BoxDrawing | None = Field(None, description="attach the student's boxes drawn on the image")


class Evaluate(ProbeCheck):
    Params = Params
    needs_reference = False

    def fallback(self, params, case) -> tuple[dict, str] | None:
        if params.otherwise is None:
            return None
        return {"steps": params.otherwise.steps, "observe": params.probe.observe}, params.otherwise.note

    def reference_request(self, params, case, student, ctx):
        if params.then is None or not student.ok or not isinstance(student.value, dict):
            return None
        texts = params.then.steps + list(params.then.observe.values())
        wanted = names_used(texts)  # only what the reference's steps read travels to it
        try:
            observed = conform({k: v for k, v in student.value.items() if k in wanted}, params.then)
        except Rejected as exc:
            case.extra["rejected"] = str(exc)
            return None
        header = {"op": "run", "scenario": {"steps": params.then.steps, "observe": params.then.observe}}
        trusted = draw_inputs(params.then.inputs, case.dims, ctx.rng_for(params, 20_000))
        case.extra["trusted"] = trusted
        inputs = {k: v for k, v in case.inputs.items() if k in wanted}
        return header, {**inputs, **observed, **trusted}, modules_used(texts, set(ctx.rubric.files))

    def judge(self, params, case, student, reference, ctx):
        if not student.ok:
            return failed_reply(params, case, student)
        names = {**case.inputs, **student.value}
        missing = {k: v for k, v in student.value.items() if isinstance(v, ObservedError)}
        if missing:
            listed = "; ".join(f"{params.probe.observe[k]} ({v})" for k, v in missing.items())
            return with_notes(Outcome(0.0, f"{case.label}: could not read {listed}"), student)
        if params.then is not None:
            if "rejected" in case.extra:
                return with_notes(Outcome(0.0, f"{case.label}: not evaluated: {case.extra['rejected']}"), student)
            if reference is None or not reference.ok:
                # the judge's own failure on arrays that passed the checks above: never the student's crash
                why = reference.describe() if reference else "no answer"
                return Outcome(0.0, f"{case.label}: the judge could not evaluate these results (its reference "
                                    f"{why}); a TA grades this part", pending=True)
            names.update(case.extra.get("trusted", {}))
            names.update(reference.value)
        credits, problems = [], []
        for key, rule in params.thresholds.items():
            rule = rule.for_origin(dataset_origin(rule.dataset))
            try:
                x = float(expr.evaluate(rule.value, names))
            except Exception as exc:  # noqa: BLE001 - odd shapes or types from the student's results
                credits.append(0.0)
                problems.append(f"{rule.label or key}: could not be computed ({type(exc).__name__}: {exc})")
                continue
            credit = rule.credit(x)
            credits.append(credit)
            if credit < 1.0:
                problems.append(f"{rule.label or key} is {x:.4g}, needs {rule.requirement()}")
        score = sum(credits) / len(credits)
        message = f"{case.label}: " + "; ".join(problems) if problems else ""
        attachments = [a for a in [boxes_figure(params.draw, names)] if a] if params.draw else []
        return with_notes(Outcome(score, message, attachments=attachments), student)


MAX_DRAWN_SIDE = 1400
MAX_DRAWN_BOXES = 2000


def boxes_figure(draw: BoxDrawing, names: dict) -> Attachment | None:
    """A PNG of the image with the student's boxes in red; None when they cannot be drawn."""
    from PIL import Image, ImageDraw

    try:
        image = np.asarray(names[draw.image], dtype=float)
        boxes = np.asarray(names[draw.boxes], dtype=float).reshape(-1, 4)[:MAX_DRAWN_BOXES]
    except (KeyError, TypeError, ValueError):
        return None
    if image.ndim not in (2, 3) or not np.all(np.isfinite(boxes)):
        return None
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).convert("RGB")
    scale = min(1.0, MAX_DRAWN_SIDE / max(picture.size))
    if scale < 1.0:
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    pen = ImageDraw.Draw(picture)
    width = max(2, round(3 * scale))
    for y1, x1, y2, x2 in boxes * scale:
        pen.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=(220, 30, 30), width=width)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    caption = draw.caption or f"the {len(boxes)} boxes found, drawn on the image"
    return Attachment("boxes.png", buffer.getvalue(), caption)


def dataset_origin(name: str | None) -> str | None:
    """"real" or "synthetic": which copy of a dataset the grader has (None when not asked)."""
    if name is None:
        return None
    from ..data import resolve

    return resolve(name).origin


KIND = Evaluate()
