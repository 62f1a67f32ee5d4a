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

import ast
import io
import json
import math
import os
import struct
import zipfile

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


def unpack_arrays(payload: bytes, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` payload. With ``max_bytes`` (the grader reading what a sandbox
    sent), every member's declared shape and dtype are read from its ``.npy`` header and checked
    before anything is loaded: a few MB of compressed zeros may declare gigabytes, and numpy
    allocates the declared size before it reads. Object arrays are refused."""
    if not payload:
        return {}
    if max_bytes is not None:
        check_npz(payload, max_bytes)
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


MAX_MEMBERS = 10_000


def check_npz(payload: bytes, max_bytes: int) -> None:
    """Raise FrameError unless the archive holds only plain ``.npy`` arrays within ``max_bytes``."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise FrameError(f"{len(members)} arrays, more than {MAX_MEMBERS}")
            total = 0
            for member in members:
                if not member.filename.endswith(".npy"):
                    raise FrameError("not an array")
                with archive.open(member) as fh:
                    shape, dtype = npy_header(fh)
                if dtype.hasobject:
                    raise FrameError("an object array")
                count = 1
                for n in shape:
                    count *= n
                total += count * dtype.itemsize
                if total > max_bytes:
                    raise FrameError(f"the arrays declare more than {max_bytes >> 20} MB")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise FrameError(f"not an array archive ({type(exc).__name__})") from None


_NPY_MAGIC = b"\x93NUMPY"


def npy_header(fh) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from an ``.npy`` header (format versions 1-3), without reading the data."""
    start = fh.read(8)
    if len(start) != 8 or start[:6] != _NPY_MAGIC or start[6] not in (1, 2, 3):
        raise FrameError("not an .npy array")
    size_bytes = 2 if start[6] == 1 else 4
    raw = fh.read(size_bytes)
    length = int.from_bytes(raw, "little")
    if len(raw) != size_bytes or length > 65536:
        raise FrameError("an .npy header of the wrong size")
    text = fh.read(length).decode("utf-8" if start[6] == 3 else "latin-1")
    try:
        header = ast.literal_eval(text)
        shape, dtype = header["shape"], np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise FrameError(f"an unreadable .npy header ({type(exc).__name__})") from None
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise FrameError("an .npy header with a bad shape")
    return shape, dtype


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


def parse_frame(head: bytes, payload: bytes, max_bytes: int | None = None) -> tuple[dict, object]:
    """One frame's header and value. ``max_bytes`` bounds the arrays' declared size (the grader's
    side: see :func:`unpack_arrays`). Any malformed input is a FrameError, never another exception."""
    try:
        header = json.loads(head)
        if not isinstance(header, dict):
            raise FrameError("the header is not a mapping")
        value = decode(header.pop("value", None), unpack_arrays(payload, max_bytes))
    except FrameError:
        raise
    except Exception as exc:  # noqa: BLE001 - ValueError, RecursionError, TypeError: hostile input
        raise FrameError(f"unreadable frame ({type(exc).__name__})") from None
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
