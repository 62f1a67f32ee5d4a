"""Compatibility shims for old starter code, applied in the worker before student code is imported.

A rubric lists the shims its course needs (``policy.shims``); each one makes a library call that
the course's starter relied on work again on current libraries, without touching student files.
"""
from __future__ import annotations

import os

from . import hooks


def numpy_aliases() -> None:
    """``np.float``/``np.int``/``np.bool`` were removed in NumPy 1.24; the CMU ``util.py`` uses them."""
    import numpy as np

    for name, alias in {"float": float, "int": int, "bool": bool, "object": object, "complex": complex}.items():
        if name not in np.__dict__:
            setattr(np, name, alias)


def matplotlib_agg() -> None:
    """Scripts call ``plt.show()`` in loops; a non-interactive backend makes that harmless."""
    os.environ["MPLBACKEND"] = "Agg"


def skimage_compare_psnr() -> None:
    """``skimage.measure.compare_psnr`` was removed in scikit-image 0.19; alias the new function
    when the student's code imports ``skimage.measure`` (importing it here would cost every worker
    half a second)."""
    def alias(measure) -> None:
        if not hasattr(measure, "compare_psnr"):
            import skimage.metrics

            measure.compare_psnr = skimage.metrics.peak_signal_noise_ratio

    hooks.after_import("skimage.measure", alias)


SHIMS = {f.__name__: f for f in (numpy_aliases, matplotlib_agg, skimage_compare_psnr)}


def apply(names: list[str]) -> None:
    for name in names:
        SHIMS[name]()
