"""Following a stream from the Worker, for an SSE response, within one invocation's limits.

An SSE response is one Worker invocation, and every call it makes to the StreamManager
Durable Object is one of its at most 1,000 subrequests. A long-polling reader makes one
per write that reaches it (about four a second while text streams), so a response that
streams for more than about four minutes would hit the limit and break.

So the Worker follows the stream over **one WebSocket** to the object instead: a
``stub.fetch`` with ``Upgrade: websocket`` to the object's socket endpoint, in the *chunks*
format (:mod:`.stream_sockets`). The object accepts it with the hibernation API (so it may
hibernate between writes: no read is parked in it), replays after the reader's cursor and
pushes every later write as one frame; messages on an open socket are no subrequests. One
response costs one subrequest however long it streams, plus one per reopening: after the
socket closed without the stream's end (the object was replaced by a deploy), or after a
client so slow that :attr:`ReaderPolicy.max_buffer_bytes` of frames waited for it (the
socket is let go and reopened from the cursor once it caught up). Every reopening resumes
after the last chunk handed on, so nothing is lost or repeated.

**Fallback.** When no socket can be opened (the fetch fails, or the answer carries no
socket), when it keeps closing without delivering anything
(:attr:`ReaderPolicy.reopen_limit` times in a row), or with ``ReaderPolicy(socket=False)``,
the reader long-polls, paced so that its subrequests last: the first
:attr:`~ReaderPolicy.widen_after` polls follow every write, then it waits
:attr:`~ReaderPolicy.first_interval` seconds between polls, twice as long every
``widen_after`` polls more, up to :attr:`~ReaderPolicy.max_interval` (text arrives in
larger, later pieces, nothing is dropped). Each fallback is logged with its reason.

**The budget.** Every subrequest the reader makes counts against
:attr:`ReaderPolicy.budget` (900 by default, leaving room under 1,000 for what the request
did before streaming). A reader that has spent it stops with
:class:`~helix_agents.errors.StreamReaderLimitError`: the SSE response ends cleanly without
``[DONE]`` and the client reattaches with ``Last-Event-ID`` (a new invocation, a new
budget), getting exactly the chunks after the last one it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from ...chunks import SequencedChunk
from ...errors import (
    ConfigurationError,
    HelixError,
    StreamError,
    StreamNotFoundError,
    StreamReaderLimitError,
)
from ...streaming.chunklog import FINAL_STATUSES
from . import ffi
from .carrier import js_error_text
from .stream_sockets import PING, PONG, decode_chunk_frame

if TYPE_CHECKING:
    from .stream_client import DOStreamManager

__all__ = ["ReaderPolicy", "StreamFollower"]

logger = logging.getLogger("helix_agents.cloudflare")

_DONE_PREFIX: Final = '{"done"'
#: The object's socket endpoint (the host name is a placeholder: a stub routes by itself).
_SOCKET_URL: Final = "https://stream-manager/ws?stream={stream}&from={cursor}&format=chunks"


@dataclass(frozen=True)
class ReaderPolicy:
    """How the Worker follows a stream for an SSE response (see the module docstring)."""

    #: Follow over a WebSocket to the Durable Object (False: always long-poll).
    socket: bool = True
    #: Subrequests one response may spend following its stream.
    budget: int = 900
    #: Socket openings in a row that deliver nothing before falling back to long polls.
    reopen_limit: int = 3
    #: Bytes of frames that may wait for a slow client before the socket is let go.
    max_buffer_bytes: int = 4 * 1024 * 1024
    #: Long polls that follow every write before the fallback starts to space them out.
    widen_after: int = 100
    first_interval: float = 0.5
    widen_factor: float = 2.0
    max_interval: float = 10.0

    def __post_init__(self) -> None:
        if self.budget < 1 or self.reopen_limit < 0 or self.widen_after < 1:
            raise ConfigurationError(
                "ReaderPolicy needs budget >= 1, reopen_limit >= 0 and widen_after >= 1"
            )
        if not (0 <= self.first_interval <= self.max_interval) or self.widen_factor < 1:
            raise ConfigurationError(
                "ReaderPolicy needs 0 <= first_interval <= max_interval and widen_factor >= 1"
            )
        if self.max_buffer_bytes < 1:
            raise ConfigurationError("ReaderPolicy.max_buffer_bytes must be positive")

    def interval(self, polls: int) -> float:
        """Seconds the fallback waits before its long poll number ``polls`` (from 0)."""
        if polls < self.widen_after:
            return 0.0
        doublings = (polls - self.widen_after) // self.widen_after
        return float(min(self.max_interval, self.first_interval * self.widen_factor**doublings))


class StreamFollower:
    """One SSE response's reader of ``stream_id`` from after ``after``: :meth:`batches`
    yields what :func:`helix_agents.streaming.follow_batches` promises (an empty batch per
    ``poll`` seconds of silence, the end once the stream is final and drained)."""

    def __init__(
        self,
        manager: DOStreamManager,
        stream_id: str,
        after: int,
        *,
        poll: float,
        limit: int,
        policy: ReaderPolicy,
    ) -> None:
        self._manager = manager
        self.stream_id = stream_id
        self.cursor = after
        self._poll = poll
        self._limit = limit
        self.policy = policy
        #: Subrequests spent so far (socket openings and long polls, retries included).
        self.spent = 0
        self.openings = 0
        self.polls = 0
        #: Why this reader long-polls (None while it follows over a socket).
        self.fallback: str | None = None if policy.socket else "configured"
        self._done = False

    async def batches(self) -> AsyncIterator[list[SequencedChunk]]:
        if self.fallback is None:
            # aclosing: a reader that leaves midway closes the socket now, not at GC.
            async with contextlib.aclosing(self._over_sockets()) as batches:
                async for batch in batches:
                    yield batch
            if self._done:
                return
            logger.warning(
                "the SSE reader of %s long-polls from sequence %d: %s",
                self.stream_id,
                self.cursor,
                self.fallback,
            )
        self._manager.follows["poll"] += 1
        async with contextlib.aclosing(self._by_polling()) as batches:
            async for batch in batches:
                yield batch

    # -- over a socket -----------------------------------------------------------------------

    async def _over_sockets(self) -> AsyncGenerator[list[SequencedChunk], None]:
        fruitless = 0
        while True:
            socket = await self._open()
            if socket is None:
                return
            delivered = False
            try:
                while True:
                    try:
                        kind, value = await asyncio.wait_for(socket.next(), self._poll)
                    except TimeoutError:
                        # Silence: a keep-alive for the client, a ping for the socket (the
                        # object's runtime answers it without waking the object).
                        socket.ping()
                        yield []
                        continue
                    if kind == "chunks":
                        for batch in self._fresh(value):
                            delivered = True
                            yield batch
                    elif kind == "done":
                        self._done = True
                        return
                    elif kind == "overflow":
                        delivered = True  # a slow client, not a failing socket
                        break
                    elif kind == "closed":
                        break
            finally:
                socket.close()
            fruitless = 0 if delivered else fruitless + 1
            if fruitless > self.policy.reopen_limit:
                self.fallback = f"the socket closed {fruitless} times without delivering"
                return

    async def _open(self) -> _Socket | None:
        self._spend()
        self.openings += 1
        url = _SOCKET_URL.format(stream=quote(self.stream_id, safe=""), cursor=self.cursor)
        try:
            stub = self._manager.stub(self.stream_id)
            response = await stub.fetch(url, headers={"Upgrade": "websocket"})
        except HelixError:
            raise
        except Exception as exc:
            self.fallback = f"no socket could be opened: {js_error_text(exc)}"
            return None
        ws = ffi.response_websocket(response)
        if ws is None:
            status = getattr(response, "status", "?")
            self.fallback = f"the stream manager answered {status} without a socket"
            return None
        try:
            socket = _Socket(ws, self.policy.max_buffer_bytes)
        except Exception as exc:
            self.fallback = f"the socket could not be accepted: {js_error_text(exc)}"
            return None
        if self.openings == 1:
            self._manager.follows["socket"] += 1
        return socket

    def _fresh(self, chunks: list[SequencedChunk]) -> list[list[SequencedChunk]]:
        """The chunks after the cursor, in batches of at most ``limit``; advances."""
        fresh = [item for item in chunks if item.seq > self.cursor]
        if not fresh:
            return []
        self.cursor = fresh[-1].seq
        return [fresh[i : i + self._limit] for i in range(0, len(fresh), self._limit)]

    # -- by long polling ---------------------------------------------------------------------

    async def _by_polling(self) -> AsyncGenerator[list[SequencedChunk], None]:
        while True:
            pause = self.policy.interval(self.polls)
            if pause > 0:
                await asyncio.sleep(pause)
            self.polls += 1
            result = await self._manager.read_once(
                self.stream_id, self.cursor, self._poll, self._limit, spend=self._spend
            )
            if result.chunks:
                self.cursor = result.chunks[-1].seq
                yield result.chunks
            elif result.status in FINAL_STATUSES:
                self._done = True
                return
            else:
                yield []

    def _spend(self) -> None:
        """Count one subrequest, or stop: every chunk up to the cursor was handed on (a
        subrequest is only made once the previous ones' chunks were taken)."""
        if self.spent >= self.policy.budget:
            raise StreamReaderLimitError(
                f"the reader of {self.stream_id!r} spent its {self.policy.budget} subrequests;"
                f" resume after sequence {self.cursor}",
                cursor=self.cursor,
            )
        self.spent += 1


class _Socket:
    """One socket the Worker holds to the object: its frames wait in a queue for the reader.

    The listeners run as JavaScript dispatches events; they only queue. Frames are parsed as
    the reader takes them. A client too slow for the stream lets frames pile up: past
    ``max_bytes`` the socket is let go (the reader reopens from its cursor once it drained
    what is queued), rather than the Worker's memory filling up.
    """

    def __init__(self, ws: Any, max_bytes: int) -> None:
        self._ws = ws
        self._max_bytes = max_bytes
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._buffered = 0
        self.closed = False
        ws.accept()
        try:
            self._listeners: ffi.SocketListeners | None = ffi.SocketListeners(
                ws, self._on_message, self._on_close
            )
        except Exception:
            ws.close(1011, "")
            raise

    async def next(self) -> tuple[str, Any]:
        """The next event: ``("chunks", [...])``, ``("done", None)``, ``("overflow", None)``
        or ``("closed", code)``; raises for a stream that does not exist or an error frame."""
        while True:
            kind, value = await self._queue.get()
            if kind != "text":
                return kind, value
            self._buffered -= len(value)
            parsed = _parse(value)
            if parsed is not None:
                return parsed

    def ping(self) -> None:
        if self.closed:
            return
        try:
            self._ws.send(PING)
        except Exception:  # the connection is gone: the close event follows, or reopen now
            self._on_close(1006, "")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._detach()
        try:
            self._ws.close(1000, "")
        except Exception:  # already closed by the other side
            pass

    def _on_message(self, text: str) -> None:
        if self.closed:
            return
        # The end is always taken (nothing follows it); anything else waits only while the
        # queue holds less than max_bytes.
        over = self._buffered and self._buffered + len(text) > self._max_bytes
        if over and not text.startswith(_DONE_PREFIX):
            self._queue.put_nowait(("overflow", None))
            self.close()
            return
        self._buffered += len(text)
        self._queue.put_nowait(("text", text))

    def _on_close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._detach()
        self._queue.put_nowait(("closed", code))

    def _detach(self) -> None:
        listeners, self._listeners = self._listeners, None
        if listeners is not None:
            listeners.detach()


def _parse(text: str) -> tuple[str, Any] | None:
    if text == PONG:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise StreamError("the stream manager sent a frame that is not JSON") from None
    if not isinstance(data, dict):
        return None
    if "chunks" in data:
        return "chunks", decode_chunk_frame(data)
    if data.get("done"):
        if data.get("active") is False:
            raise StreamNotFoundError("the stream does not exist")
        return "done", None
    error = data.get("error")
    if isinstance(error, dict):
        raise StreamError(f"the stream manager refused the reader: {error.get('message')}")
    return None
