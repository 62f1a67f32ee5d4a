"""``side_effect``: a function stores what later steps need (``forward`` fills ``params['cache_…']``).

All or nothing per case: every observation (stored values, and values that must stay unchanged)
has to match the reference.
"""
from __future__ import annotations

from typing import Literal

from .base import ProbeCheck, ProbeParams, call_text, failed_reply
from .value import expected_of, judge_observations


class Params(ProbeParams):
    kind: Literal["side_effect"]


class SideEffect(ProbeCheck):
    Params = Params

    def judge(self, params, case, student, reference, ctx):
        expected = expected_of(reference)
        if not student.ok:
            return failed_reply(params, case, student)

        def missing(key, error):
            return (f"after {call_text(params)}, {params.probe.observe[key]} was not there "
                    f"({error.type_name}: {error.message}); the function must store it")

        outcome = judge_observations(params, case, student.value, expected, ctx.visible, missing)
        # a contract holds or it does not: untouched weights alone earn nothing
        outcome.score = 1.0 if outcome.passed else 0.0
        return outcome


KIND = SideEffect()
