"""Stored fixtures: each set made by a named generator from a seed, checked against a manifest.

``fixtures/manifest.yaml`` lists every set: its folder, visibility (``public`` sets go into the
students' self-check kit; ``hidden`` ones never leave the grader and are never bound into the
sandbox), the generator and seed that rebuild it, and the SHA-256 of each file.

    autograde fixtures verify    # every file present and unchanged (tests run this)
    autograde fixtures build     # regenerate the generated sets and rewrite the manifest
"""
from __future__ import annotations

import hashlib
import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field


class FixtureSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    folder: str = Field(description="relative to fixtures/")
    visibility: Literal["public", "hidden"]
    description: str = ""
    generator: str | None = Field(None, description="module:function(dest: Path, seed: int); None = hand-written")
    seed: int | None = None
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> sha256")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sets: list[FixtureSet]


@dataclass
class Problem:
    fixture: str
    message: str


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(root: Path) -> Manifest:
    return Manifest.model_validate(yaml.safe_load((root / "manifest.yaml").read_text()))


def save(root: Path, manifest: Manifest) -> None:
    header = ("# Stored fixtures: generator, seed, visibility and checksum of every file.\n"
              "# Rebuild with `autograde fixtures build`; check with `autograde fixtures verify`.\n")
    body = yaml.safe_dump(manifest.model_dump(), sort_keys=False, width=110)
    (root / "manifest.yaml").write_text(header + body)


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def verify(root: Path) -> list[Problem]:
    problems = []
    for fixture in load(root).sets:
        folder = root / fixture.folder
        actual = files_of(folder) if folder.is_dir() else {}
        for rel, digest in fixture.files.items():
            if rel not in actual:
                problems.append(Problem(fixture.name, f"{rel} is missing"))
            elif actual[rel] != digest:
                problems.append(Problem(fixture.name, f"{rel} changed (sha256 {actual[rel][:12]}, "
                                                      f"manifest {digest[:12]})"))
        for rel in sorted(set(actual) - set(fixture.files)):
            problems.append(Problem(fixture.name, f"{rel} is not in the manifest"))
    return problems


def generator(dotted: str):
    module, _, func = dotted.partition(":")
    return getattr(importlib.import_module(module), func)


def build(root: Path, names: list[str] | None = None) -> Manifest:
    """Regenerate generated sets (all, or ``names``) and record every set's checksums."""
    manifest = load(root)
    for fixture in manifest.sets:
        folder = root / fixture.folder
        if fixture.generator and (not names or fixture.name in names):
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            generator(fixture.generator)(folder, fixture.seed or 0)
        fixture.files = files_of(folder) if folder.is_dir() else {}
    save(root, manifest)
    return manifest


# --------------------------------------------------------------------------------------------
# generators


def ocr_pages(dest: Path, seed: int) -> None:
    """Four synthetic handwritten pages with per-character boxes (see :mod:`autograder.data.ocr`)."""
    from .data import ocr

    ocr.write_pages(dest, seed)
