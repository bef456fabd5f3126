"""The WebSocket frame protocol of ``GET /chat/{sessionId}/ws``, written once for both hosts.

The local host's Starlette route (:mod:`helix_agents.http.websocket`) and the Cloudflare
host's Durable Object (:mod:`helix_agents.hosts.cloudflare.stream_sockets`) speak it through
this module, so a client cannot tell them apart. Nothing here imports Starlette or a host.

Frames are JSON text, one per WebSocket message.

Server to client:

- ``{"seq": N, "chunk": <UI chunk>}``: one event of the run's UI message stream, the same
  chunk an SSE reader gets for it. ``N`` is the cursor to come back with: the chunk's
  sequence, but for a shown reset, the sequence before it (as an SSE event's id, see
  :func:`~helix_agents.streaming.ui.event_id`);
- ``{"done": true, "runId": ..., "status": ...}`` when the run's stream ends, then a close
  (1000); ``{"done": true, "active": false}`` and a close (1000) when there is no run to
  follow;
- ``{"error": {"code", "message"}}``: a refused connection (then a close ``4000 + status``:
  4400, 4401, 4403, 4404, 4421...; 1011 for an internal error) or a client frame that is
  not understood (the socket stays open).

Client to server:

- ``{"from": N}``: replay again from after ``N`` (a non-negative integer, or its decimal
  string), e.g. after the client dropped frames;
- ``ping``: answered ``pong`` (on Cloudflare by the runtime, without waking the object).

:class:`FrameEncoder` is one reader's side of it: the chunks it reads, in order, become its
frames. Its whole memory (:meth:`FrameEncoder.state`) is plain data, which is how a
hibernating socket keeps it across wake-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydantic_core import to_json

from .._json import loads_bounded
from ..chunks import RunEndChunk, SequencedChunk
from ..errors import InvalidCursorError, StreamError
from .sse import parse_cursor
from .ui import EncoderState, UIChunk, UIMessageEncoder, UIVersion, event_id

__all__ = [
    "CLOSE_ERROR",
    "CLOSE_NORMAL",
    "INACTIVE_FRAME",
    "PING",
    "PONG",
    "FrameEncoder",
    "Ping",
    "Seek",
    "chunk_frame",
    "close_code",
    "done_frame",
    "error_frame",
    "frame",
    "parse_client_frame",
]

#: The close after the ``done`` frame (and after ``{"done": true, "active": false}``).
CLOSE_NORMAL: Final = 1000
#: The close after an internal error (the frame says no more than ``internal_error``).
CLOSE_ERROR: Final = 1011
#: A client's keep-alive, and its answer.
PING: Final = "ping"
PONG: Final = "pong"


def frame(data: dict[str, Any]) -> str:
    """A frame's text: compact JSON; NaN and infinities become strings (JSON has none)."""
    return to_json(data, inf_nan_mode="strings", serialize_unknown=True).decode()


def chunk_frame(seq: int, chunk: UIChunk) -> str:
    return frame({"seq": seq, "chunk": chunk})


def done_frame(run_id: str, status: str) -> str:
    return frame({"done": True, "runId": run_id, "status": status})


INACTIVE_FRAME: Final = frame({"done": True, "active": False})


def error_frame(code: str, message: str) -> str:
    return frame({"error": {"code": code, "message": message}})


def close_code(status: int) -> int:
    """The close code of a connection refused with the API's HTTP ``status`` (4401, 4403,
    4404, 4503 ``auth_not_configured``...). An internal error closes with
    :data:`CLOSE_ERROR` instead, saying no more."""
    return 4000 + status


@dataclass(frozen=True)
class Seek:
    """``{"from": N}``: replay from after ``cursor``."""

    cursor: int


@dataclass(frozen=True)
class Ping:
    """``ping``: answer ``pong``."""


def parse_client_frame(text: str) -> Seek | Ping:
    """A client's frame (InvalidCursorError, code ``invalid_cursor``, for anything else)."""
    if text == PING:
        return Ping()
    try:
        data = loads_bounded(text)  # a frame nested too deep would kill a Worker's isolate
    except (ValueError, RecursionError):
        raise InvalidCursorError('frames must be JSON: {"from": <sequence>}, or ping') from None
    if not isinstance(data, dict) or "from" not in data:
        raise InvalidCursorError('the client frames are {"from": <sequence>} and ping')
    value = data["from"]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidCursorError('"from" must be a non-negative integer')
    return Seek(parse_cursor(str(value), source='"from"'))


class FrameEncoder:
    """One reader's frames: the chunks it reads (in sequence order) mapped by one
    :class:`~helix_agents.streaming.ui.UIMessageEncoder` for the whole connection, so what
    it remembers across chunks (the attempts the reader saw, the resets it was shown, the
    steps it was told are finished) holds from one batch to the next; and the run's status,
    once its end was read."""

    def __init__(
        self,
        *,
        after: int = 0,
        ui_version: UIVersion = 6,
        encoder: UIMessageEncoder | None = None,
        status: str = "ended",
    ) -> None:
        self.encoder = encoder or UIMessageEncoder(after=after, ui_version=ui_version)
        self.status = status

    @property
    def cursor(self) -> int:
        """The last sequence read (not the last frame's ``seq``: see the module docstring)."""
        return self.encoder.cursor

    @property
    def ui_version(self) -> UIVersion:
        return self.encoder.ui_version

    def frames(self, items: Iterable[SequencedChunk]) -> list[str]:
        """The frames for ``items``; those at or before the cursor were read already."""
        out: list[str] = []
        for item in items:
            if item.seq <= self.encoder.cursor:
                continue
            if isinstance(item.chunk, RunEndChunk) and item.chunk.agent is None:
                self.status = item.chunk.status
            try:
                ui = self.encoder.encode(item)
            except StreamError as exc:
                # One bad chunk must not cut the reader off: say so in its place.
                ui = {"type": "error", "errorText": str(exc)}
            if ui is not None:
                out.append(chunk_frame(event_id(item), ui))
        return out

    def state(self) -> dict[str, Any]:
        """The reader's memory as JSON-able data (:meth:`from_state` reads it back)."""
        data: dict[str, Any] = {"e": self.encoder.state(), "v": self.encoder.ui_version}
        if self.status != "ended":
            data["st"] = self.status
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> FrameEncoder:
        """StreamError if ``data`` is malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("e"), dict):
            raise StreamError("a WebSocket reader's state is malformed")
        version: UIVersion = 7 if data.get("v") == 7 else 6
        state: EncoderState = data["e"]
        encoder = UIMessageEncoder.from_state(state, ui_version=version)
        return cls(encoder=encoder, status=str(data.get("st", "ended")))
