"""Wire format between the grader and a worker: length-prefixed frames of JSON plus an ``.npz`` blob.

Both sides import this module (the worker as a stand-alone package inside the sandbox), so it may
use only the standard library and numpy, and only relative imports.

A frame is ``<u32 header length><u32 payload length><header JSON><payload>``. The payload is an
``.npz`` archive written and read with ``allow_pickle=False``: nothing that crosses the boundary
can execute code when it is loaded.

Python values are encoded as a JSON tree in which every numpy array is replaced by a reference
into the payload; tuples, dicts and unknown objects are tagged so the tree round-trips exactly.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np

_HEAD = struct.Struct("<II")
MAX_HEADER_BYTES = 4 << 20


class FrameError(Exception):
    """A frame was malformed, too large, or the other side went away."""


class Opaque:
    """A value the worker could not turn into data (a function, a custom object, ...)."""

    def __init__(self, type_name: str, text: str):
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"

    def __eq__(self, other):
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)


class ObservedError:
    """An exception raised while computing one observation, carried as data."""

    def __init__(self, type_name: str, message: str):
        self.type_name = type_name
        self.message = message

    def __repr__(self) -> str:
        return f"{self.type_name}: {self.message}"


# --------------------------------------------------------------------------------------------
# value <-> (tree, arrays)


def encode(value, arrays: dict[str, np.ndarray], depth: int = 0):
    """Turn ``value`` into a JSON-able tree; arrays go into ``arrays`` and are referenced by key."""
    if depth > 20:
        return {"__opaque__": [type(value).__name__, "nested too deeply"]}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, without importing torch
        try:
            value = value.detach().cpu().numpy()
        except Exception:  # noqa: BLE001 - any failure means "not data"
            return _opaque(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind not in "biufc":
            try:
                value = value.astype(float)
            except (TypeError, ValueError):
                return _opaque(value)
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value)
        return {"__array__": key}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode(v, arrays, depth + 1)] for k, v in value.items()]}
    if isinstance(value, ObservedError):
        return {"__error__": [value.type_name, value.message]}
    return _opaque(value)


def _opaque(value):
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break encoding
        text = "<unprintable>"
    return {"__opaque__": [type(value).__name__, text[:200]]}


def decode(tree, arrays):
    """Inverse of :func:`encode`."""
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        return arrays[tree["__array__"]]
    if "__float__" in tree:
        return float(tree["__float__"])
    if "__tuple__" in tree:
        return tuple(decode(v, arrays) for v in tree["__tuple__"])
    if "__dict__" in tree:
        return {k: decode(v, arrays) for k, v in tree["__dict__"]}
    if "__error__" in tree:
        return ObservedError(*tree["__error__"])
    if "__opaque__" in tree:
        return Opaque(*tree["__opaque__"])
    raise FrameError(f"unknown tag in tree: {sorted(tree)[:3]}")


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    if not arrays:
        return b""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack_arrays(payload: bytes) -> dict[str, np.ndarray]:
    if not payload:
        return {}
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# --------------------------------------------------------------------------------------------
# frames on file descriptors


def write_frame(fd: int, header: dict, value=None) -> None:
    """Write one frame; ``value`` (any Python data) travels as ``header['value']`` plus arrays."""
    arrays: dict[str, np.ndarray] = {}
    if value is not None or "value" not in header:
        header = dict(header, value=encode(value, arrays))
    head = json.dumps(header).encode()
    payload = pack_arrays(arrays)
    data = _HEAD.pack(len(head), len(payload)) + head + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def parse_frame(head: bytes, payload: bytes) -> tuple[dict, object]:
    try:
        header = json.loads(head)
        value = decode(header.pop("value", None), unpack_arrays(payload))
    except (ValueError, KeyError, OSError, EOFError) as exc:
        raise FrameError(f"unreadable frame: {exc}") from exc
    return header, value


def read_exact_blocking(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise FrameError("end of stream")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame_blocking(fd: int, max_payload: int = 1 << 30) -> tuple[dict, object]:
    """Read one frame from a blocking descriptor (the worker's side: it trusts the grader)."""
    head_len, payload_len = _HEAD.unpack(read_exact_blocking(fd, _HEAD.size))
    if head_len > MAX_HEADER_BYTES or payload_len > max_payload:
        raise FrameError("frame too large")
    head = read_exact_blocking(fd, head_len)
    return parse_frame(head, read_exact_blocking(fd, payload_len))


HEADER = _HEAD
