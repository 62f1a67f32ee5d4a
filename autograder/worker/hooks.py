"""Run a callback on a module right after the student's code first imports it (it may never)."""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys


def after_import(name: str, callback) -> None:
    """``callback(module)`` once ``name`` is imported: now if it already is, else on first import
    (wrapping ``plt.show``, seeding torch), without importing it ourselves."""
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            self.callback(module)

        spec.loader.exec_module = exec_module
        return spec
