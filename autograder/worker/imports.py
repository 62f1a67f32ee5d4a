"""Record which packages the student's code really imports, where the import happens.

A rubric's import policy ("only numpy, scipy, scikit-image, matplotlib") was judged by reading the
source, which a string (``__import__("net" + "workx")``), a decoy file named like the package, or an
encoding cookie that hides the statement from a UTF-8 parse all dodge. Here the worker watches the
imports themselves, three ways, because each alone can be sidestepped:

* ``builtins.__import__`` is wrapped: every ``import`` statement and ``__import__`` call, including
  modules an allowed library had already loaded (a cached import raises no audit event);
* an audit hook (which Python code cannot remove) sees every module actually loaded, also through
  ``importlib.import_module`` or a restored ``__import__``;
* after a student module or script is loaded, its globals are scanned for module objects
  (``nx = sys.modules["networkx"]``).

An import counts when the requesting code is the student's (not a library's, not the grader's) and
the module comes from outside the submission (a local ``helpers.py`` is the student's own code).
The record, top-level name -> where, travels with every reply; the judge applies the policy.
"""
from __future__ import annotations

import builtins
import os
import sys
import types

MAX_RECORDED = 200
_record: dict[str, str] = {}
_state: dict = {}
_LIBRARY_MARKERS = ("<frozen ", "/site-packages/", "/dist-packages/")


def install(workdir: str) -> None:
    """Start recording (once per process); ``workdir`` is the submission's working copy."""
    if _state:
        _state["workdir"] = workdir
        return
    prefixes = {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                      os.path.dirname(os.path.dirname(__file__)))}
    _state.update(workdir=workdir, prefixes=tuple(prefixes), verdicts={}, original=builtins.__import__)
    builtins.__import__ = _recording_import
    sys.addaudithook(_audit)


def record() -> dict[str, str]:
    return dict(_record)


def scan_globals(module, where: str) -> None:
    """Module objects bound in a student module's globals count as imported."""
    try:
        values = list(vars(module).values())
    except TypeError:
        return
    for value in values:
        if isinstance(value, types.ModuleType):
            _note(getattr(value, "__name__", "") or "", where)


def _recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _state["original"](name, globals, locals, fromlist, level)
    if level == 0 and isinstance(name, str):
        try:
            frame = sys._getframe(1)
            if _is_students(frame.f_code.co_filename):
                _note(name, _where(frame))
        except Exception:  # noqa: BLE001 - recording must never break the student's import
            pass
    return module


def _audit(event: str, args) -> None:
    if event != "import" or not _state:
        return
    try:
        frame = sys._getframe(1)
        while frame is not None and _is_machinery(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None and _is_students(frame.f_code.co_filename):
            _note(str(args[0]), _where(frame))
    except Exception:  # noqa: BLE001 - an audit hook that raises would break every import
        pass


def _is_machinery(filename: str) -> bool:
    return (filename.startswith("<frozen importlib") or filename == __file__
            or filename.endswith(os.sep + os.path.join("importlib", "__init__.py")))


def _is_students(filename: str) -> bool:
    """Code of the submission (its files, a notebook's cells), not of a library or the grader."""
    verdicts = _state["verdicts"]
    if filename not in verdicts:
        real = filename if filename.startswith("<") else os.path.realpath(filename)
        library = (any(m in real for m in _LIBRARY_MARKERS) or real.startswith(_state["prefixes"])
                   or real == os.path.realpath(__file__))
        verdicts[filename] = not library or real.startswith(os.path.realpath(_state["workdir"]) + os.sep)
    return verdicts[filename]


def _where(frame) -> str:
    filename = frame.f_code.co_filename
    workdir = _state["workdir"]
    if filename.startswith(workdir + os.sep):
        filename = os.path.relpath(filename, workdir)
    elif not filename.startswith("<"):
        filename = "a notebook cell" if "ipykernel" in filename else os.path.basename(filename)
    return f"{filename}:{frame.f_lineno}"


def _note(name: str, where: str) -> None:
    top = name.partition(".")[0]
    if not top or top in _record or len(_record) >= MAX_RECORDED:
        return
    if top in sys.stdlib_module_names or top in ("agworker", "__main__", "__future__"):
        return
    module = sys.modules.get(top)
    if module is None:
        return  # it did not load: the question that needs it reports that
    if _is_local(module):
        return
    _record[top] = where


def _is_local(module) -> bool:
    """A module of the submission itself (``helpers.py`` beside the script)."""
    paths = [getattr(module, "__file__", None) or ""] + list(getattr(module, "__path__", None) or [])
    workdir = os.path.realpath(_state["workdir"]) + os.sep
    return any(p and os.path.realpath(p).startswith(workdir) for p in paths)
