"""Datasets the rubrics need, each found in one order: data directory, system copy, synthetic.

    root = data_root()            # --data-dir, else $AUTOGRADE_DATA, else ~/.cache/autograde/data
    found = resolve("nist36")     # real files there, or a system copy converted, or generated once

A dataset generated here carries a ``AUTOGRADE-SYNTHETIC.json`` marker (generator, seed, fonts),
so reports can say which data a grade was computed on. Real files are never overwritten.

Every dataset has the splits the handouts give students (placed in the sandbox, all of them: real
scripts load each split at the top and stop if one is missing) and a **judge split** the students
never had, which only the judge reads. A synthetic dataset draws its judge split from the same
generator with its own random stream. Real data an instructor adds may bring its own judge files;
without them the judge split is made from the test split, and every report says that the students
had those images (``JUDGE-SOURCE.json``).
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MARKER = "AUTOGRADE-SYNTHETIC.json"
SOURCE = ".source.json"  # where a converted real copy came from
JUDGE_SOURCE = "JUDGE-SOURCE.json"  # where the judge split of real data came from
GENERATOR_VERSION = 1


def data_root(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("AUTOGRADE_DATA"):
        return Path(os.environ["AUTOGRADE_DATA"])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "autograde" / "data"


@dataclass
class Dataset:
    name: str
    folder: str                                  # below the data root
    files: list[str]                             # relative to the folder; all must exist
    description: str
    make: Callable[[Path, int], dict]            # writes the synthetic version, returns marker info
    system: Callable[[Path], dict | None] | None = None  # converts a system copy, if there is one
    default_seed: int = 0
    judge_files: list[str] = field(default_factory=list)  # the judge split: never placed in a sandbox
    judge_from_test: Callable[[Path], str] | None = None  # real data without them: made from the test split
    real: str = ""               # how the real data gets here, for `autograde data`
    only_real: bool = False      # nothing synthetic stands in (the course's own photos)


@dataclass
class Found:
    name: str
    folder: Path
    origin: str                  # "real" or "synthetic"
    source: str                  # where it came from, in words
    files: list[Path] = field(default_factory=list)
    judge: str = ""              # where its judge split came from, in words
    seed: int | None = None      # a synthetic copy's seed, when made by :func:`generate` (full size)

    def verdict(self):
        """Whether these are the bytes the thresholds were calibrated on (:mod:`.manifest`)."""
        from .manifest import verify

        return verify(self, DATASETS[self.name].judge_files, self.seed)

    def all_files(self) -> list[Path]:
        """Every file, folders (ImageFolder classes) expanded."""
        out = []
        for path in self.files:
            out += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        return out

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.all_files())

    def as_report(self) -> dict:
        report = {"dataset": self.name, "origin": self.origin, "source": self.source, "folder": str(self.folder)}
        return report | ({"judge_split": self.judge} if self.judge else {})


DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    DATASETS[dataset.name] = dataset
    return dataset


def present(dataset: Dataset, root: Path) -> Found | None:
    folder = root / dataset.folder
    paths = [folder / f for f in dataset.files]
    if not all(p.exists() for p in paths):
        return None
    marker = folder / MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        if not all((folder / f).exists() for f in dataset.judge_files):
            return None  # made by an older version, without its judge split: made again
        judge = f"synthetic, its own random stream (seed {info.get('seed')})" if dataset.judge_files else ""
        seed = info.get("seed") if info.get("generator_version") == GENERATOR_VERSION else None  # not a test's small copy
        return Found(dataset.name, folder, "synthetic", info.get("source", "generated"), paths, judge, seed)
    converted = folder / SOURCE
    source = json.loads(converted.read_text())["source"] if converted.exists() else f"files in {root}"
    return Found(dataset.name, folder, "real", source, paths, judge_source(dataset, folder))


def judge_source(dataset: Dataset, folder: Path) -> str:
    """Where real data's judge split comes from: the instructor's own files, or (made here, once) the
    test split, which the students had."""
    if not dataset.judge_files:
        return ""
    note = folder / JUDGE_SOURCE
    if all((folder / f).exists() for f in dataset.judge_files):
        return json.loads(note.read_text())["source"] if note.exists() else "the instructor's own judge files"
    if dataset.judge_from_test is None:
        return "none"
    text = dataset.judge_from_test(folder)
    note.write_text(json.dumps({"source": text}))
    return text


def resolve(name: str, root: str | Path | None = None, make: bool = True, seed: int | None = None) -> Found | None:
    """The dataset, found or made; ``None`` only when ``make`` is false and nothing is there."""
    dataset = DATASETS[name]
    root = data_root(root)
    found = present(dataset, root)
    if found:
        return found
    folder = root / dataset.folder
    if dataset.system is not None:
        info = dataset.system(folder)
        if info is not None:
            (folder / SOURCE).write_text(json.dumps(info))
            return Found(name, folder, "real", info["source"], [folder / f for f in dataset.files])
    if not make:
        return None
    return generate(name, root, seed)


def generate(name: str, root: str | Path | None = None, seed: int | None = None) -> Found:
    dataset = DATASETS[name]
    folder = data_root(root) / dataset.folder
    folder.mkdir(parents=True, exist_ok=True)
    seed = dataset.default_seed if seed is None else seed
    started = time.perf_counter()
    # made once per data directory, when a grade first needs it: said, so a long first grade is not silent
    print(f"autograde: making the synthetic {name} dataset in {folder} (once; later grades reuse it) ...",
          file=sys.stderr, flush=True)
    info = dataset.make(folder, seed)
    info.update({"generator_version": GENERATOR_VERSION, "seed": seed,
                 "seconds": round(time.perf_counter() - started, 2),
                 "source": f"synthetic, generated by autograder (seed {seed})"})
    (folder / MARKER).write_text(json.dumps(info, indent=2))
    found = present(dataset, data_root(root))
    print(f"autograde: made {name} in {info['seconds']:.1f} s; {found.verdict().describe()}", file=sys.stderr, flush=True)
    return found


def add(name: str, source: Path, root: str | Path | None = None) -> Found:
    """Copy real files (an instructor's, a course's) into the data directory under their layout."""
    import shutil

    dataset = DATASETS[name]
    folder = data_root(root) / dataset.folder
    for rel in dataset.files + dataset.judge_files:
        candidates = [source / rel, source / Path(rel).name]
        origin = next((c for c in candidates if c.exists()), None)
        if origin is None and rel in dataset.judge_files:
            continue  # made from the test split (see judge_source)
        if origin is None:
            raise FileNotFoundError(f"{name}: {rel} not found in {source}")
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(origin, target)
    (folder / SOURCE).write_text(json.dumps({"source": f"copied from {source}"}))
    if all((source / f).exists() or (source / Path(f).name).exists() for f in dataset.judge_files):
        (folder / JUDGE_SOURCE).write_text(json.dumps({"source": f"the instructor's judge files, from {source}"}))
    else:
        (folder / JUDGE_SOURCE).unlink(missing_ok=True)
        for rel in dataset.judge_files:
            (folder / rel).unlink(missing_ok=True)  # made again from this copy's test split
    return present(dataset, data_root(root))


def status(root: str | Path | None = None) -> list[tuple[Dataset, Found | None, str]]:
    """Each dataset with what is there now, and where it would come from otherwise."""
    rows = []
    for dataset in DATASETS.values():
        found = present(dataset, data_root(root))
        if found:
            rows.append((dataset, found, ""))
            continue
        if dataset.only_real:
            rows.append((dataset, None, f"not added: {dataset.real}"))
            continue
        system = "a system copy" if dataset.system and _system_available(dataset) else "synthetic"
        rows.append((dataset, None, f"not made yet: will be {system} on first use"
                                    + (f"; for the real data, {dataset.real}" if dataset.real and system == "synthetic" else "")))
    return rows


def _system_available(dataset: Dataset) -> bool:
    probe = getattr(dataset.system, "available", None)
    return bool(probe and probe())
