"""Run a callback on a module right after the student's code first imports it (it may never)."""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_waiting: dict[str, list] = {}  # module name -> callbacks still waiting for its first import


def after_import(name: str, callback) -> None:
    """``callback(module)`` once ``name`` is imported: now if it already is, else on first import
    (wrapping ``plt.show``, seeding torch, bridging a removed library API), without importing it
    ourselves. One finder serves every waiting module, so a long list of hooks costs each import
    of the student's one dictionary look-up."""
    if name in sys.modules:
        callback(sys.modules[name])
        return
    _waiting.setdefault(name, []).append(callback)
    if not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        callbacks = _waiting.pop(fullname, None)
        if callbacks is None:
            return None
        spec = importlib.util.find_spec(fullname)  # the other finders; we are no longer waiting
        if spec is None or spec.loader is None:
            _waiting[fullname] = callbacks  # not importable now: keep waiting
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            for callback in callbacks:
                callback(module)

        spec.loader.exec_module = exec_module
        return spec
