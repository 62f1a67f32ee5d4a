"""``imports``: only the libraries the handout allows.

Judged twice over, and after every other question of the grade (``deferred``):

* **what ran**: the worker records every package the student's code imported while it was graded
  (``agworker.imports``: ``import`` statements, ``__import__("net" + "workx")``, ``importlib``, module
  objects left in globals), whatever the source looks like;
* **what is written**: every Python file is read as Python reads it (its encoding cookie honoured, so
  ``# -*- coding: utf-7 -*-`` hides nothing), for files no question ran. A file that cannot be parsed
  is still searched for import lines: a file the grader cannot read never counts as clean.

A name counts as the student's own module only when a file of that name sits where the import would
find it (beside the importing file, or a package folder there), not anywhere in the submission: a
decoy ``notes/networkx.py`` does not make ``import networkx`` local.
"""
from __future__ import annotations

import ast
import fnmatch
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field

from .base import CheckKind, CheckParams, Outcome


class Params(CheckParams):
    kind: Literal["imports"]
    files: list[str] = Field(default_factory=lambda: ["*.py"], description="file-name patterns")
    allowed: list[str] | None = Field(None, description="top-level packages; default policy.allowed_imports")


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*))",
                          re.MULTILINE)


def imported_modules(source: str | bytes) -> list[tuple[int, str]]:
    """(line, top-level module) for import statements and literal __import__/import_module calls.
    Bytes are decoded as Python would (PEP 263 cookie); raises SyntaxError when it does not parse."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("__import__", "import_module"):
                found.append((node.lineno, node.args[0].value.split(".")[0]))
    return found


def import_lines(text: str) -> list[tuple[int, str]]:
    """A fallback for a file that does not parse: every line that looks like an import."""
    found = []
    for match in _IMPORT_LINE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        names = [match.group(1)] if match.group(1) else [n.strip() for n in match.group(2).split(",")]
        found += [(line, n.split(".")[0]) for n in names]
    return found


def local_names(folder: Path) -> set[str]:
    """Modules an import in ``folder`` would find there: ``x.py`` files and package folders."""
    names = {p.stem for p in folder.glob("*.py")}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return names


def written_imports(path: Path) -> list[tuple[int, str]]:
    data = path.read_bytes()
    try:
        return imported_modules(data)
    except (SyntaxError, ValueError):
        # not Python as written (or a cookie naming an unknown codec): look for import lines in
        # every way the text could be read, so nothing is hidden by making the parse fail
        found = import_lines(data.decode("utf-8", "replace"))
        try:
            found += import_lines(data.decode("utf-7"))
        except UnicodeError:
            pass
        return sorted(set(found))


class Imports(CheckKind):
    Params = Params
    uses_probe = False
    deferred = True  # judged after every other question: the imports they ran are part of the evidence

    def evaluate(self, params, ctx):
        allowed = set(params.allowed if params.allowed is not None else ctx.rubric.policy.allowed_imports)
        ok = allowed | set(sys.stdlib_module_names) | {"__future__"}
        problems: dict[str, str] = {}
        for module, where in sorted(getattr(ctx, "observed_imports", {}).items()):
            if module not in ok:
                problems.setdefault(module, f"{where} imports {module} (seen when the code ran)")
        for path in ctx.submission.python_files:
            if not any(fnmatch.fnmatch(path.name, pattern) for pattern in params.files):
                continue
            rel = path.relative_to(ctx.submission.root)
            local = local_names(path.parent)
            for line, module in written_imports(path):
                if module not in ok and module not in local:
                    problems.setdefault(module, f"{rel}:{line} imports {module}")
        if problems:
            listed = list(problems.values())
            return [Outcome(0.0, "; ".join(listed[:10]) + f" (allowed: {', '.join(sorted(allowed))})")]
        return [Outcome(1.0)]


KIND = Imports()
