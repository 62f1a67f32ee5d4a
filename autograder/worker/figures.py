"""Capture the figures a student's script draws, so a TA sees them next to the grade.

Course scripts draw with ``plt.show()`` (harmless under Agg, see :mod:`.shims`) or ``savefig``.
Once ``matplotlib.pyplot`` is imported, both are wrapped: ``show`` snapshots every open figure and
then closes them, as closing the window would; ``pause`` snapshots without sleeping; ``savefig`` snapshots the figure it saved. Whatever
is still open when a script ends is snapshotted too. Each snapshot is a small PNG plus a summary
(axes, images and their shapes, lines) the judge uses to tell a confusion matrix from a loss curve.
Nothing here trusts the student: the judge re-reads the PNG bytes and checks they are an image.
"""
from __future__ import annotations

import hashlib
import io
import sys

import numpy as np

from . import hooks

MAX_FIGURES_PER_SOURCE = 24
MAX_RENDERS_PER_SOURCE = 200   # plt.show() in a loop over thousands of images must stay cheap
MAX_PIXELS = 4_000_000         # a figsize=(500, 500) figure is drawn smaller, not at 30 000 px square
MAX_PNG_BYTES = 2 << 20
DPI = 60

_captured: dict[str, list[dict]] = {}
_seen: dict[str, set[str]] = {}
_renders: dict[str, int] = {}
_source = ["(probe)"]
_original_savefig = []


KEY = "__autograde_key__"  # set by the worker on each module it loads: the rubric's file key


def figures_of(source: str) -> list[dict]:
    return _captured.get(source, [])


def begin(source: str) -> None:
    """Attribute figures drawn from now on to ``source`` (a rubric file key)."""
    _source[0] = source


def end() -> None:
    """Snapshot and close what the current source left open."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        _snapshot_open(plt, "left open")
        try:
            plt.close("all")
        except Exception:  # noqa: BLE001 - a broken figure must not break the worker
            pass
    _source[0] = "(probe)"


def install() -> None:
    """Wrap pyplot as soon as anything imports it (now, if it already is)."""
    hooks.after_import("matplotlib.pyplot", _patch)


def _patch(plt) -> None:
    from matplotlib.figure import Figure

    if _original_savefig:
        return
    _original_savefig.append(Figure.savefig)

    def show(*args, **kwargs):
        _snapshot_open(plt, "plt.show()")
        plt.close("all")

    def pause(interval=0):
        """``plt.pause(1500)`` sleeps under Agg; the figure is what mattered."""
        _snapshot_open(plt, "plt.pause()")

    def savefig(self, *args, **kwargs):
        result = _original_savefig[0](self, *args, **kwargs)
        _snapshot(self, "savefig")
        return result

    plt.show = show
    plt.pause = pause
    Figure.savefig = savefig


def _snapshot_open(plt, event: str) -> None:
    for number in plt.get_fignums():
        _snapshot(plt.figure(number), event)


def _snapshot(fig, event: str) -> None:
    source = _source[0]
    kept = _captured.setdefault(source, [])
    _renders[source] = _renders.get(source, 0) + 1
    if len(kept) >= MAX_FIGURES_PER_SOURCE or _renders[source] > MAX_RENDERS_PER_SOURCE:
        return
    try:
        width, height = fig.get_size_inches()
        dpi = min(DPI, (MAX_PIXELS / max(width * height, 1e-6)) ** 0.5)
        buffer = io.BytesIO()
        _original_savefig[0](fig, buffer, format="png", dpi=dpi)
        png = buffer.getvalue()
        digest = hashlib.sha256(png).hexdigest()
        if len(png) > MAX_PNG_BYTES or digest in _seen.setdefault(source, set()):
            return
        _seen[source].add(digest)
        kept.append({"png": np.frombuffer(png, dtype=np.uint8).copy(), "event": event, **_summary(fig)})
    except Exception:  # noqa: BLE001 - an unrenderable figure is simply not captured
        return


def _summary(fig) -> dict:
    axes = fig.get_axes()
    images = [list(np.shape(im.get_array()))[:2] for ax in axes for im in ax.get_images()]
    lines = sum(1 for ax in axes for line in ax.get_lines() if len(line.get_xdata()) > 1)
    titles = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) else []
    titles += [ax.get_title() for ax in axes if ax.get_title()]
    kinds = [type(c).__name__ for ax in axes for c in ax.collections]
    return {"axes": len(axes), "images": images, "lines": lines, "title": " / ".join(titles)[:200],
            "axes_3d": sum(1 for ax in axes if getattr(ax, "name", "") == "3d"),
            "surfaces": kinds.count("Poly3DCollection"),
            "scatters": kinds.count("Path3DCollection") + kinds.count("PathCollection"),
            "scatter_xy": _largest_3d_scatter(axes)}


def _largest_3d_scatter(axes, limit: int = 2000) -> list:
    """The (x, y) of the 3-D scatter with most points: on a loss landscape, the trajectory's
    coordinates in the plane of its two principal directions."""
    best = []
    for ax in axes:
        for c in ax.collections:
            offsets = getattr(c, "_offsets3d", None)
            if type(c).__name__ == "Path3DCollection" and offsets is not None:
                xs, ys = (np.asarray(v, dtype=float).ravel()[:limit] for v in offsets[:2])
                if len(xs) > len(best):
                    best = np.stack([xs, ys], axis=1).tolist()
    return best


def summaries_of(source) -> list[dict]:
    """What a source drew, without the pictures (for checks on a figure's content):
    ``figures_drawn(hw3)``, the module itself, so that the probe loads (runs) it first."""
    key = source if isinstance(source, str) else getattr(source, KEY, "")
    return [{k: v for k, v in f.items() if k != "png"} for f in figures_of(key)]
