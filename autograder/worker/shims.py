"""What the worker sets up before student code is imported: the compatibility table, always.

Every entry of :mod:`.compat` applies to every rubric (a bridge fires only when the student's code
calls the old API, and every firing is reported). The names rubrics once listed in
``policy.shims`` are still accepted: ``numpy_aliases`` and ``skimage_compare_psnr`` are entries of
the table now, and ``matplotlib_agg`` keeps ``plt.show()`` harmless where the environment does not
already choose the Agg backend.
"""
from __future__ import annotations

import os

from . import compat

LEGACY_NAMES = ("numpy_aliases", "matplotlib_agg", "skimage_compare_psnr")


def apply(names: list[str] = ()) -> None:
    compat.install()
    if "matplotlib_agg" in names:
        os.environ["MPLBACKEND"] = "Agg"
