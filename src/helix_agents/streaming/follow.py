"""Following a stream through the StreamManager port, on any host.

A follower reads after its cursor with a waiting read, yields what came, and stops once the
stream is final and drained. It works the same against the local manager (where a waiting
read is an in-process future) and the Durable Object (where it is a long-poll), so SSE,
WebSocket bridges and the terminal CLI share it.

A manager may know a cheaper way to follow than reading in a loop: one that has a
``follow_batches`` method (:class:`BatchFollowing`) is followed through it. The Cloudflare
host's manager follows over one WebSocket to its Durable Object, so that a Worker's SSE
response does not spend a subrequest per write; it may also stop early within the
platform's limits, raising :class:`~helix_agents.errors.StreamReaderLimitError`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from ..chunks import SequencedChunk
from ..errors import StreamError
from ..ports.streams import StreamManager
from .chunklog import FINAL_STATUSES, check_cursor

__all__ = ["DEFAULT_POLL", "BatchFollowing", "aclose_iterator", "follow", "follow_batches"]

#: How long one read waits for new chunks; also the idle tick of :func:`follow_batches`.
DEFAULT_POLL = 15.0


@runtime_checkable
class BatchFollowing(Protocol):
    """A stream manager with its own way of following a stream; it keeps the contract of
    :func:`follow_batches` (arguments already checked)."""

    def follow_batches(
        self, stream_id: str, after: int = 0, *, poll: float, limit: int = 1000
    ) -> AsyncIterator[list[SequencedChunk]]: ...


async def follow_batches(
    streams: StreamManager,
    stream_id: str,
    after: int = 0,
    *,
    poll: float = DEFAULT_POLL,
    limit: int = 1000,
) -> AsyncIterator[list[SequencedChunk]]:
    """Yield the stream's chunks after ``after`` in batches, as they arrive.

    An empty batch means ``poll`` seconds passed without a new chunk (an SSE writer sends a
    keep-alive then). The iterator ends when the stream is ``ended`` or ``failed`` and every
    chunk has been yielded.
    """
    check_cursor(after)
    _check_seconds("poll", poll, allow_zero=False)
    if isinstance(streams, BatchFollowing):
        batches = streams.follow_batches(stream_id, after, poll=poll, limit=limit)
        try:
            async for batch in batches:
                yield batch
        finally:
            await aclose_iterator(batches)
        return
    cursor = after
    while True:
        result = await streams.read(stream_id, after=cursor, timeout=poll, limit=limit)
        if result.chunks:
            cursor = result.chunks[-1].seq
            yield result.chunks
        elif result.status in FINAL_STATUSES:
            return
        else:
            yield []


async def follow(
    streams: StreamManager,
    stream_id: str,
    after: int = 0,
    *,
    idle_timeout: float | None = None,
    poll: float = DEFAULT_POLL,
) -> AsyncIterator[SequencedChunk]:
    """Yield the stream's chunks after ``after`` one by one until the stream ends.

    With ``idle_timeout``, a stream that yields nothing for that many seconds raises
    StreamError (a stuck run does not hold a follower forever); None waits as long as the
    stream stays open.
    """
    if idle_timeout is not None:
        _check_seconds("idle_timeout", idle_timeout, allow_zero=False)
        poll = min(poll, idle_timeout)
    loop = asyncio.get_running_loop()
    last = loop.time()
    async for batch in follow_batches(streams, stream_id, after, poll=poll):
        if batch:
            for item in batch:
                yield item
            last = loop.time()
        elif idle_timeout is not None and loop.time() - last >= idle_timeout:
            raise StreamError(f"stream {stream_id!r} sent nothing for {idle_timeout:g} seconds")


async def aclose_iterator(iterator: object) -> None:
    """Close an async iterator that can be closed (a generator left midway does not close
    the one it was reading from by itself: this releases its socket or pending read now)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise StreamError(f"{name} must be a finite number of seconds {bound}, not {value!r}")
