"""The StreamManager port over the ``STREAM_MANAGER`` Durable Object namespace.

**One Durable Object per session.** A stream id is a run's instance id
(``{session}--t{turn}[--r{n}]``), so :func:`stream_owner` routes it to the object named
after its session; any other id names its own object. One object per session keeps a
session's runs, their readers and their WebSockets together (one writer per session
anyway), spreads sessions over as many objects as there are, and lets the object's alarm
clean up a session's old streams in one place.

Every method is one RPC call (a subrequest of the caller), except a ``read`` whose timeout
is longer than :attr:`max_wait`, which waits in several calls. :meth:`~DOStreamManager.follow_batches`
follows a stream for an SSE response over one WebSocket to the object, within a budget of
subrequests (:mod:`.stream_follow`). Reads and the other
idempotent calls are retried when the object was reset under them (a deploy, an
eviction); writes are not, since a write that may have landed must not land twice: the
step that wrote retries instead.

Stubs are never cached: a stub belongs to the request that made it, while this object may
serve many requests of one isolate. ``getByName`` costs no round trip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from ...chunks import Chunk, SequencedChunk
from ...errors import HelixError, InvalidIdError, StreamError
from ...ids import parse_instance_id
from ...ports.streams import (
    ReadResult,
    StopRequest,
    StreamInfo,
    StreamStatus,
    WriteAck,
    check_cursor,
    check_limit,
    check_timeout,
)
from ...streaming.chunklog import FINAL_STATUSES
from .carrier import js_error_text
from .stream_follow import ReaderPolicy, StreamFollower
from .stream_rpc import decode_ack, decode_info, decode_read, encode_chunks, unwrap

__all__ = ["DOStreamManager", "stream_owner"]

#: Fragments of the errors a caller sees when the object it called was reset.
_TRANSIENT: Final = (
    "durable object reset",
    "network connection lost",
    "object is overloaded",
    "internal error",
    "broken",
)


def stream_owner(stream_id: str) -> str:
    """The name of the Durable Object that keeps ``stream_id``: its session."""
    try:
        return parse_instance_id(stream_id)[0]
    except InvalidIdError:
        return stream_id


class DOStreamManager:
    """:class:`~helix_agents.ports.streams.StreamManager` over a Durable Object namespace.

    ``namespace`` is ``env.STREAM_MANAGER``; ``max_wait`` bounds one long-poll call (a
    longer read waits in several), ``stop_wait`` one ``wait_stop`` call; ``retries`` is
    how often an idempotent call is repeated after its object was reset;
    ``reader_policy`` is how an SSE response follows its stream
    (:class:`~.stream_follow.ReaderPolicy`). ``calls`` counts RPC calls (subrequests), and
    ``follows`` the readers that followed over a socket (``"socket"``) and those that
    long-polled (``"poll"``, fallbacks included).
    """

    def __init__(
        self,
        namespace: Any,
        *,
        owner: Callable[[str], str] = stream_owner,
        max_wait: float = 30.0,
        stop_wait: float = 30.0,
        retries: int = 2,
        reader_policy: ReaderPolicy | None = None,
    ) -> None:
        if namespace is None or not callable(getattr(namespace, "getByName", None)):
            raise StreamError(
                "DOStreamManager needs the STREAM_MANAGER Durable Object namespace (env."
                "STREAM_MANAGER): add a [[durable_objects.bindings]] entry to wrangler.toml"
            )
        self.namespace = namespace
        self._owner = owner
        self._max_wait = max_wait
        self._stop_wait = stop_wait
        self._retries = retries
        self.reader_policy = reader_policy or ReaderPolicy()
        self.calls = 0
        self.follows: Counter[str] = Counter()

    def stub(self, stream_id: str) -> Any:
        """The stub of the object that keeps ``stream_id`` (for this request only)."""
        if not isinstance(stream_id, str) or not stream_id or len(stream_id) > 256:
            raise InvalidIdError("stream id must be a non-empty string of at most 256 characters")
        return self.namespace.getByName(self._owner(stream_id))

    # -- the port ----------------------------------------------------------------------------

    async def create(self, stream_id: str) -> StreamInfo:
        info = decode_info(await self._call(stream_id, "create", stream_id, idempotent=True))
        assert info is not None
        return info

    async def write(
        self, stream_id: str, chunks: Sequence[Chunk], status: StreamStatus | None = None
    ) -> WriteAck:
        payload = encode_chunks(chunks)
        # The status only when there is one: the call then has the two arguments it always
        # had (no None to cross into JavaScript, where Python 3.12 makes it undefined).
        extra = [] if status is None else [status]
        return decode_ack(await self._call(stream_id, "write", stream_id, payload, *extra))

    async def read(
        self, stream_id: str, after: int = 0, timeout: float = 0.0, limit: int = 1000
    ) -> ReadResult:
        check_cursor(after)
        check_limit(limit)
        check_timeout(timeout)
        remaining = float(timeout)
        while True:
            wait = min(remaining, self._max_wait)
            result = await self.read_once(stream_id, after, wait, limit)
            remaining -= wait
            if result.chunks or result.status in FINAL_STATUSES or remaining <= 0:
                return result

    async def read_once(
        self,
        stream_id: str,
        after: int,
        timeout: float,
        limit: int,
        *,
        spend: Callable[[], None] | None = None,
    ) -> ReadResult:
        """One long-poll call (waiting at most :attr:`max_wait`); ``spend`` is called before
        each attempt, retries included (a reader's budget)."""
        wait = min(float(timeout), self._max_wait)
        answer = await self._call(
            stream_id, "read", stream_id, after, wait, limit, idempotent=True, spend=spend
        )
        return decode_read(answer)

    def follow_batches(
        self, stream_id: str, after: int = 0, *, poll: float, limit: int = 1000
    ) -> AsyncIterator[list[SequencedChunk]]:
        """Follow ``stream_id`` for one SSE response, as
        :func:`~helix_agents.streaming.follow_batches` does, but over one WebSocket to the
        object (long polls as the fallback), within :attr:`reader_policy`'s budget: past it,
        the iterator raises :class:`~helix_agents.errors.StreamReaderLimitError`."""
        follower = StreamFollower(
            self, stream_id, after, poll=poll, limit=limit, policy=self.reader_policy
        )
        return follower.batches()

    async def set_status(self, stream_id: str, status: StreamStatus) -> StreamInfo:
        info = decode_info(
            await self._call(stream_id, "set_status", stream_id, status, idempotent=True)
        )
        assert info is not None
        return info

    async def info(self, stream_id: str) -> StreamInfo | None:
        return decode_info(await self._call(stream_id, "info", stream_id, idempotent=True))

    async def request_stop(self, stream_id: str, kind: StopRequest) -> None:
        await self._call(stream_id, "request_stop", stream_id, kind, idempotent=True)

    async def wait_stop(self, stream_id: str, timeout: float) -> StopRequest | None:
        """One call held open by the object until a stop comes (see
        :meth:`.stream_hub.StreamHub.wait_stop`), in several of at most ``stop_wait``
        seconds each for a longer timeout. A call the caller gives up on (its task
        cancelled) stays open in the object until its own wait ends, keeping the object
        from hibernating until then: callers keep their timeouts short when they may give
        up (the model step's watch starts at one second)."""
        check_timeout(timeout)
        remaining = float(timeout)
        while True:
            wait = min(remaining, self._stop_wait)
            answer = await self._call(stream_id, "wait_stop", stream_id, wait, idempotent=True)
            remaining -= wait
            if answer is not None or remaining <= 0:
                stop: StopRequest | None = answer
                return stop

    # -- internals ---------------------------------------------------------------------------

    async def _call(
        self,
        stream_id: str,
        method: str,
        *args: Any,
        idempotent: bool = False,
        spend: Callable[[], None] | None = None,
    ) -> Any:
        attempt = 0
        while True:
            if spend is not None:
                spend()
            stub = self.stub(stream_id)
            self.calls += 1
            try:
                answer = await getattr(stub, method)(*args)
            except HelixError:
                raise
            except Exception as exc:
                text = js_error_text(exc)
                if idempotent and attempt < self._retries and _transient(text):
                    attempt += 1
                    continue
                raise StreamError(f"the stream manager failed ({method}): {text}") from exc
            return unwrap(answer)


def _transient(text: str) -> bool:
    lowered = text.lower()
    return any(fragment in lowered for fragment in _TRANSIENT)
