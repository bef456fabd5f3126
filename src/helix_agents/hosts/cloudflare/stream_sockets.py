"""The WebSocket side of the StreamManager Durable Object: frames and per-socket state.

A socket follows one run's stream, exactly as the local route ``GET /chat/{id}/ws`` does
(:mod:`helix_agents.http.websocket`), and receives the same frames: ``{"seq": N, "chunk":
<UI chunk>}`` per event (mapped by the same :class:`~helix_agents.streaming.ui.UIMessageEncoder`),
``{"done": true, "runId": ..., "status": ...}`` when the stream ends, then a close (1000).
A client frame ``{"from": N}`` replays again from after N; anything else gets an error
frame.

The Worker itself follows a stream this way for its SSE responses (one socket per response
instead of a long poll per write: see :mod:`.stream_follow`), in the *chunks* format
(``format=chunks`` on the upgrade): frames ``{"chunks": [[seq, <stored chunk>], ...]}``
carry the log's own chunks in batches (one per write, or per page of a replay, split to
stay under :data:`MAX_FRAME_BYTES`), so that the Worker encodes them for SSE exactly as a
long-polling reader does; the end is the same ``done`` frame and close.

Sockets are hibernatable, so nothing about them may live only in memory: each socket's
state (its stream, the last sequence it was sent, the encoder's memory of shown resets, the
run's final status once seen) is its *attachment*, a compact JSON string of at most
:data:`MAX_ATTACHMENT` bytes (the platform allows 2,048), rewritten after every send. After
a wake-up the object finds its sockets with ``ctx.getWebSockets(stream_id)`` and carries on
from their attachments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic_core import to_json

from ..._json import loads_bounded
from ...chunks import SequencedChunk, chunk_adapter
from ...errors import InvalidCursorError, StreamError
from ...streaming.chunklog import AttemptKey
from ...streaming.sse import parse_cursor
from ...streaming.ui import UIMessageEncoder, UIVersion

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
#: The ping a client may send at any time, and the answer the runtime gives without waking
#: the object (``setWebSocketAutoResponse``).
PING: Final = "ping"
PONG: Final = "pong"
#: The size a frame of chunks is kept under (a single larger chunk travels alone): far
#: below what a WebSocket message may carry, so that one frame never holds up a reader long.
MAX_FRAME_BYTES: Final = 256 * 1024
#: How many shown resets an attachment remembers (a run retries its model step rarely).
_MAX_RESETS = 16


@dataclass
class SocketState:
    """One socket's follow state (see the module docstring)."""

    stream_id: str
    cursor: int = 0
    ui_version: UIVersion = 6
    status: str = "ended"
    reset_shown: list[list[Any]] = field(default_factory=list)
    suppress_start: list[list[Any]] = field(default_factory=list)
    #: The chunks format (the Worker's own sockets): stored chunks, not UI frames.
    raw: bool = False

    def encoder(self) -> UIMessageEncoder:
        encoder = UIMessageEncoder(after=self.cursor, ui_version=self.ui_version)
        # The encoder's memory of this reader; kept across hibernation in the attachment.
        encoder._reset_shown = {_key(k) for k in self.reset_shown}
        encoder._suppress_start = {(k[0], int(k[1])) for k in self.suppress_start}
        return encoder

    def absorb(self, encoder: UIMessageEncoder) -> None:
        self.cursor = encoder.cursor
        self.reset_shown = [list(k) for k in sorted(encoder._reset_shown, key=_order)][
            -_MAX_RESETS:
        ]
        self.suppress_start = [list(k) for k in encoder._suppress_start][-_MAX_RESETS:]

    def frames(self, items: list[SequencedChunk]) -> list[str]:
        """The frames for ``items`` (in sequence order, after the cursor); advances."""
        if self.raw:
            fresh = [item for item in items if item.seq > self.cursor]
            for item in fresh:
                if item.chunk.type == "run-end":
                    self.status = str(getattr(item.chunk, "status", "ended"))
            if fresh:
                self.cursor = fresh[-1].seq
            return chunk_frames(fresh)
        encoder = self.encoder()
        out: list[str] = []
        for item in items:
            if item.seq <= self.cursor:
                continue
            if item.chunk.type == "run-end":
                self.status = str(getattr(item.chunk, "status", "ended"))
            try:
                ui = encoder.encode(item)
            except StreamError as exc:
                ui = {"type": "error", "errorText": str(exc)}
            if ui is not None:
                out.append(frame({"seq": item.seq, "chunk": ui}))
        self.absorb(encoder)
        return out

    def dump(self) -> str:
        data: dict[str, Any] = {"s": self.stream_id, "c": self.cursor, "v": self.ui_version}
        if self.status != "ended":
            data["st"] = self.status
        if self.reset_shown:
            data["r"] = self.reset_shown
        if self.suppress_start:
            data["ss"] = self.suppress_start
        if self.raw:
            data["f"] = "chunks"
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > MAX_ATTACHMENT:  # drop the reset memory before anything essential
            data.pop("r", None)
            data.pop("ss", None)
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def load(cls, text: Any) -> SocketState | None:
        if not isinstance(text, str):
            return None
        try:
            data = json.loads(text)
            version = int(data.get("v", 6))
            return cls(
                stream_id=str(data["s"]),
                cursor=int(data.get("c", 0)),
                ui_version=7 if version == 7 else 6,
                status=str(data.get("st", "ended")),
                reset_shown=list(data.get("r", [])),
                suppress_start=list(data.get("ss", [])),
                raw=data.get("f") == "chunks",
            )
        except (ValueError, KeyError, TypeError):
            return None


def frame(data: dict[str, Any]) -> str:
    """A frame's text, encoded exactly as the local route encodes it."""
    return to_json(data, inf_nan_mode="strings").decode()


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


def done_frame(stream_id: str, status: str) -> str:
    return frame({"done": True, "runId": stream_id, "status": status})


def error_frame(code: str, message: str) -> str:
    return frame({"error": {"code": code, "message": message}})


def parse_seek(text: str) -> int:
    """The cursor of a client's ``{"from": N}`` frame (InvalidCursorError otherwise)."""
    try:
        data = loads_bounded(text)  # a frame nested too deep would kill a Worker's isolate
    except (ValueError, RecursionError):
        raise InvalidCursorError('frames must be JSON: {"from": <sequence>}') from None
    if not isinstance(data, dict) or "from" not in data:
        raise InvalidCursorError('the only client frame is {"from": <sequence>}')
    value = data["from"]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidCursorError('"from" must be a non-negative integer')
    return parse_cursor(str(value), source='"from"')


def _key(value: list[Any]) -> AttemptKey:
    scope, step, attempt = value
    return (scope, int(step), None if attempt is None else int(attempt))


def _order(key: AttemptKey) -> tuple[str, int, int]:
    scope, step, attempt = key
    return (scope or "", step, -1 if attempt is None else attempt)
