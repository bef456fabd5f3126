"""The WebSocket side of the StreamManager Durable Object: frames and per-socket state.

A socket follows one run's stream, exactly as the local route ``GET /chat/{id}/ws`` does
(:mod:`helix_agents.http.websocket`), and receives the same frames, made by the same
:class:`~helix_agents.streaming.ws_protocol.FrameEncoder`: ``{"seq": N, "chunk": <UI
chunk>}`` per event, ``{"done": true, "runId": ..., "status": ...}`` when the stream ends,
then a close (1000). A client frame ``{"from": N}`` replays again from after N; ``ping`` is
answered by the runtime; anything else gets an error frame.

The Worker itself follows a stream this way for its SSE responses (one socket per response
instead of a long poll per write: see :mod:`.stream_follow`), in the *chunks* format
(``format=chunks`` on the upgrade): frames ``{"chunks": [[seq, <stored chunk>], ...]}``
carry the log's own chunks in batches (one per write, or per page of a replay, split to
stay under :data:`MAX_FRAME_BYTES`), so that the Worker encodes them for SSE exactly as a
long-polling reader does; the end is the same ``done`` frame and close.

Sockets are hibernatable, so nothing about them may live only in memory: each socket's
state (its stream, its reader's whole memory: the cursor, the encoder's record of the
attempts shown, resets shown and steps finished, the run's final status once seen) is its
*attachment*, a compact JSON string of at most :data:`MAX_ATTACHMENT` bytes (the platform
allows 2,048), rewritten after every send. After a wake-up the object finds its sockets
with ``ctx.getWebSockets(stream_id)`` and carries on from their attachments, exactly where
an object that never slept would be.

The frames themselves, their parsing and the close codes are the shared protocol's
(:mod:`helix_agents.streaming.ws_protocol`); this module adds what only the Durable Object
needs: the attachment and the chunks format.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...chunks import SequencedChunk, chunk_adapter
from ...errors import InvalidCursorError, StreamError
from ...streaming.ui import UIVersion
from ...streaming.ws_protocol import (
    PING,
    PONG,
    FrameEncoder,
    Seek,
    done_frame,
    error_frame,
    frame,
    parse_client_frame,
)

__all__ = [
    "MAX_ATTACHMENT",
    "MAX_FRAME_BYTES",
    "PING",
    "PONG",
    "SocketState",
    "chunk_frames",
    "decode_chunk_frame",
    "done_frame",
    "error_frame",
    "frame",
    "parse_seek",
]

MAX_ATTACHMENT: Final = 2000
#: The size a frame of chunks is kept under (a single larger chunk travels alone): far
#: below what a WebSocket message may carry, so that one frame never holds up a reader long.
MAX_FRAME_BYTES: Final = 256 * 1024


class SocketState:
    """One socket's follow state (see the module docstring): a UI reader
    (:class:`~helix_agents.streaming.ws_protocol.FrameEncoder`), or for the chunks format
    (``raw``) a bare cursor."""

    def __init__(
        self,
        stream_id: str,
        cursor: int = 0,
        ui_version: UIVersion = 6,
        raw: bool = False,
        *,
        status: str = "ended",
        reader: FrameEncoder | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.raw = raw
        self._raw_cursor = cursor
        self._raw_status = status
        self.reader: FrameEncoder | None = None
        if not raw:
            self.reader = reader or FrameEncoder(after=cursor, ui_version=ui_version)

    @property
    def cursor(self) -> int:
        return self.reader.cursor if self.reader is not None else self._raw_cursor

    @cursor.setter
    def cursor(self, value: int) -> None:
        if self.reader is not None:
            self.reader.encoder.cursor = max(self.reader.encoder.cursor, value)
        else:
            self._raw_cursor = value

    @property
    def ui_version(self) -> UIVersion:
        return self.reader.ui_version if self.reader is not None else 6

    @property
    def status(self) -> str:
        return self.reader.status if self.reader is not None else self._raw_status

    def frames(self, items: list[SequencedChunk]) -> list[str]:
        """The frames for ``items`` (in sequence order, after the cursor); advances."""
        if self.reader is not None:
            return self.reader.frames(items)
        fresh = [item for item in items if item.seq > self._raw_cursor]
        for item in fresh:
            if item.chunk.type == "run-end" and item.chunk.agent is None:
                self._raw_status = str(getattr(item.chunk, "status", "ended"))
        if fresh:
            self._raw_cursor = fresh[-1].seq
        return chunk_frames(fresh)

    def dump(self) -> str:
        """The attachment: at most :data:`MAX_ATTACHMENT` bytes. A reader whose memory
        would not fit forgets its least recent scopes (sub-agents) first: entries that can
        only matter if a step of theirs, long quiet, were retried."""
        if self.reader is None:
            data: dict[str, Any] = {"s": self.stream_id, "c": self._raw_cursor, "f": "chunks"}
            if self._raw_status != "ended":
                data["st"] = self._raw_status
            return json.dumps(data, separators=(",", ":"))
        data = {"s": self.stream_id, "r": self.reader.state()}
        text = json.dumps(data, separators=(",", ":"))
        while len(text.encode()) > MAX_ATTACHMENT and _forget_a_scope(data["r"]["e"]):
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def load(cls, text: Any) -> SocketState | None:
        if not isinstance(text, str):
            return None
        try:
            data = json.loads(text)
            stream_id = str(data["s"])
            if data.get("f") == "chunks":
                return cls(
                    stream_id, int(data.get("c", 0)), raw=True, status=str(data.get("st", "ended"))
                )
            return cls(stream_id, reader=FrameEncoder.from_state(data["r"]))
        except (ValueError, KeyError, TypeError, StreamError):
            return None


def parse_seek(text: str) -> int:
    """The cursor of a client's ``{"from": N}`` frame (InvalidCursorError otherwise; a
    ``ping`` is answered before this is asked)."""
    parsed = parse_client_frame(text)
    if isinstance(parsed, Seek):
        return parsed.cursor
    raise InvalidCursorError("a ping is answered pong, not followed")


def _forget_a_scope(state: dict[str, Any]) -> bool:
    """Drop every entry of the least recently shown scope (never the run's own, ``null``)
    from an encoder's state; False when there is nothing left to drop."""
    recency: dict[str | None, int] = {}
    for entry in state.get("s", []):
        recency[entry[0]] = max(recency.get(entry[0], 0), int(entry[3]))
    for entry in state.get("f", []):
        recency[entry[0]] = max(recency.get(entry[0], 0), int(entry[2]))
    for entry in (*state.get("r", []), *state.get("p", [])):
        recency.setdefault(entry[0], 0)
    candidates = [scope for scope in recency if scope is not None]
    if not candidates:
        return False
    oldest = min(candidates, key=lambda scope: recency[scope])
    for key in ("s", "r", "p", "f"):
        state[key] = [entry for entry in state.get(key, []) if entry[0] != oldest]
    return True


def chunk_frames(items: list[SequencedChunk], max_bytes: int = MAX_FRAME_BYTES) -> list[str]:
    """``items`` as frames of the chunks format, each under ``max_bytes`` (UTF-8) unless a
    single chunk is larger."""
    frames: list[str] = []
    parts: list[str] = []
    size = 0
    for item in items:
        part = f"[{item.seq},{item.chunk.to_json()}]"
        part_size = len(part.encode("utf-8"))
        if parts and size + part_size + 1 > max_bytes:
            frames.append('{"chunks":[' + ",".join(parts) + "]}")
            parts, size = [], 0
        parts.append(part)
        size += part_size + 1
    if parts:
        frames.append('{"chunks":[' + ",".join(parts) + "]}")
    return frames


def decode_chunk_frame(data: dict[str, Any]) -> list[SequencedChunk]:
    """The chunks of a parsed ``{"chunks": [...]}`` frame (StreamError if malformed)."""
    items = data.get("chunks")
    if not isinstance(items, list):
        raise StreamError("a chunks frame must hold a list of [seq, chunk] pairs")
    try:
        return [
            SequencedChunk.model_construct(seq=int(seq), chunk=chunk_adapter.validate_python(chunk))
            for seq, chunk in items
        ]
    except (TypeError, ValueError) as exc:
        raise StreamError(f"a chunks frame is malformed: {exc}") from None
