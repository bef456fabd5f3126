"""Coalesces a step's chunks into batched stream writes.

The first chunk of a step goes out at once, so a reader sees the model start. After that,
chunks wait in a buffer until the flush interval passes; the interval adapts to who is
listening: the StreamManager's ack to each write says how many readers are live. With
readers the interval is short (text reaches them within ``live_interval``); without any, it
is long, because the step persists the complete message in the database anyway. As the
number of writes of a step grows, the interval widens, so one step stays far below
Cloudflare's 1,000-subrequest limit however long it streams. The same ack carries interrupt
and abort requests, so neither costs a call of its own.

When the model is done, the step holds its writer (:meth:`~StreamWriter.hold`): the chunks
that follow (the end of the last part, tool inputs, the step's end, the run's end) wait for the
step's one write of its tail instead of going out on the policy's rhythm, so a step's tail
costs no write of its own. Where that write goes is the model step's one rule
(:meth:`.model_step.ModelStep.apply`): before its commit when the run goes on; after it,
with the stream's final status, when the step ends the run (:meth:`~StreamWriter.flush`
with ``status``).

The writer only writes when it has something to say (or a step asks it to,
:meth:`~StreamWriter.probe`): a stop that comes while the model is silent reaches the step
through the StreamManager's ``wait_stop``, which the model step awaits beside the call, and
the step tells its writer (:meth:`~StreamWriter.note_stop`). So a silent model call costs no
writes, and the stream's Durable Object is not woken by any.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._base import Record
from ..chunks import Chunk
from ..ports.streams import StopRequest, StreamManager, StreamStatus, WriteAck

__all__ = ["FlushPolicy", "StreamWriter"]


@dataclass(frozen=True)
class FlushPolicy:
    """When buffered chunks are written. Seconds throughout.

    - ``live_interval``: the longest a chunk waits while someone is reading.
    - ``idle_interval``: the longest it waits while nobody is.
    - ``widen_after`` / ``widen_factor``: after that many writes in one step, every further
      ``widen_after`` writes multiply the interval by ``widen_factor``.
    - ``max_buffer``: flush at once when this many chunks are waiting.
    """

    live_interval: float = 0.2
    idle_interval: float = 2.0
    widen_after: int = 100
    widen_factor: float = 2.0
    max_buffer: int = 2000

    def interval(self, *, readers: int, writes: int) -> float:
        base = self.live_interval if readers > 0 else self.idle_interval
        if writes <= self.widen_after:
            return base
        return base * self.widen_factor ** math.ceil((writes - self.widen_after) / self.widen_after)


#: The local host writes to SQLite in-process: cheap, so flush almost at once.
LOCAL_FLUSH_POLICY = FlushPolicy(live_interval=0.02, idle_interval=0.05, widen_after=10_000)


class StreamWriter:
    """Buffered writer for one step's chunks; tags every chunk with the step and attempt."""

    def __init__(
        self,
        streams: StreamManager,
        stream_id: str,
        *,
        step: int | None,
        attempt: int | None,
        policy: FlushPolicy = LOCAL_FLUSH_POLICY,
        clock: Callable[[], float] | None = None,
        agent: str | None = None,
        source_session_id: str | None = None,
    ) -> None:
        self._streams = streams
        self._stream_id = stream_id
        self._step = step
        self._attempt = attempt
        self._policy = policy
        self._clock = clock or _monotonic
        self._agent = agent
        self._source_session_id = source_session_id
        self._buffer: list[Chunk] = []
        self._writes = 0
        self._issued = 0
        self._readers = 0
        self._last_flush = -math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._held = False
        self.stop_requested: StopRequest | None = None
        self.last_ack: WriteAck | None = None

    @property
    def stream_id(self) -> str:
        return self._stream_id

    @property
    def writes(self) -> int:
        """How many stream writes (subrequests on Cloudflare) this writer made."""
        return self._writes

    async def add(
        self,
        chunk: Chunk,
        *,
        tag: bool = True,
        step: int | None = None,
        attempt: int | None = None,
    ) -> None:
        """Queue a chunk; write now if the policy says so. With ``tag=False`` the chunk
        keeps the given step and attempt instead of the writer's (a step-reset names the
        attempt it supersedes)."""
        self._raise_pending_error()
        tags: dict[str, Any] = {
            "step": self._step if tag else step,
            "attempt": self._attempt if tag else attempt,
        }
        if self._agent is not None:
            tags["agent"] = self._agent
            tags["source_session_id"] = self._source_session_id
        set_fields(chunk, tags)
        self._buffer.append(chunk)
        if self._held:
            return
        if self._issued == 0 or len(self._buffer) >= self._policy.max_buffer:
            await self.flush()
            return
        if self._flushing is not None:
            # A write is on its way: this chunk rides with the next one rather than forcing
            # a write of its own (on Cloudflare each write is a subrequest).
            return
        now = self._clock()  # read only where the interval decides
        if now - self._last_flush >= self._interval():
            await self.flush()
        else:
            # A stalled model must not hold buffered text back: flush on a timer too.
            self._schedule(now)

    def hold(self) -> None:
        """From now on, chunks wait for an explicit :meth:`flush`: none goes out on the
        policy's account (first chunk, interval, timer, full buffer). A step calls it when
        its model is done, so that what it adds afterwards costs no write of its own."""
        self._held = True
        self._cancel_timer()

    def release(self) -> None:
        """Undo :meth:`hold`: chunks go out on the policy's rhythm again."""
        self._held = False

    def note_stop(self, kind: StopRequest) -> None:
        """A stop the step learned of other than by an ack (``wait_stop``): kept as an
        ack's would be, so the step's later checks of :attr:`stop_requested` see it."""
        if self.stop_requested != "abort":  # an abort is never downgraded
            self.stop_requested = kind

    async def flush(self, *, status: StreamStatus | None = None) -> WriteAck | None:
        """Write everything buffered (one stream write). With ``status`` the same write
        moves the stream to it: a run's last chunks and its stream's end are one call,
        made even when nothing is buffered."""
        self._cancel_timer()
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._raise_pending_error()
        if not self._buffer and status is None:
            return self.last_ack
        batch, self._buffer = self._buffer, []
        self._issue()
        ack = await self._streams.write(self._stream_id, batch, status=status)
        self._record(ack)
        return ack

    async def probe(self) -> StopRequest | None:
        """Write what is buffered, even nothing, for the ack: the stop request it carries
        (a step about to start something it must not start after a stop)."""
        self._cancel_timer()
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._raise_pending_error()
        batch, self._buffer = self._buffer, []
        self._issue()
        self._record(await self._streams.write(self._stream_id, batch))
        return self.stop_requested

    async def close(self, *, status: StreamStatus | None = None) -> WriteAck | None:
        """Flush what is left (and move the stream to ``status``); the step's last write."""
        return await self.flush(status=status)

    def discard(self) -> None:
        """Drop buffered chunks and the timer (the step is failing)."""
        self._cancel_timer()
        self._buffer.clear()

    def _interval(self) -> float:
        return self._policy.interval(readers=self._readers, writes=self._issued)

    def _issue(self) -> None:
        # The interval runs from when a write is issued, not from when it is answered, so
        # a slow answer never makes the next write come early.
        self._issued += 1
        self._last_flush = self._clock()

    def _schedule(self, now: float) -> None:
        if self._timer is None:
            delay = max(0.0, self._interval() - (now - self._last_flush))
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _record(self, ack: WriteAck) -> None:
        self._writes += 1
        self._readers = ack.readers
        self.last_ack = ack
        if ack.stop_requested is not None:
            self.note_stop(ack.stop_requested)

    def _on_timer(self) -> None:
        self._timer = None
        if self._buffer and self._flushing is None and not self._held:
            self._flushing = asyncio.ensure_future(self._background_flush(self._take()))

    def _take(self) -> list[Chunk]:
        # A background write takes its batch when it is scheduled, not when its task
        # starts: a step may hold the writer and add its tail in between, and the tail
        # must wait for the step's own flush.
        batch, self._buffer = self._buffer, []
        return batch

    async def _background_flush(self, batch: list[Chunk]) -> None:
        try:
            self._issue()
            self._record(await self._streams.write(self._stream_id, batch))
        except BaseException as exc:  # surfaced on the next add/flush, in the step's task
            self._error = exc
        finally:
            self._flushing = None
            if self._buffer and self._error is None and not self._held:
                # Chunks that arrived during the write go out with the next one.
                self._schedule(self._clock())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _monotonic() -> float:
    return asyncio.get_running_loop().time()


def set_fields(record: Record, values: dict[str, Any]) -> None:
    """``record.<name> = value`` for each of ``values``, as pydantic assigns a field of a
    model without ``validate_assignment`` (no Record has it): the value into ``__dict__``,
    the name into the fields set. Without pydantic's per-attribute dispatch, which costs
    three calls per field, and every chunk gets two to four (tests/streams/
    test_writer_hold.py checks the result against pydantic's own assignment)."""
    record.__dict__.update(values)
    record.__pydantic_fields_set__.update(values)
