"""The Worker's follower of a stream (``DOStreamManager.follow_batches``): over one
WebSocket to the Durable Object, through hibernation and resets, with long polls as the
fallback, within a budget of subrequests."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helix_agents.agent import AgentRegistry
from helix_agents.chunks import RunEndChunk, SequencedChunk, TextDeltaChunk
from helix_agents.errors import (
    ConfigurationError,
    StreamError,
    StreamNotFoundError,
    StreamReaderLimitError,
)
from helix_agents.hosts.cloudflare import CloudflareApp, DOStreamManager, ReaderPolicy
from helix_agents.hosts.cloudflare.stream_sockets import (
    SocketState,
    chunk_frames,
    decode_chunk_frame,
)
from helix_agents.streaming import follow_batches
from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
from helix_agents.testing.cloudflare.platform import FakeEnv

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def namespace() -> FakeDurableObjectNamespace:
    app = CloudflareApp(AgentRegistry([]))
    return FakeDurableObjectNamespace(app.DurableObject, FakeEnv())


def manager(namespace: FakeDurableObjectNamespace, **policy: Any) -> DOStreamManager:
    return DOStreamManager(namespace, reader_policy=ReaderPolicy(**policy))


def delta(text: str) -> TextDeltaChunk:
    return TextDeltaChunk(part_id="p", delta=text, step=1, attempt=1)


class Reader:
    """A follower read in the background, as an SSE response reads it."""

    def __init__(self, batches: AsyncIterator[list[SequencedChunk]]) -> None:
        self.batches = batches
        self.items: list[SequencedChunk] = []
        self.ticks = 0
        self.arrived = asyncio.Event()
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for batch in self.batches:
            if not batch:
                self.ticks += 1
            self.items.extend(batch)
            self.arrived.set()

    async def until(self, count: int = 0, *, ticks: int = 0) -> None:
        """Until ``count`` chunks and ``ticks`` keep-alive ticks have come."""
        while len(self.items) < count or self.ticks < ticks:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)

    def texts(self) -> list[str]:
        return [getattr(item.chunk, "delta", item.chunk.type) for item in self.items]

    def seqs(self) -> list[int]:
        return [item.seq for item in self.items]


async def end(streams: DOStreamManager, stream_id: str) -> None:
    await streams.write(stream_id, [RunEndChunk(run_id=stream_id, status="completed")])
    await streams.set_status(stream_id, "ended")


async def test_a_follower_reads_over_one_socket_and_leaves_the_object_free(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace)
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("a "), delta("b ")])
    before = namespace.total_calls
    reader = Reader(follow_batches(streams, "s--t1", after=1, poll=5.0))
    await reader.until(1)
    for i in range(50):
        await streams.write("s--t1", [delta(f"w{i} ")])
        await reader.until(2 + i)
        # Nothing of the reader is parked in the object: it may hibernate between writes.
        assert namespace.in_flight("s") == 0
    await end(streams, "s--t1")
    await reader.task
    assert reader.texts() == ["b ", *[f"w{i} " for i in range(50)], "run-end"]
    assert reader.seqs() == list(range(2, 54))
    # The 50 writes and the end cost the reader nothing: one socket, opened once.
    writes = 50 + 2  # the writes, the end's write and its status
    assert namespace.total_calls - before == writes + 1
    assert streams.follows == {"socket": 1}
    assert namespace.sockets("s") == []  # the object closed it at the end


async def test_hibernation_keeps_the_socket_and_a_reset_reopens_it(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace)
    await streams.create("s--t1")
    reader = Reader(streams.follow_batches("s--t1", poll=5.0))
    await asyncio.sleep(0.01)
    opened = namespace.calls["s"]
    for i in range(10):
        await streams.write("s--t1", [delta(f"{i} ")])
        if i % 3 == 0:
            await namespace.evict("s")  # hibernation: the socket stays connected
    await reader.until(10)
    assert namespace.calls["s"] == opened + 10  # the writes only: no reopening
    await namespace.reset("s")  # a deploy replaces the object: the socket drops
    for i in range(10, 20):
        await streams.write("s--t1", [delta(f"{i} ")])
    await end(streams, "s--t1")
    await reader.task
    assert reader.texts() == [f"{i} " for i in range(20)] + ["run-end"]
    assert reader.seqs() == list(range(1, 22))  # nothing lost, nothing twice
    assert namespace.calls["s"] == opened + 22 + 1  # one reopening, from the cursor
    assert streams.follows == {"socket": 1}


async def test_without_a_socket_the_follower_long_polls_and_says_why(
    namespace: FakeDurableObjectNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    streams = manager(namespace)
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("a ")])
    namespace.refuse_websockets("Network connection lost.")
    with caplog.at_level(logging.WARNING, logger="helix_agents.cloudflare"):
        reader = Reader(streams.follow_batches("s--t1", poll=5.0))
        await reader.until(1)
        await streams.write("s--t1", [delta("b ")])
        await end(streams, "s--t1")
        await reader.task
    assert reader.texts() == ["a ", "b ", "run-end"]
    assert streams.follows == {"poll": 1}
    (record,) = [r for r in caplog.records if "long-polls" in r.getMessage()]
    assert "no socket could be opened: Error: Network connection lost." in record.getMessage()


async def test_a_socket_that_keeps_closing_gives_way_to_long_polls(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace, reopen_limit=1)
    await streams.create("s--t1")
    reader = Reader(streams.follow_batches("s--t1", poll=5.0))
    for _ in range(2):  # closed twice in a row with nothing delivered
        await asyncio.sleep(0.01)  # the follower (re)opens its socket
        assert len(namespace.sockets("s")) == 1
        await namespace.reset("s")
    await asyncio.sleep(0.01)
    await streams.write("s--t1", [delta("a ")])
    await end(streams, "s--t1")
    await reader.task
    assert reader.texts() == ["a ", "run-end"]
    assert streams.follows == {"socket": 1, "poll": 1}


async def test_a_slow_client_lets_the_socket_go_and_catches_up(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace, max_buffer_bytes=20_000)
    await streams.create("s--t1")
    batches = streams.follow_batches("s--t1", poll=5.0)
    first = asyncio.ensure_future(anext(batches))
    await streams.write("s--t1", [delta("0 ")])
    assert [item.seq for item in await first] == [1]
    opened = namespace.calls["s"]
    # The reader takes nothing while 400 writes land: some 36 KB of frames.
    for i in range(1, 401):
        await streams.write("s--t1", [delta(f"{i} ")])
    await end(streams, "s--t1")
    seqs: list[int] = [1]
    async for batch in batches:
        seqs.extend(item.seq for item in batch)
    assert seqs == list(range(1, 403))
    assert namespace.calls["s"] - opened == 402 + 1  # the writes, and one reopening


async def test_a_follower_of_a_stream_that_does_not_exist(
    namespace: FakeDurableObjectNamespace,
) -> None:
    for streams in (manager(namespace), manager(namespace, socket=False)):
        with pytest.raises(StreamNotFoundError):
            await anext(streams.follow_batches("ghost--t1", poll=1.0))


async def test_silence_gives_keep_alive_ticks_and_pings_that_do_not_wake_the_object(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace)
    await streams.create("s--t1")
    reader = Reader(streams.follow_batches("s--t1", poll=0.01))
    await reader.until(ticks=3)
    await namespace.evict("s")
    constructed = namespace.constructions("s")
    await reader.until(ticks=6)
    (server,) = namespace.sockets("s")
    assert server.auto_responses >= 3
    assert namespace.constructions("s") == constructed  # pinged, answered, still asleep
    reader.task.cancel()
    await asyncio.gather(reader.task, return_exceptions=True)


async def test_the_budget_ends_a_follower_with_its_cursor(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace, socket=False, budget=3)
    await streams.create("s--t1")
    for i in range(3):
        await streams.write("s--t1", [delta(f"{i} ")])
    reader = Reader(streams.follow_batches("s--t1", poll=1.0, limit=1))
    with pytest.raises(StreamReaderLimitError) as caught:
        await reader.task
    assert reader.seqs() == [1, 2, 3]
    assert caught.value.cursor == 3
    # A socket reader spends its budget only on openings.
    streams = manager(namespace, budget=1)
    reader = Reader(streams.follow_batches("s--t1", poll=5.0))
    await reader.until(3)
    await namespace.reset("s")
    with pytest.raises(StreamReaderLimitError) as caught:
        await reader.task
    assert caught.value.cursor == 3


async def test_closing_the_follower_closes_its_socket(
    namespace: FakeDurableObjectNamespace,
) -> None:
    streams = manager(namespace)
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("a ")])
    batches = follow_batches(streams, "s--t1", poll=5.0)
    assert [item.seq for item in await anext(batches)] == [1]
    assert len(namespace.sockets("s")) == 1
    await batches.aclose()
    await asyncio.sleep(0)
    assert namespace.sockets("s") == []


def test_the_fallback_spaces_its_polls_out() -> None:
    policy = ReaderPolicy()
    assert [policy.interval(n) for n in (0, 99, 100, 199, 200, 300, 400, 500, 600, 899)] == [
        0.0,
        0.0,
        0.5,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
    ]
    # With text streaming all the time, the default budget lasts over an hour.
    streaming = sum(max(policy.interval(n), 0.25) for n in range(policy.budget))
    assert streaming > 3600
    for bad in ({"budget": 0}, {"first_interval": 20.0}, {"widen_factor": 0.5}):
        with pytest.raises(ConfigurationError):
            ReaderPolicy(**bad)


def test_frames_of_chunks_stay_under_their_size_and_decode_back() -> None:
    items = [SequencedChunk(seq=i, chunk=delta("x" * 100 + "é")) for i in range(1, 101)]
    frames = chunk_frames(items, max_bytes=1_000)
    assert len(frames) > 10
    assert all(len(f.encode()) <= 1_000 for f in frames)
    back = [item for f in frames for item in decode_chunk_frame(json.loads(f))]
    assert back == items
    big = SequencedChunk(seq=1, chunk=delta("y" * 5_000))
    assert len(chunk_frames([big], max_bytes=1_000)) == 1  # a larger chunk travels alone
    for bad in ({"chunks": 3}, {"chunks": [[1, {"type": "nonsense"}]]}, {"chunks": [[1]]}):
        with pytest.raises(StreamError):
            decode_chunk_frame(bad)


def test_a_chunks_socket_keeps_its_format_in_its_attachment() -> None:
    state = SocketState(stream_id="s--t1", cursor=4, raw=True)
    loaded = SocketState.load(state.dump())
    assert loaded is not None
    assert (loaded.raw, loaded.cursor) == (True, 4)
    items = [SequencedChunk(seq=i, chunk=delta(f"{i}")) for i in (4, 5, 6)]
    (text,) = loaded.frames(items)
    assert [item.seq for item in decode_chunk_frame(json.loads(text))] == [5, 6]
    assert loaded.cursor == 6
    assert SocketState.load(SocketState(stream_id="s--t1").dump()).raw is False  # type: ignore[union-attr]
