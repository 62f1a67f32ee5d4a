"""Rendering the HTML pages from the Jinja2 templates in ``templates/``.

Autoescaping is on for every template: feedback, file names and code excerpts come from students.
The pages carry their own small stylesheet and no scripts, so they work opened from disk, offline.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = points
    env.filters["percent"] = lambda x: "–" if x is None else f"{100 * x:.0f} %"
    return env


def points(x) -> str:
    """2.50 -> "2.5", 3.0 -> "3", None -> "–" (the way a handout writes marks)."""
    if x is None or x == "":
        return "–"
    try:
        text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return str(x)
    return "0" if text == "-0" else text


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
