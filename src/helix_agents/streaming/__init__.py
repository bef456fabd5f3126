"""Streams: the chunk log both hosts share, following a stream, and the AI SDK encoding.

- :mod:`.chunklog` — the chunk log over a synchronous SQL executor (sqlite3, a Durable
  Object's storage): dense sequences, statuses, stop requests, superseded attempts.
- :mod:`.follow` — following a stream through the StreamManager port.
- :mod:`.ui` — our chunks as AI SDK UI message stream chunks; :mod:`.ui_schema` checks them.
- :mod:`.sse` — Server-Sent Events framing, headers, keep-alives and resume cursors.
- :mod:`.ws_protocol` — the WebSocket frame protocol both hosts speak, and a socket's reader.
"""

from .chunklog import ChunkLog, SqlExecutor
from .follow import follow, follow_batches
from .sse import (
    DONE,
    KEEP_ALIVE,
    UI_MESSAGE_STREAM_HEADERS,
    encode_event,
    encode_sse,
    parse_cursor,
    resume_cursor,
    sse_stream,
)
from .ui import UIMessageEncoder, to_ui_chunk, ui_finish_reason

__all__ = [
    "DONE",
    "KEEP_ALIVE",
    "UI_MESSAGE_STREAM_HEADERS",
    "ChunkLog",
    "SqlExecutor",
    "UIMessageEncoder",
    "encode_event",
    "encode_sse",
    "follow",
    "follow_batches",
    "parse_cursor",
    "resume_cursor",
    "sse_stream",
    "to_ui_chunk",
    "ui_finish_reason",
]
