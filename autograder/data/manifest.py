"""What each calibrated dataset is, byte for byte: the sha256 of every file, shipped as ``manifest.json``.

The rubrics' thresholds (75 % on NIST36 validation, 87 % on Fashion-MNIST test, PSNR floors) were
calibrated on these bytes. A synthetic dataset made with its default seed must match its entry on
any machine (the glyph bank is package data, the writers fix every header); a real copy an
instructor adds may differ, and then ``autograde data``, ``autograde data make`` and every report
that uses it say so, and the feedback of the questions that read it marks their thresholds as
calibrated on other data.

A maintainer who changes a generator writes the manifest again from freshly made data::

    AUTOGRADE_DATA=/tmp/fresh autograde data make && python -m autograder.data.manifest /tmp/fresh
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.json")
MATCHES, DIFFERS, UNLISTED = "matches the manifest", "differs from the manifest", "not in the manifest"
DIGESTS = ".sha256.json"  # in each dataset's folder: the digests last computed, with the stats they were of


@dataclass
class Verdict:
    state: str  # MATCHES, DIFFERS or UNLISTED
    differing: list[str] = field(default_factory=list)  # files that differ or are missing
    calibrated_on: str = ""  # what the manifest's entry was made from

    @property
    def differs(self) -> bool:
        return self.state == DIFFERS

    def describe(self) -> str:
        if self.state != DIFFERS:
            return self.state
        shown = ", ".join(self.differing[:3]) + (f" and {len(self.differing) - 3} more" if len(self.differing) > 3 else "")
        return f"{DIFFERS} ({shown}): thresholds were calibrated on {self.calibrated_on}"


def uncalibrated(data_used: list[dict]) -> dict[str, str]:
    """From a grade's record of its data (``provenance.json``'s ``data``): each dataset whose copy
    differs from the manifest, with the verdict in words."""
    return {d["dataset"]: d["bytes"] for d in data_used if d.get("bytes", "").startswith(DIFFERS)}


def entries() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digests(found, judge_files: list[str]) -> dict[str, str]:
    """Every file a grade may read: the students' splits (folders expanded) and the judge split.

    A file is hashed again only when its size, modification time or inode changed since it was last
    hashed (kept in the dataset's ``DIGESTS`` file, as git's index does): a grade checks 350 MB of
    data in milliseconds, and an edited copy is still caught."""
    paths = found.all_files() + [found.folder / f for f in judge_files if (found.folder / f).is_file()]
    store = found.folder / DIGESTS
    try:
        known = json.loads(store.read_text()) if store.is_file() else {}
    except (OSError, ValueError):
        known = {}
    out, changed = {}, False
    for path in paths:
        name, stat = path.relative_to(found.folder).as_posix(), path.stat()
        key = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        if known.get(name, [None])[:3] != key:
            known[name], changed = key + [sha256(path)], True
        out[name] = known[name][3]
    if changed:
        try:
            tmp = store.with_suffix(".tmp")
            tmp.write_text(json.dumps(known))
            tmp.replace(store)
        except OSError:  # a read-only data directory (a shared copy): hashed again next time
            pass
    return out


def entry_for(found, seed: int | None) -> dict | None:
    """The manifest's entry for this copy: synthetic ones only for the seed they were made with."""
    entry = entries().get(found.origin, {}).get(found.name)
    if entry is None or (found.origin == "synthetic" and (seed is None or entry.get("seed") != seed)):
        return None
    return entry


def verify(found, judge_files: list[str], seed: int | None = None) -> Verdict:
    entry = entry_for(found, seed)
    if entry is None:
        return Verdict(UNLISTED)
    have = digests(found, judge_files)
    differing = sorted(name for name, digest in entry["files"].items() if have.get(name) != digest)
    differing += sorted(set(have) - set(entry["files"]))
    return Verdict(DIFFERS if differing else MATCHES, differing, entry["made_from"])


def write(root: Path) -> dict:
    """The manifest of the datasets made (or added) under ``root``: synthetic ones with their seed."""
    from .registry import DATASETS, present

    out: dict = {"synthetic": {}, "real": {}}
    for dataset in DATASETS.values():
        found = present(dataset, root)
        if found is None:
            continue
        files = digests(found, dataset.judge_files)
        if found.origin == "synthetic":
            if found.seed is None:
                raise SystemExit(f"{found.folder}: not made by autograde data make (a test's small copy?)")
            out["synthetic"][found.name] = {"seed": found.seed, "made_from": f"the synthetic {found.name} made "
                                            f"by autograder with seed {found.seed}", "files": files}
        elif not dataset.only_real:  # the course's own photos are each course's, not calibrated here
            out["real"][found.name] = {"made_from": f"the real {found.name} ({found.source})", "files": files}
    return out


if __name__ == "__main__":
    import sys

    written = write(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["AUTOGRADE_DATA"]))
    MANIFEST.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    print(f"{MANIFEST}: " + "; ".join(f"{origin} {', '.join(sorted(v))}" for origin, v in written.items()))
