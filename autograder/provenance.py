"""What a regrade needs to reproduce a grade: versions, hashes, seed, sandbox layers."""
from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

from . import __version__

LIBRARIES = ("numpy", "scipy", "scikit-image", "matplotlib", "torch", "torchvision", "pydantic", "PyYAML")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(rubric, submission_digest, seed, layers, sandboxed: bool) -> dict:
    return {
        "grader_version": __version__,
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rubric": {"assignment": rubric.assignment, "file": rubric.source.name if rubric.source else None,
                   "sha256": rubric.digest},
        "submission_sha256": submission_digest,
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": library_versions(),
        "sandbox": layers.as_report() if (layers is not None and sandboxed) else {"active": [], "missing": {
            "all": "sandbox disabled (--no-sandbox)"}},
    }
