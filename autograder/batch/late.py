"""The rubric's late policy applied to a submission time: the factor, and a line that explains it."""
from __future__ import annotations

from dataclasses import dataclass

from ..rubric.schema import LatePolicy
from .timestamps import SubmissionTime


@dataclass(frozen=True)
class Lateness:
    factor: float
    hours_late: float | None  # None: no policy or no time known
    submitted_at: str
    source: str
    note: str

    def penalty(self, total: float) -> float:
        return round(total * (1 - self.factor), 4)

    def final(self, total: float) -> float:
        return round(total * self.factor, 4)


def lateness(policy: LatePolicy | None, time: SubmissionTime) -> Lateness:
    submitted = time.when.isoformat() if time.when else ""
    if policy is None:
        return Lateness(1.0, None, submitted, time.source, _join(time.note, "the rubric has no late policy"))
    if time.when is None:
        return Lateness(1.0, None, submitted, time.source, time.note)
    hours = policy.hours_late(time.when)
    factor = policy.factor(time.when)
    if hours <= 0:
        verdict = "on time"
    elif factor == 0:
        verdict = f"{hours:.1f} h late: past the last late tier, no marks"
    else:
        verdict = f"{hours:.1f} h late: marks x {factor:g}"
    return Lateness(factor, round(hours, 3), submitted, time.source, _join(time.note, verdict))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
