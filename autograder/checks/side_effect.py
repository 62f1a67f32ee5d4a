"""``side_effect``: a function stores what later steps need (``forward`` fills ``params['cache_…']``).

All or nothing per case: every observation (stored values, and values that must stay unchanged)
has to match the reference.
"""
from __future__ import annotations

from typing import Literal

from .base import ProbeParams, call_text
from .value import ReferenceCheck, judge_observations


class Params(ProbeParams):
    kind: Literal["side_effect"]


class SideEffect(ReferenceCheck):
    Params = Params

    def compare(self, params, case, observed, expected, ctx):
        def missing(key, error):
            return (f"after {call_text(params)}, {params.probe.observe[key]} was not there "
                    f"({error.type_name}: {error.message}); the function must store it")

        outcome = judge_observations(params, case, observed, expected, ctx.visible, missing)
        # a contract holds or it does not: untouched weights alone earn nothing
        outcome.score = 1.0 if outcome.passed else 0.0
        return outcome


KIND = SideEffect()
