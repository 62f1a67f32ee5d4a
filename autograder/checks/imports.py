"""``imports``: only the libraries the handout allows (read statically from the source, never run)."""
from __future__ import annotations

import ast
import fnmatch
import sys
from typing import Literal

from pydantic import Field

from .base import CheckKind, CheckParams, Outcome


class Params(CheckParams):
    kind: Literal["imports"]
    files: list[str] = Field(default_factory=lambda: ["*.py"], description="file-name patterns")
    allowed: list[str] | None = Field(None, description="top-level packages; default policy.allowed_imports")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, top-level module) for import statements and literal __import__/import_module calls."""
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


class Imports(CheckKind):
    Params = Params
    uses_probe = False

    def evaluate(self, params, ctx):
        allowed = set(params.allowed if params.allowed is not None else ctx.rubric.policy.allowed_imports)
        local = {p.stem for p in ctx.submission.python_files}
        ok = allowed | local | set(sys.stdlib_module_names) | {"__future__"}
        problems = []
        for path in ctx.submission.python_files:
            if not any(fnmatch.fnmatch(path.name, pattern) for pattern in params.files):
                continue
            try:
                modules = imported_modules(path.read_text(errors="replace"))
            except SyntaxError:
                continue  # the questions that import it report the syntax error
            rel = path.relative_to(ctx.submission.root)
            problems += [f"{rel}:{line} imports {mod}" for line, mod in modules if mod not in ok]
        if problems:
            return [Outcome(0.0, "; ".join(problems[:10]) + f" (allowed: {', '.join(sorted(allowed))})")]
        return [Outcome(1.0)]


KIND = Imports()
