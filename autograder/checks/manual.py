"""``manual``: theory and write-up items a TA grades; listed with their points, scored later."""
from __future__ import annotations

from typing import Literal

from .base import CheckKind, CheckParams, Outcome


class Params(CheckParams):
    kind: Literal["manual"]
    instructions: str = ""


class Manual(CheckKind):
    Params = Params
    ta_graded = True
    uses_probe = False

    def evaluate(self, params, ctx):
        return [Outcome(0.0, params.instructions or "graded by a TA", pending=True)]


KIND = Manual()
