"""``figures``: the plots a script draws, checked to be real images and attached for the TA.

Plots (learning curves, weight images, a confusion matrix, reconstructions) are judged by people,
so the points stay with the TA: the check makes sure there is something to judge. The student's
script runs in the sandbox (if no earlier question ran it); what it drew with ``plt.show()`` or
``savefig`` comes back as PNG bytes with a summary (:mod:`autograder.worker.figures`). The judge
re-opens each PNG itself, keeps the ones that fit ``select`` (e.g. a 36×36 image for a confusion
matrix), and attaches them. The points always stay with the TA (the plots belong in the write-up
too); a script that draws nothing valid, or cannot run, is said so in the TA's notes.
"""
from __future__ import annotations

import io
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .base import Attachment, Case, CheckParams, Outcome, ProbeCheck, with_notes


class Select(BaseModel):
    """What the wanted figure looks like; a figure must match every key given."""

    model_config = ConfigDict(extra="forbid")
    image_shape: list[int] | None = Field(None, description="some image in it has this [rows, cols]")
    min_images: int = Field(0, ge=0, description="at least this many images (imshow) in all")
    min_axes: int = Field(0, ge=0)
    lines: bool = Field(False, description="has a curve (a line with two or more points)")

    def matches(self, summary: dict) -> bool:
        images = [list(s) for s in summary.get("images", [])]
        return ((self.image_shape is None or list(self.image_shape) in images)
                and len(images) >= self.min_images and summary.get("axes", 0) >= self.min_axes
                and (not self.lines or summary.get("lines", 0) > 0))


class Params(CheckParams):
    kind: Literal["figures"]
    source: str = Field(description="key of the script (in files) whose figures are wanted")
    what: str = Field(description="the figure asked for, for feedback: 'the confusion matrix'")
    select: Select = Field(default_factory=Select)
    instructions: str = Field("", description="what the TA should look for")


class Figures(ProbeCheck):
    Params = Params
    ta_graded = True
    needs_reference = False

    def module_names(self, params, files):
        return [params.source]

    def missing(self, params, message):
        return Outcome(0.0, f"{message}: grade {params.what} from the write-up", pending=True)

    def plan(self, params, ctx):
        return [Case("figures", {}, {}, student={"op": "figures", "source": params.source})]

    def judge(self, params, case, student, reference, ctx):
        script = ctx.rubric.files[params.source].path
        if not student.ok:
            return failed_reply_for(params, case, student, script)
        shown = [(f, png) for f in student.value.get("figures", []) if (png := valid_png(f.get("png")))]
        if not shown:
            return with_notes(Outcome(0.0, f"{script} drew no figure (plt.show() or savefig) for {params.what}: "
                                           "grade it from the write-up", pending=True), student)
        wanted = [(f, png) for f, png in shown if params.select.matches(f)]
        note = ""
        if not wanted:
            wanted = shown
            note = f"; none looked like {params.what}, so all {len(shown)} are attached"
        attachments = [Attachment(f"{i + 1}.png", png, f"{script}, figure {i + 1} ({f.get('event')})"
                                  + (f": {f['title']}" if f.get("title") else ""))
                       for i, (f, png) in enumerate(wanted)]
        message = (f"{len(wanted)} figure(s) from {script} attached for the TA{note}"
                   + (f". {params.instructions}" if params.instructions else ""))
        return Outcome(0.0, message, pending=True, attachments=attachments)


def failed_reply_for(params, case, student, script: str) -> Outcome:
    return with_notes(Outcome(0.0, f"{script} could not be run to draw {params.what} ({student.describe()}): "
                                   "grade it from the write-up", pending=True), student)


def valid_png(data) -> bytes | None:
    """The bytes, if they decode to a non-blank image of a sensible size; else ``None``."""
    from PIL import Image

    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
        return None
    raw = data.tobytes()
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format != "PNG" or not (16 <= img.width <= 8000 and 16 <= img.height <= 8000):
                return None
            pixels = np.asarray(img.convert("L"))
    except Exception:  # noqa: BLE001 - anything undecodable is not a figure
        return None
    return raw if pixels.std() > 0 else None


KIND = Figures()
