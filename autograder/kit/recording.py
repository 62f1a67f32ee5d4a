"""The reference solution's answers, recorded once by the instructor and replayed in a student kit.

When the kit is built, the reference solution is graded with the kit's seed through a
:class:`RecordingReference`: every follow-up request a check sends to the trusted reference worker
is keyed by a hash of its header, the files it names and its inputs, and the reply is stored as
data only (``replies.json`` plus ``replies.npz``, read with ``allow_pickle=False``).

In ``autograde check`` a :class:`ReplayReference` answers instead of the reference worker:

* a request that names no reference file (a judge's own computation on the student's
  observations, e.g. running hand-designed weights on 26 000 inputs) runs in a local trusted
  worker, exactly as it would in the TA's grade;
* a recorded request gets its recorded reply: the student's inputs are the kit's, so a request
  that depends only on them was recorded;
* anything else (a request built from the student's own results, such as scoring their trained
  weights with the reference forward pass) raises :class:`ReferenceUnavailable`, and the case is
  left pending for the TA's grade.
"""
from __future__ import annotations

import ast
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from ..grading import ReferenceUnavailable
from ..sandbox.process import Reply, WorkerProcess
from ..worker import protocol

FORMAT = 1
NOT_RECORDED = "checked when the TA grades (needs the reference solution)"
FILE_HELPERS = {"load_pickle", "printed"}  # scenario helpers that read the reference's own files


def request_key(header: dict, inputs, names: list[str]) -> str:
    """SHA-256 of everything that determines the reference's reply (not the worker's request id)."""
    arrays: dict[str, np.ndarray] = {}
    tree = protocol.encode(inputs, arrays)
    digest = hashlib.sha256(json.dumps({"header": header, "names": sorted(names), "inputs": tree},
                                       sort_keys=True).encode())
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def reads_reference_files(header: dict, names: list[str]) -> bool:
    """Whether a request needs the reference solution's files, not just the judge's statements."""
    if names:
        return True
    scenario = header.get("scenario", {})
    texts = list(scenario.get("steps", [])) + list(scenario.get("observe", {}).values())
    texts += [header["numgrad"]["output"]] if "numgrad" in header else []
    used = {n.id for text in texts for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
    return bool(used & FILE_HELPERS) or header.get("op") not in ("run", None)


class Recording:
    """Replies by request key, saved as JSON trees plus one ``.npz`` of their arrays."""

    def __init__(self, replies: dict[str, Reply] | None = None):
        self.replies = replies or {}

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        index, arrays = {}, {}
        for key, reply in sorted(self.replies.items()):
            own: dict[str, np.ndarray] = {}
            index[key] = {"status": reply.status, "value": protocol.encode(reply.value, own),
                          "error": reply.error, "notes": reply.notes}
            arrays.update({f"{key}.{name}": array for name, array in own.items()})
        (folder / "replies.json").write_text(json.dumps({"format": FORMAT, "replies": index}, indent=1))
        np.savez_compressed(folder / "replies.npz", **arrays)

    @classmethod
    def load(cls, folder: Path) -> "Recording":
        index = json.loads((folder / "replies.json").read_text())
        if index.get("format") != FORMAT:
            raise ValueError(f"{folder}: recorded replies of format {index.get('format')}, expected {FORMAT}")
        arrays: dict[str, dict[str, np.ndarray]] = {}
        with np.load(folder / "replies.npz", allow_pickle=False) as npz:
            for name in npz.files:
                key, _, local = name.partition(".")
                arrays.setdefault(key, {})[local] = npz[name]
        replies = {}
        for key, entry in index["replies"].items():
            own = arrays.get(key, {})
            replies[key] = Reply(entry["status"], value=protocol.decode(entry["value"], own),
                                 error=entry["error"], notes=entry["notes"])
        return cls(replies)


class RecordingReference:
    """Wraps the real reference (a :class:`~autograder.grading.ReferenceSolution`) and keeps its replies."""

    def __init__(self, reference):
        self.reference = reference
        self.recording = Recording()

    def request(self, header: dict, inputs, names: list[str], *, time_s: float) -> Reply:
        reply = self.reference.request(header, inputs, names, time_s=time_s)
        if reads_reference_files(header, names):
            self.recording.replies[request_key(header, inputs, names)] = reply
        return reply

    def close(self) -> None:
        self.reference.close()


class ReplayReference:
    """Answers a kit's follow-up requests from the recording, or locally when no reference file is needed."""

    def __init__(self, recording: Recording, shims: list[str], limits):
        self.recording = recording
        self.shims, self.limits = shims, limits
        self._empty = tempfile.TemporaryDirectory(prefix="autograde-judge-")
        self._local: WorkerProcess | None = None

    def request(self, header: dict, inputs, names: list[str], *, time_s: float) -> Reply:
        if not reads_reference_files(header, names):
            if self._local is None:  # trusted: the rubric's statements on data, like the TA's reference worker
                self._local = WorkerProcess(self._empty.name, self.shims, self.limits, sandboxed=False)
            return self._local.request(dict(header, modules={}), inputs, time_s=time_s, import_time_s=120)
        reply = self.recording.replies.get(request_key(header, inputs, names))
        if reply is None:
            raise ReferenceUnavailable(NOT_RECORDED)
        return reply

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
        self._empty.cleanup()
