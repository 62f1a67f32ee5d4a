"""Which files may travel in a student kit, and where they go inside it.

A fixture file ships only when a fixtures manifest (``manifest.yaml`` in a folder above it, see
:mod:`autograder.fixtures`) lists it in a ``public`` set with the same SHA-256: a file no manifest
vouches for stays with the TA. Nothing inside the reference solution's folder ever ships.
"""
from __future__ import annotations

from pathlib import Path

from .. import fixtures


class PublicFiles:
    def __init__(self, forbidden: list[Path]):
        self.forbidden = [p.resolve() for p in forbidden]
        self._manifests: dict[Path, fixtures.Manifest | None] = {}

    def allowed(self, path: Path) -> bool:
        path = path.resolve()
        return path.is_file() and not any(path.is_relative_to(f) for f in self.forbidden)

    def fixture_path(self, path: Path) -> str | None:
        """``fixtures/<set folder>/<file>`` for a file of a public manifest set, else ``None``."""
        path = path.resolve()
        if not self.allowed(path):
            return None
        for folder in path.parents:
            manifest = self._manifest(folder)
            if manifest is None:
                continue
            for fixture_set in manifest.sets:
                root = (folder / fixture_set.folder).resolve()
                if not path.is_relative_to(root):
                    continue
                rel = path.relative_to(root).as_posix()
                if fixture_set.visibility == "public" and fixture_set.files.get(rel) == fixtures.sha256(path):
                    return f"fixtures/{fixture_set.folder}/{rel}"
                return None
        return None

    def _manifest(self, folder: Path) -> fixtures.Manifest | None:
        if folder not in self._manifests:
            try:
                self._manifests[folder] = fixtures.load(folder) if (folder / "manifest.yaml").is_file() else None
            except Exception:  # noqa: BLE001 - a manifest.yaml of another format vouches for nothing
                self._manifests[folder] = None
        return self._manifests[folder]
