"""``statistical``: random draws follow the required distribution (Xavier: range, mean, variance, KS).

Thresholds are wide enough that a correct implementation fails with negligible probability
(``z`` standard errors, and a Kolmogorov-Smirnov p-value floor), yet a wrong range or a shifted
mean on thousands of draws is caught every time.
"""
from __future__ import annotations

import math
from typing import Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..rubric import expr
from .base import Outcome, ProbeCheck, ProbeParams, failed_reply
from .compare import _numeric

Number = Union[float, str]


class Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uniform: tuple[Number, Number] | None = Field(None, description="low, high")
    normal: tuple[Number, Number] | None = Field(None, description="mean, standard deviation")

    @model_validator(mode="after")
    def _one(self):
        if (self.uniform is None) == (self.normal is None):
            raise ValueError("give exactly one of uniform or normal")
        return self


class Params(ProbeParams):
    kind: Literal["statistical"]
    sample: str = Field(description="the observation holding the random draws")
    shape: list[Union[int, str]] | None = None
    distribution: Distribution
    z: float = Field(6.0, gt=0, description="standard errors allowed for mean and variance")
    ks_p: float = Field(1e-6, gt=0, lt=1, description="smallest acceptable KS p-value")
    cases: int = 2


def moments(dist: Distribution, names: dict) -> tuple[str, float, float, float, tuple]:
    """Name, mean, variance, fourth central moment and scipy arguments of the distribution."""
    if dist.uniform is not None:
        low, high = (float(expr.evaluate(v, names)) for v in dist.uniform)
        width = high - low
        return (f"uniform({low:.4g}, {high:.4g})", (low + high) / 2, width**2 / 12, width**4 / 80,
                ("uniform", (low, width)))
    mean, std = (float(expr.evaluate(v, names)) for v in dist.normal)
    return f"normal({mean:.4g}, {std:.4g})", mean, std**2, 3 * std**4, ("norm", (mean, std))


def ks_pvalue(x: np.ndarray, dist_name: str, args: tuple) -> float:
    """The two-sided one-sample Kolmogorov-Smirnov p-value of ``x`` against a uniform or normal law.

    Smirnov's one-sided exact tail, doubled: within about p**2 of the exact two-sided value, so the
    same verdict as ``scipy.stats.kstest`` at any floor worth using (the default is 1e-6), for the
    cost of ``scipy.special`` (0.1 s to import, where ``scipy.stats`` takes a second of a cold grade)."""
    from scipy import special

    n = x.size
    z = np.sort(x)
    if dist_name == "uniform":
        low, width = args
        cdf = np.clip((z - low) / width, 0.0, 1.0)
    else:
        mean, std = args
        cdf = special.ndtr((z - mean) / std)
    i = np.arange(1, n + 1)
    d = max(float(np.max(i / n - cdf)), float(np.max(cdf - (i - 1) / n)))
    return float(min(1.0, 2.0 * special.smirnov(n, d)))


class Statistical(ProbeCheck):
    Params = Params
    needs_reference = False
    judge_imports = ("scipy.special",)

    def judge(self, params, case, student, reference, ctx):
        if not student.ok:
            return failed_reply(params, case, student)
        raw = student.value.get(params.sample)
        arr = _numeric(raw)
        label = f"{case.label}: {params.sample}"
        if arr is None:
            return Outcome(0.0, f"{label}: expected an array of random numbers, got {type(raw).__name__}")
        names = {**case.dims, **{k: v for k, v in case.inputs.items() if np.isscalar(v)}}
        if params.shape is not None:
            want = tuple(int(expr.evaluate(s, names)) for s in params.shape)
            if arr.shape != want:
                return Outcome(0.0, f"{label}: shape {arr.shape}, expected {want}")
        x = arr.astype(float).reshape(-1)
        if not np.isfinite(x).all():
            return Outcome(0.0, f"{label}: contains NaN or inf")
        name, mean, var, mu4, (dist_name, dist_args) = moments(params.distribution, names)
        n = x.size
        problems = []
        if params.distribution.uniform is not None:
            low, high = dist_args[0], dist_args[0] + dist_args[1]
            slack = 1e-9 * max(abs(low), abs(high), 1.0)
            if x.min() < low - slack or x.max() > high + slack:
                problems.append(f"values range over [{x.min():.4g}, {x.max():.4g}], outside the "
                                f"allowed range" + (f" [{low:.4g}, {high:.4g}]" if ctx.visible else ""))
        se_mean = math.sqrt(var / n)
        if abs(x.mean() - mean) > params.z * se_mean:
            problems.append(f"sample mean {x.mean():.4g} is off" + (f" (expected {mean:.4g})" if ctx.visible else ""))
        se_var = math.sqrt(max(mu4 - var**2, 1e-300) / n)
        if abs(x.var() - var) > params.z * se_var:
            problems.append(f"sample variance {x.var():.4g} is off" + (f" (expected {var:.4g})" if ctx.visible else ""))
        if not problems:
            p = ks_pvalue(x, dist_name, dist_args)
            if p < params.ks_p:
                problems.append(f"the values do not look {params.distribution.uniform and 'uniformly' or 'normally'}"
                                f" distributed (Kolmogorov-Smirnov p = {p:.2g})")
        if problems:
            what = f" for {name}" if ctx.visible else ""
            return Outcome(0.0, f"{label}: " + "; ".join(problems) + what)
        return Outcome(1.0)


KIND = Statistical()
