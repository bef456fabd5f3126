"""The StreamManager port: an append-only chunk log per stream.

Contract:

- ``write(stream_id, chunks, status=None)`` appends a batch and gives each chunk the next
  dense sequence number (1, 2, 3, ...). It returns a :class:`WriteAck` with the last
  sequence, how many readers are live right now, and whether an interrupt or abort was
  requested for the stream's session, so a writer learns both without a call of its own.
  With ``status``, the same write then moves the stream to it, as ``set_status`` would, in
  the same transaction: a run's last chunks and the stream's end are one call (one
  subrequest on Cloudflare), and no reader can see the last chunks of an ``ended`` stream
  without its end, or the end without them. Readers waiting are woken by the status as by
  the chunks. Writing to an ended or failed stream raises StreamClosedError (a StreamError)
  and changes nothing, with or without ``status``: a run's last write that is made again
  after it landed (a retried step) cannot repeat the run's end.
- ``read(stream_id, after, timeout)`` returns the chunks with sequence > ``after`` (at most
  ``limit``). When there are none and the stream is still active, it waits up to ``timeout``
  seconds for more, without polling; ``timeout=0`` never waits.
- ``set_status`` moves a stream through ``active`` to ``paused``, ``ended`` or ``failed``;
  ``ended`` and ``failed`` are final and wake every waiting reader.
- ``request_stop(stream_id, kind)`` records an interrupt/abort request that the next ack
  reports, and wakes every ``wait_stop`` of the stream.
- ``wait_stop(stream_id, timeout)`` returns the stop request in force as soon as there is
  one (at once if one already is), or None after ``timeout`` seconds. It is how a step
  learns of a stop while its model call is silent, without writing: the stop is pushed to
  it, not polled for. A stream that does not exist has no stop yet: the wait times out (a
  stop requested meanwhile creates the stream and ends the wait).

Every implementation checks its arguments with the functions below (written once, so the
local manager, the Durable Object and its client refuse the same values the same way):
``after`` a non-negative integer (InvalidCursorError), ``limit`` an integer from 1 to
:data:`MAX_READ_LIMIT`, a ``timeout`` a finite number of seconds >= 0 (StreamError).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, runtime_checkable

from ..chunks import Chunk, SequencedChunk
from ..errors import InvalidCursorError, StreamError

__all__ = [
    "MAX_READ_LIMIT",
    "ReadResult",
    "StopRequest",
    "StreamInfo",
    "StreamManager",
    "StreamStatus",
    "WaitsForEnd",
    "WriteAck",
    "check_cursor",
    "check_limit",
    "check_timeout",
]

StreamStatus = Literal["active", "paused", "ended", "failed"]
StopRequest = Literal["interrupt", "abort"]
#: The most chunks one read returns.
MAX_READ_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class WriteAck:
    last_seq: int
    readers: int = 0
    stop_requested: StopRequest | None = None


@dataclass(frozen=True, slots=True)
class StreamInfo:
    stream_id: str
    status: StreamStatus
    last_seq: int
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class ReadResult:
    chunks: list[SequencedChunk] = field(default_factory=list)
    status: StreamStatus = "active"
    last_seq: int = 0


@runtime_checkable
class StreamManager(Protocol):
    async def create(self, stream_id: str) -> StreamInfo:
        """Create the stream if it does not exist (idempotent) and return its info."""
        ...

    async def write(
        self, stream_id: str, chunks: Sequence[Chunk], status: StreamStatus | None = None
    ) -> WriteAck:
        """Append chunks, then move to ``status`` if given; returns the ack described
        above."""
        ...

    async def read(
        self, stream_id: str, after: int = 0, timeout: float = 0.0, limit: int = 1000
    ) -> ReadResult:
        """Chunks after ``after``, waiting up to ``timeout`` seconds when there are none."""
        ...

    async def set_status(self, stream_id: str, status: StreamStatus) -> StreamInfo:
        """Move the stream to ``status``; final statuses wake every waiting reader."""
        ...

    async def info(self, stream_id: str) -> StreamInfo | None:
        """The stream's status and last sequence, or None if it does not exist."""
        ...

    async def request_stop(self, stream_id: str, kind: StopRequest) -> None:
        """Record an interrupt or abort request; the next write's ack reports it and every
        :meth:`wait_stop` of the stream returns it."""
        ...

    async def wait_stop(self, stream_id: str, timeout: float) -> StopRequest | None:
        """The stop request in force, as soon as there is one; None after ``timeout``."""
        ...


@runtime_checkable
class WaitsForEnd(Protocol):
    """A stream manager that can wait for a stream's end without being woken by each of
    its writes (the local one). :meth:`RunHandle.result` uses it when it is there: a
    caller that only wants the outcome is then not a reader of the stream."""

    async def wait_final(self, stream_id: str, timeout: float) -> StreamStatus:
        """The stream's status as soon as it is final (``ended`` or ``failed``), or as it
        is after ``timeout`` seconds. StreamNotFoundError if the stream does not exist."""
        ...


def check_cursor(after: int) -> None:
    """``after`` must be a non-negative integer (a sequence number or 0)."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidCursorError(f"after must be a non-negative integer, not {after!r}")


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_READ_LIMIT:
        raise StreamError(f"limit must be an integer from 1 to {MAX_READ_LIMIT}, not {limit!r}")


def check_timeout(timeout: Any) -> None:
    """A read's or a stop wait's ``timeout``: a finite number of seconds >= 0."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not timeout >= 0
        or math.isinf(timeout)
    ):
        raise StreamError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
