"""Server-Sent Events for the AI SDK UI message stream.

Framing: each UI chunk is one event, ``id: <sequence>`` then ``data: <compact JSON>``; the
stream closes with ``data: [DONE]``; an idle stream gets a comment (``: keep-alive``) every
``keep_alive`` seconds so that proxies and browsers do not time it out. The AI SDK's client
only reads ``data:`` lines; the ``id:`` is for resuming: any SSE client sends it back as
``Last-Event-ID`` and gets every later event exactly once, with no state on the server.

A follower that stops early to stay within a platform limit
(:class:`~helix_agents.errors.StreamReaderLimitError`: a Worker's subrequests) ends the
body cleanly *without* ``[DONE]``, after a comment saying so: ``EventSource`` reconnects by
itself with ``Last-Event-ID``; other clients reattach to ``GET /chat/{id}/stream``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from types import MappingProxyType
from typing import Final

from pydantic_core import PydanticSerializationError, to_json

from ..chunks import SequencedChunk
from ..errors import InvalidCursorError, StreamError, StreamReaderLimitError
from ..ports.streams import StreamManager
from .follow import DEFAULT_POLL, aclose_iterator, follow_batches
from .ui import UIChunk, UIMessageEncoder, UIVersion, event_id

__all__ = [
    "DONE",
    "KEEP_ALIVE",
    "MAX_CURSOR",
    "REATTACH",
    "UI_MESSAGE_STREAM_HEADERS",
    "encode_event",
    "encode_sse",
    "parse_cursor",
    "resume_cursor",
    "sse_stream",
]

#: The response headers of a UI message stream (``ui-message-stream-headers.ts``), but for
#: its ``connection: keep-alive``: a hop-by-hop header, the transport's to manage (HTTP/1.1
#: keeps connections by default, HTTP/2 and 3 forbid the header) and one the Workers runtime
#: drops from a Worker's response, so the two hosts could not agree on it.
UI_MESSAGE_STREAM_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-vercel-ai-ui-message-stream": "v1",
        "x-accel-buffering": "no",
    }
)
KEEP_ALIVE: Final = b": keep-alive\n\n"
DONE: Final = b"data: [DONE]\n\n"
#: The comment that ends a body cut short within a platform limit (no ``[DONE]`` follows).
REATTACH: Final = b": reattach with Last-Event-ID to read on\n\n"
#: The largest sequence a JavaScript client can hold exactly (2**53 - 1).
MAX_CURSOR: Final = 2**53 - 1
_DIGITS = re.compile(r"[0-9]+")


def encode_event(chunk: UIChunk, seq: int | None = None) -> bytes:
    """One SSE event: ``id: <seq>`` (when given) and ``data: <json>``.

    JSON is compact; NaN and infinities become strings (JSON has no such numbers) and a
    value JSON cannot represent becomes its string form rather than breaking the stream.
    """
    try:
        data = to_json(chunk, inf_nan_mode="strings", serialize_unknown=True)
    except PydanticSerializationError as exc:  # pragma: no cover - serialize_unknown covers it
        raise StreamError(f"UI chunk {chunk.get('type')!r} cannot be encoded: {exc}") from exc
    if seq is None:
        return b"data: " + data + b"\n\n"
    return b"id: %d\ndata: %s\n\n" % (seq, data)


def parse_cursor(value: str, *, source: str = "cursor") -> int:
    """A resume position: a non-negative integer in decimal, nothing else.

    Surrounding spaces (HTTP's optional whitespace) are allowed; signs, fractions, exponents
    and anything else raise InvalidCursorError naming ``source`` (e.g. ``Last-Event-ID``).
    """
    text = value.strip(" \t") if isinstance(value, str) else None
    if not text or not _DIGITS.fullmatch(text):
        raise InvalidCursorError(
            f"{source} must be a non-negative integer (a stream sequence number), not {value!r}"
        )
    # Compared as text first: Python refuses to read an int of more than 4,300 digits.
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_CURSOR)) or int(digits) > MAX_CURSOR:
        shown = digits if len(digits) <= 40 else f"{digits[:20]}... ({len(digits)} digits)"
        raise InvalidCursorError(f"{source} {shown} is larger than any sequence number")
    return int(digits)


def resume_cursor(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> int | None:
    """Where a reattaching client resumes: the sequence after which to replay, or None.

    ``Last-Event-ID`` (what ``EventSource`` sends by itself) wins over
    ``X-Resume-From-Sequence`` (Helix's header), which wins over ``?from=``. Header names are
    matched case-insensitively. None means the client gave no position (replay the run from
    its start); a position that is given but malformed raises InvalidCursorError.
    """
    for name in ("last-event-id", "x-resume-from-sequence"):
        value = _header(headers, name)
        if value is not None:
            return parse_cursor(value, source=_HEADER_NAMES[name])
    if query is not None:
        value = query.get("from")
        if value is not None:
            return parse_cursor(value, source="the from query parameter")
    return None


_HEADER_NAMES: Final = {
    "last-event-id": "the Last-Event-ID header",
    "x-resume-from-sequence": "the X-Resume-From-Sequence header",
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, item in headers.items():  # a plain dict with other capitalisation
        if key.lower() == name:
            return item
    return None


async def encode_sse(
    batches: AsyncIterable[Sequence[SequencedChunk]],
    *,
    after: int = 0,
    ui_version: UIVersion = 6,
    done: bool = True,
) -> AsyncIterator[bytes]:
    """Turn a follower's batches into SSE bytes: one ``bytes`` per non-empty batch, a
    keep-alive comment per empty batch (an idle tick), and ``[DONE]`` at the end; a follower
    stopped within a platform limit ends the body with :data:`REATTACH` instead.

    ``after`` is the position the reader resumed from (see :class:`UIMessageEncoder`).
    """
    encoder = UIMessageEncoder(after=after, ui_version=ui_version)
    stream = aiter(batches)
    try:
        async for batch in stream:
            if not batch:
                yield KEEP_ALIVE
                continue
            events = []
            for item in batch:
                try:
                    ui = encoder.encode(item)
                except StreamError as exc:
                    # One bad chunk must not cut every reader off: say so in its place.
                    ui = {"type": "error", "errorText": str(exc)}
                if ui is not None:
                    events.append(encode_event(ui, event_id(item)))
            if events:
                yield b"".join(events)
    except StreamReaderLimitError:
        yield REATTACH
        return
    finally:
        # Closing this body closes the follower at once (its socket, its pending read).
        await aclose_iterator(stream)
    if done:
        yield DONE


def sse_stream(
    streams: StreamManager,
    stream_id: str,
    after: int = 0,
    *,
    keep_alive: float = DEFAULT_POLL,
    ui_version: UIVersion = 6,
) -> AsyncIterator[bytes]:
    """The SSE body for a stream, from ``after`` until it ends: what the HTTP layer hands
    to a streaming response (with :data:`UI_MESSAGE_STREAM_HEADERS`)."""
    batches = follow_batches(streams, stream_id, after, poll=keep_alive)
    return encode_sse(batches, after=after, ui_version=ui_version)
