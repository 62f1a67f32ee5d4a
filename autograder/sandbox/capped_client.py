"""nbclient's NotebookClient with the outputs a notebook may keep bounded, in memory and on disk.

A cell's outputs arrive from the sandboxed kernel and are kept in the grader's process (and later
saved with the report), so they are hostile input: a cell printing a gigabyte took the grader to
4 GB. Here each cell keeps the first and last ``STREAM_KEEP`` characters of each stream (with a line
saying how much was cut), at most ``MAX_OUTPUTS`` other outputs of at most ``MAX_OUTPUT_BYTES``
each, and the whole notebook at most ``MAX_NOTEBOOK_BYTES``. A single oversized message never
reaches Python: the client's sockets refuse messages above ``MAX_MESSAGE_BYTES`` (libzmq drops
the connection; the message is lost, not buffered).
"""
from __future__ import annotations

import collections
import json

import zmq
import zmq.asyncio
from nbclient import NotebookClient
from nbformat.v4 import new_output

STREAM_KEEP = 32 << 10
MAX_OUTPUTS = 50
MAX_OUTPUT_BYTES = 4 << 20
MAX_NOTEBOOK_BYTES = 32 << 20
MAX_MESSAGE_BYTES = 64 << 20


def capped_context() -> zmq.asyncio.Context:
    """A zmq context whose sockets drop any message larger than ``MAX_MESSAGE_BYTES``."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    return context


class _Stream:
    """One stream of one cell: the head kept whole, the tail as a bounded run of chunks."""

    def __init__(self, node):
        self.node, self.head, self.tail, self.tail_len, self.cut = node, "", collections.deque(), 0, 0

    def add(self, text: str) -> None:
        if len(self.head) < STREAM_KEEP:
            take = STREAM_KEEP - len(self.head)
            self.head += text[:take]
            text = text[take:]
        if not text:
            return
        self.tail.append(text)
        self.tail_len += len(text)
        while self.tail_len - len(self.tail[0]) >= STREAM_KEEP:
            dropped = self.tail.popleft()
            self.tail_len -= len(dropped)
            self.cut += len(dropped)

    def text(self) -> str:
        tail = "".join(self.tail)
        if len(tail) > STREAM_KEEP:
            self.cut += len(tail) - STREAM_KEEP
            tail = tail[-STREAM_KEEP:]
            self.tail, self.tail_len = collections.deque([tail]), len(tail)
        middle = f"\n[... {self.cut} characters cut by the grader ...]\n" if self.cut else ""
        return self.head + middle + tail


class CappedNotebookClient(NotebookClient):
    """A NotebookClient that keeps bounded outputs; call :meth:`finish_cell` after each cell."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._streams: dict[tuple[int, str], _Stream] = {}
        self._counts: collections.Counter = collections.Counter()
        self._dropped: collections.Counter = collections.Counter()
        self._kept_bytes = 0

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content") or {}
        if msg.get("msg_type") == "stream":
            name = content.get("name") if content.get("name") in ("stdout", "stderr") else "stdout"
            key = (cell_index, name)
            stream = self._streams.get(key)
            if stream is None or not any(o is stream.node for o in outs):
                node = new_output("stream", name=name, text="")
                outs.append(node)
                stream = self._streams[key] = _Stream(node)
            stream.add(str(content.get("text", "")))
            return None
        size = len(json.dumps(content, default=str))
        if (self._counts[cell_index] >= MAX_OUTPUTS or size > MAX_OUTPUT_BYTES
                or self._kept_bytes + size > MAX_NOTEBOOK_BYTES):
            self._dropped[cell_index] += 1
            return None
        self._counts[cell_index] += 1
        self._kept_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def finish_cell(self, cell, cell_index: int) -> None:
        """Write each stream's kept text into its output, and say what was dropped."""
        for (index, _), stream in list(self._streams.items()):
            if index == cell_index:
                text = stream.text()
                room = max(0, MAX_NOTEBOOK_BYTES - self._kept_bytes)
                stream.node["text"] = text[:room]
                self._kept_bytes += len(stream.node["text"])
                del self._streams[(index, _)]
        if self._dropped[cell_index]:
            cell.outputs.append(new_output("stream", name="stderr", text=(
                f"[{self._dropped[cell_index]} outputs of this cell were not kept by the grader: "
                f"more than {MAX_OUTPUTS}, or too large]\n")))
