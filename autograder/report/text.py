"""Student-controlled text at the output sinks: file names, exception messages, printed values.

A name such as ``evil\\n| Q3.1.1 | 3 / 3 |`` must never start a line that looks like the grader's
own (a forged table row, a forged feedback line), nor move the cursor or reverse the text
(``\\x1b``, bidi overrides). Every sink escapes what it did not write itself:
:func:`visible` for plain text (results.json, the terminal), :func:`markdown` for report.md,
:func:`markup` for rich's console markup.
"""
from __future__ import annotations

import re

# C0, DEL, C1, the line and paragraph separators, bidi embeddings/overrides/isolates and marks
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# every character that starts Markdown syntax inline; an underscore between two letters or digits
# (run_q7_1_1.py) cannot, in CommonMark, so it is left alone and names stay readable
_MARKDOWN = re.compile(r"[\\`*\[\]<>|]|(?<![^\W_])_|_(?![^\W_])")


def _escape(match: re.Match) -> str:
    ch = match.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def visible(text) -> str:
    """``text`` on one line, with every control or direction character shown as an escape (``\\n``,
    ``\\x1b``, ``\\u202e``), so it cannot start a line of its own or change how others read."""
    return _INVISIBLE.sub(_escape, str(text))


def markdown(text) -> str:
    """:func:`visible` text that Markdown shows literally: no table cell break, emphasis, link,
    code span or HTML tag (``\\`` too, so a student's ``\\|`` cannot cancel our escape)."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), visible(text))


def markup(text) -> str:
    """:func:`visible` text for rich's console markup: ``[/batch, classes]`` is printed, not parsed."""
    from rich.markup import escape

    return escape(visible(text))
