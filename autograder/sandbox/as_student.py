"""Run this grader as an unprivileged user, the way a student's laptop runs ``autograde check``.

Used by the tests and the benchmarks (root is needed to drop to uid 65534). The interpreter may live
under a home folder uid 65534 cannot enter (``/root/.pyenv``): a root bubblewrap with the host's
whole file system gives it a fresh, enterable parent holding only the interpreter's folder. The
process inside is an ordinary uid 65534 process: no capabilities, no cgroups it may write, and
(unless ``without_bwrap``) the same unprivileged bubblewrap a student's machine has.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

STUDENT_UID = 65534


def possible() -> bool:
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("bwrap", "setpriv"))


def argv(home: Path, pythonpath: Path, without_bwrap: bool = False) -> list[str]:
    """The command prefix that runs ``sys.executable`` as uid 65534 with ``HOME=home``."""
    command = ["bwrap", "--dev-bind", "/", "/"]
    if without_bwrap:  # a laptop without bubblewrap: an empty file in its place
        command += ["--ro-bind", "/dev/null", shutil.which("bwrap")]
    prefix = Path(sys.base_prefix).resolve()
    for parent in reversed(prefix.parents[:-1]):
        if parent.stat().st_mode & 0o005 != 0o005:
            below = Path(*prefix.parts[:len(parent.parts) + 1])  # bwrap makes missing parents 0700
            command += ["--perms", "0755", "--tmpfs", str(parent), "--ro-bind", str(below), str(below)]
            break
    return command + ["setpriv", f"--reuid={STUDENT_UID}", f"--regid={STUDENT_UID}", "--clear-groups",
                      "env", f"HOME={home}", f"PYTHONPATH={pythonpath}", sys.executable]


def share(folder: Path) -> None:
    """Let uid 65534 read ``folder`` (and write where it must: its own outputs go in ``HOME``)."""
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o777 if path.is_dir() else 0o644)
