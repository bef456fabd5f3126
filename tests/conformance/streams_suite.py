"""The StreamManager conformance suite: what every implementation of the port must do.

Use it by subclassing :class:`StreamManagerSuite` in a test module and providing a
``harness`` fixture that yields a :class:`StreamsHarness` (how to open a manager over some
storage, and whether a manager opened again sees what an earlier one wrote)::

    class TestMyStreams(StreamManagerSuite):
        @pytest.fixture
        async def harness(self, tmp_path):
            h = MyHarness(tmp_path)
            yield h
            await h.close()

The suite speaks only the port (``create``, ``write`` with and without ``status``, ``read``,
``set_status``, ``info``, ``request_stop``, ``wait_stop``) plus :func:`helix_agents.streaming.follow`, so the Durable Object runs it
unchanged. Waits are bounded by :data:`GUARD` so that a broken implementation fails rather
than hangs; nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest

from helix_agents.chunks import (
    Chunk,
    CustomDataChunk,
    RunEndChunk,
    RunStartChunk,
    SequencedChunk,
    StepEndChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolOutputChunk,
)
from helix_agents.errors import (
    HelixError,
    InvalidCursorError,
    StreamClosedError,
    StreamError,
    StreamNotFoundError,
)
from helix_agents.ports.streams import StreamManager
from helix_agents.streaming import follow

__all__ = ["GUARD", "StreamManagerSuite", "StreamsHarness"]

#: The longest any single wait in the suite may take before the test fails (a hang guard).
GUARD = 20.0


class StreamsHarness(Protocol):
    #: Whether a manager opened after another sees what the other wrote (same storage).
    persistent: bool

    async def open(self) -> StreamManager:
        """A manager over this harness's storage (a new instance on every call)."""
        ...

    async def close(self, streams: StreamManager) -> None:
        """Close one manager (a process exit, a Durable Object eviction)."""
        ...


def text(delta: str, *, step: int = 1, attempt: int = 1, part: str = "p1", **kw: Any) -> Chunk:
    return TextDeltaChunk(part_id=part, delta=delta, step=step, attempt=attempt, **kw)


def dump(items: list[SequencedChunk]) -> list[tuple[int, dict[str, Any]]]:
    return [(item.seq, item.chunk.to_dict()) for item in items]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (yielding to the loop) until ``check`` holds; fail after :data:`GUARD`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def collect(streams: StreamManager, stream_id: str, after: int = 0) -> list[SequencedChunk]:
    out: list[SequencedChunk] = []
    async for item in follow(streams, stream_id, after, poll=1.0):
        out.append(item)
    return out


class StreamManagerSuite:
    """Subclass with a ``harness`` fixture; every test here then runs against it."""

    @pytest.fixture
    async def streams(self, harness: StreamsHarness) -> AsyncIterator[StreamManager]:
        manager = await harness.open()
        yield manager
        await harness.close(manager)

    # -- create, write, read -----------------------------------------------------------------

    async def test_create_is_idempotent(self, streams: StreamManager) -> None:
        assert await streams.info("s1") is None
        first = await streams.create("s1")
        assert (first.stream_id, first.status, first.last_seq) == ("s1", "active", 0)
        await streams.write("s1", [text("a")])
        again = await streams.create("s1")
        assert (again.status, again.last_seq) == ("active", 1)
        info = await streams.info("s1")
        assert info is not None
        assert info.last_seq == 1
        assert info.created_at == first.created_at

    async def test_sequences_are_dense_across_batches(self, streams: StreamManager) -> None:
        await streams.create("s1")
        batch1 = [RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="m"), text("x")]
        batch2 = [text("y"), text("z"), TextEndChunk(part_id="p1", step=1, attempt=1)]
        assert (await streams.write("s1", batch1)).last_seq == 2
        assert (await streams.write("s1", [])).last_seq == 2
        assert (await streams.write("s1", batch2)).last_seq == 5
        result = await streams.read("s1")
        assert [item.seq for item in result.chunks] == [1, 2, 3, 4, 5]
        assert [c.to_dict() for _, c in ((i.seq, i.chunk) for i in result.chunks)] == [
            c.to_dict() for c in batch1 + batch2
        ]
        assert (result.status, result.last_seq) == ("active", 5)

    async def test_chunk_contents_round_trip(self, streams: StreamManager) -> None:
        await streams.create("s1")
        chunk = ToolOutputChunk(
            tool_call_id="c1",
            output={"text": "héllo \u2028 \n", "n": [1, 2.5, None, True], "big": 2**52},
            step=3,
            attempt=2,
            agent="child",
            source_session_id="child-session",
        )
        data = CustomDataChunk(name="weather", data={"t": 21}, id="w1", transient=True)
        await streams.write("s1", [chunk, data])
        result = await streams.read("s1")
        assert [i.chunk.to_dict() for i in result.chunks] == [chunk.to_dict(), data.to_dict()]

    async def test_read_after_and_limit(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text(str(i)) for i in range(1, 8)])
        page = await streams.read("s1", after=2, limit=3)
        assert [i.seq for i in page.chunks] == [3, 4, 5]
        assert page.last_seq == 7
        seen: list[int] = []
        cursor = 0
        while True:
            page = await streams.read("s1", after=cursor, limit=2)
            if not page.chunks:
                break
            seen += [i.seq for i in page.chunks]
            cursor = page.chunks[-1].seq
        assert seen == list(range(1, 8))
        assert (await streams.read("s1", after=7)).chunks == []
        assert (await streams.read("s1", after=100)).chunks == []

    async def test_bad_arguments_are_clear_errors(self, streams: StreamManager) -> None:
        await streams.create("s1")
        with pytest.raises(InvalidCursorError):
            await streams.read("s1", after=-1)
        with pytest.raises(StreamError):
            await streams.read("s1", limit=0)
        with pytest.raises(StreamError):
            await streams.read("s1", timeout=-1)
        with pytest.raises(HelixError):
            await streams.create("")
        with pytest.raises(StreamError):
            await streams.set_status("s1", "finished")  # type: ignore[arg-type]
        with pytest.raises(StreamError):
            await streams.request_stop("s1", "pause")  # type: ignore[arg-type]

    async def test_unknown_streams(self, streams: StreamManager) -> None:
        with pytest.raises(StreamNotFoundError):
            await streams.write("nope", [text("a")])
        with pytest.raises(StreamNotFoundError):
            await streams.read("nope")
        with pytest.raises(StreamNotFoundError):
            await streams.set_status("nope", "ended")

    async def test_an_oversized_chunk_fails_the_whole_batch(self, streams: StreamManager) -> None:
        await streams.create("s1")
        huge = ToolOutputChunk(tool_call_id="c1", output="x" * 2_100_000)
        with pytest.raises(StreamError):
            await streams.write("s1", [text("before"), huge])
        info = await streams.info("s1")
        assert info is not None
        assert info.last_seq == 0
        assert (await streams.write("s1", [text("after")])).last_seq == 1

    # -- waiting -----------------------------------------------------------------------------

    async def test_a_waiting_read_is_woken_by_a_write(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        reader = asyncio.create_task(streams.read("s1", after=1, timeout=GUARD))
        await eventually(lambda: _has_readers(streams, "s1", 1), "the reader to park")
        assert not reader.done()
        await streams.write("s1", [text("b"), text("c")])
        result = await asyncio.wait_for(reader, GUARD)
        assert [i.seq for i in result.chunks] == [2, 3]

    async def test_a_read_with_nothing_new_times_out_empty(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        result = await asyncio.wait_for(streams.read("s1", after=1, timeout=0.05), GUARD)
        assert (result.chunks, result.status, result.last_seq) == ([], "active", 1)
        assert (await streams.read("s1", after=1, timeout=0)).chunks == []

    async def test_a_read_with_chunks_does_not_wait(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        result = await asyncio.wait_for(streams.read("s1", after=0, timeout=GUARD), GUARD)
        assert [i.seq for i in result.chunks] == [1]

    @pytest.mark.parametrize("final", ["ended", "failed"])
    async def test_final_status_wakes_every_reader(
        self, streams: StreamManager, final: str
    ) -> None:
        await streams.create("s1")
        readers = [
            asyncio.create_task(streams.read("s1", after=0, timeout=GUARD)) for _ in range(5)
        ]
        await eventually(lambda: _has_readers(streams, "s1", 5), "five parked readers")
        await streams.set_status("s1", final)  # type: ignore[arg-type]
        results = await asyncio.wait_for(asyncio.gather(*readers), GUARD)
        assert all(r.chunks == [] and r.status == final for r in results)
        # A final stream never makes a reader wait.
        result = await asyncio.wait_for(streams.read("s1", timeout=GUARD), GUARD)
        assert result.status == final

    # -- statuses ----------------------------------------------------------------------------

    @pytest.mark.parametrize("final", ["ended", "failed"])
    async def test_final_statuses_are_final(self, streams: StreamManager, final: str) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        info = await streams.set_status("s1", final)  # type: ignore[arg-type]
        assert (info.status, info.last_seq) == (final, 1)
        with pytest.raises(StreamError):
            await streams.write("s1", [text("b")])
        with pytest.raises(StreamError):
            await streams.set_status("s1", "active")
        other = "failed" if final == "ended" else "ended"
        with pytest.raises(StreamError):
            await streams.set_status("s1", other)  # type: ignore[arg-type]
        again = await streams.set_status("s1", final)  # type: ignore[arg-type]
        assert again.status == final
        assert [i.seq for i in (await streams.read("s1")).chunks] == [1]

    # -- a write that ends the stream --------------------------------------------------------

    @pytest.mark.parametrize("final", ["ended", "failed"])
    async def test_a_write_can_end_the_stream(self, streams: StreamManager, final: str) -> None:
        # A run's last chunks and the stream's end are one call: the chunks land, the
        # status moves in the same write, and waiting readers wake with both.
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        readers = [
            asyncio.create_task(streams.read("s1", after=1, timeout=GUARD)) for _ in range(3)
        ]
        await eventually(lambda: _has_readers(streams, "s1", 3), "three parked readers")
        ack = await streams.write(
            "s1",
            [text("b"), RunEndChunk(run_id="r1", status="completed")],
            final,  # type: ignore[arg-type]
        )
        assert ack.last_seq == 3
        results = await asyncio.wait_for(asyncio.gather(*readers), GUARD)
        for result in results:
            assert [i.seq for i in result.chunks] == [2, 3]
            assert result.status == final
        info = await streams.info("s1")
        assert info is not None
        assert (info.status, info.last_seq) == (final, 3)
        # The same last write again (a retried step): refused, and nothing changes.
        with pytest.raises(StreamError):
            await streams.write("s1", [text("b")], final)  # type: ignore[arg-type]
        assert [i.seq for i in (await streams.read("s1")).chunks] == [1, 2, 3]
        # A follower sees every chunk, then the end.
        seen = [item.seq async for item in follow(streams, "s1", after=0)]
        assert seen == [1, 2, 3]

    async def test_a_write_with_a_status_and_no_chunks(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        ack = await streams.write("s1", [], "ended")
        assert ack.last_seq == 1
        info = await streams.info("s1")
        assert info is not None
        assert info.status == "ended"
        with pytest.raises(StreamError):
            await streams.write("s2", [], "ended")
        with pytest.raises(StreamError):
            await streams.write("s1", [], "bogus")  # type: ignore[arg-type]

    async def test_a_final_write_without_chunks_wakes_readers(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        reader = asyncio.create_task(streams.read("s1", after=1, timeout=GUARD))
        await eventually(lambda: _has_readers(streams, "s1", 1), "the reader to park")
        ack = await streams.write("s1", [], status="failed")
        assert ack.last_seq == 1
        result = await asyncio.wait_for(reader, GUARD)
        assert (result.chunks, result.status) == ([], "failed")

    @pytest.mark.parametrize("final", ["ended", "failed"])
    async def test_nothing_is_written_after_a_final_write(
        self, streams: StreamManager, final: str
    ) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")], status=final)  # type: ignore[arg-type]
        with pytest.raises(StreamClosedError):
            await streams.write("s1", [text("b")])
        with pytest.raises(StreamClosedError):
            await streams.write("s1", [text("b")], status=final)  # type: ignore[arg-type]
        with pytest.raises(StreamClosedError):
            await streams.write("s1", [], status="active")
        with pytest.raises(StreamClosedError):
            await streams.set_status("s1", "active")
        info = await streams.info("s1")
        assert info is not None
        assert (info.status, info.last_seq) == (final, 1)

    async def test_a_retried_final_write_changes_nothing(self, streams: StreamManager) -> None:
        # A step whose last write landed, then died before its step was recorded, may make
        # the very same write again: the run must not end twice on the stream.
        await streams.create("s1")
        await streams.write("s1", [StepStartChunk(step=1, attempt=1), text("a")])
        last: list[Chunk] = [
            TextEndChunk(part_id="p1", step=1, attempt=1),
            StepEndChunk(step=1, attempt=1),
            RunEndChunk(run_id="r", status="completed", step=1, attempt=1),
        ]
        assert (await streams.write("s1", last, status="ended")).last_seq == 5
        before = dump((await streams.read("s1")).chunks)
        with pytest.raises(StreamClosedError):
            await streams.write("s1", last, status="ended")
        after = await streams.read("s1")
        assert dump(after.chunks) == before
        assert [i.chunk.type for i in after.chunks].count("run-end") == 1
        assert (after.status, after.last_seq) == ("ended", 5)

    async def test_a_retry_replaces_a_dead_attempt_in_its_final_write(
        self, streams: StreamManager
    ) -> None:
        # What a retried model step writes when its first attempt ended the run in the
        # database but died before its last write: resets of the dead attempt, the stored
        # response as a new attempt, and the end, in one write.
        await streams.create("s1")
        await streams.write("s1", [StepStartChunk(step=2, attempt=1), text("par", step=2)])
        live = asyncio.create_task(streams.read("s1", after=2, timeout=GUARD))
        await eventually(lambda: _has_readers(streams, "s1", 1), "the live reader to park")
        ack = await streams.write(
            "s1",
            [
                StepResetChunk(step=2, attempt=1),
                StepStartChunk(step=2, attempt=2),
                TextStartChunk(part_id="q", step=2, attempt=2),
                text("partial answer", step=2, attempt=2, part="q"),
                TextEndChunk(part_id="q", step=2, attempt=2),
                StepEndChunk(step=2, attempt=2),
                RunEndChunk(run_id="r", status="completed", step=2, attempt=2),
            ],
            status="ended",
        )
        assert ack.last_seq == 9
        woken = await asyncio.wait_for(live, GUARD)
        assert woken.status == "ended"
        reset = woken.chunks[0].chunk
        assert isinstance(reset, StepResetChunk)
        assert reset.superseded_from == 1  # the live reader showed some of it: it drops it
        replay = await streams.read("s1")
        assert [(i.seq, i.chunk.type) for i in replay.chunks] == [
            (3, "step-reset"),
            (4, "step-start"),
            (5, "text-start"),
            (6, "text-delta"),
            (7, "text-end"),
            (8, "step-end"),
            (9, "run-end"),
        ]
        assert replay.status == "ended"

    async def test_a_bad_status_writes_nothing(self, streams: StreamManager) -> None:
        await streams.create("s1")
        with pytest.raises(StreamError):
            await streams.write("s1", [text("a")], status="finished")  # type: ignore[arg-type]
        info = await streams.info("s1")
        assert info is not None
        assert (info.status, info.last_seq) == ("active", 0)
        with pytest.raises(StreamNotFoundError):
            await streams.write("nope", [text("a")], status="ended")

    async def test_a_write_can_resume_a_paused_stream(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.set_status("s1", "paused")
        await streams.request_stop("s1", "interrupt")
        ack = await streams.write("s1", [text("a")], status="active")
        # As set_status("active") does: the resumed stream starts without a stop request.
        assert (ack.last_seq, ack.stop_requested) == (1, None)
        assert (await streams.write("s1", [text("b")])).stop_requested is None
        info = await streams.info("s1")
        assert info is not None
        assert info.status == "active"

    async def test_paused_streams_take_writes_and_resume(self, streams: StreamManager) -> None:
        await streams.create("s1")
        assert (await streams.set_status("s1", "paused")).status == "paused"
        assert (await streams.write("s1", [text("a")])).last_seq == 1
        assert (await streams.set_status("s1", "active")).status == "active"
        assert (await streams.create("s1")).status == "active"

    # -- stop requests -----------------------------------------------------------------------

    async def test_stop_requests_ride_on_acks(self, streams: StreamManager) -> None:
        await streams.create("s1")
        assert (await streams.write("s1", [text("a")])).stop_requested is None
        await streams.request_stop("s1", "interrupt")
        assert (await streams.write("s1", [text("b")])).stop_requested == "interrupt"
        assert (await streams.write("s1", [])).stop_requested == "interrupt"
        await streams.request_stop("s1", "abort")
        assert (await streams.write("s1", [text("c")])).stop_requested == "abort"
        await streams.request_stop("s1", "interrupt")  # never downgrades an abort
        assert (await streams.write("s1", [text("d")])).stop_requested == "abort"

    async def test_a_stop_can_precede_the_stream(self, streams: StreamManager) -> None:
        await streams.request_stop("early", "abort")
        info = await streams.create("early")
        assert info.status == "active"
        assert (await streams.write("early", [text("a")])).stop_requested == "abort"

    async def test_wait_stop_answers_at_once_with_the_stop_in_force(
        self, streams: StreamManager
    ) -> None:
        await streams.create("s1")
        assert await streams.wait_stop("s1", 0) is None
        await streams.request_stop("s1", "interrupt")
        # A long timeout: an implementation that waited anyway would trip the guard.
        assert await asyncio.wait_for(streams.wait_stop("s1", 600), GUARD) == "interrupt"
        await streams.request_stop("s1", "abort")
        await streams.request_stop("s1", "interrupt")  # never downgrades an abort
        assert await streams.wait_stop("s1", 0) == "abort"

    async def test_wait_stop_gives_none_after_its_timeout(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a")])
        assert await asyncio.wait_for(streams.wait_stop("s1", 0.05), GUARD) is None
        # No stream, no stop: the wait times out too.
        assert await asyncio.wait_for(streams.wait_stop("nope", 0.05), GUARD) is None
        with pytest.raises(StreamError):
            await streams.wait_stop("s1", -1)
        with pytest.raises(StreamError):
            await streams.wait_stop("s1", float("inf"))

    async def test_request_stop_wakes_a_parked_wait_stop(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.create("s2")
        waits = [asyncio.create_task(streams.wait_stop(sid, 600)) for sid in ("s1", "s1", "s2")]
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waits)
        # A parked wait is not a reader, and writes do not end it.
        ack = await streams.write("s1", [text("a")])
        assert ack.readers == 0
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waits)
        await streams.request_stop("s1", "interrupt")
        assert await asyncio.wait_for(asyncio.gather(*waits[:2]), GUARD) == [
            "interrupt",
            "interrupt",
        ]
        assert not waits[2].done()  # another stream's wait goes on
        await streams.request_stop("s2", "abort")
        assert await asyncio.wait_for(waits[2], GUARD) == "abort"

    async def test_a_stop_before_the_stream_ends_a_wait_on_it(self, streams: StreamManager) -> None:
        wait = asyncio.create_task(streams.wait_stop("early", 600))
        await asyncio.sleep(0.05)
        await streams.request_stop("early", "interrupt")
        assert await asyncio.wait_for(wait, GUARD) == "interrupt"

    async def test_a_resumed_stream_has_no_stop_to_wait_for(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.set_status("s1", "paused")
        await streams.request_stop("s1", "interrupt")
        await streams.write("s1", [text("a")], status="active")
        assert await asyncio.wait_for(streams.wait_stop("s1", 0.05), GUARD) is None

    async def test_streams_are_independent(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.create("s2")
        await streams.request_stop("s1", "interrupt")
        await streams.write("s1", [text("a"), text("b")])
        ack = await streams.write("s2", [text("c")])
        assert (ack.last_seq, ack.stop_requested) == (1, None)
        await streams.set_status("s1", "ended")
        assert (await streams.write("s2", [text("d")])).last_seq == 2

    # -- readers -----------------------------------------------------------------------------

    async def test_readers_are_counted(self, streams: StreamManager) -> None:
        await streams.create("s1")
        assert (await streams.write("s1", [text("a")])).readers == 0
        parked = [asyncio.create_task(streams.read("s1", after=1, timeout=GUARD)) for _ in range(3)]
        await eventually(lambda: _has_readers(streams, "s1", 3), "three parked readers")
        ack = await streams.write("s1", [text("b")])
        assert ack.readers == 3
        await asyncio.wait_for(asyncio.gather(*parked), GUARD)
        # Readers that just read are still live: they are busy sending what they got.
        assert (await streams.write("s1", [text("c")])).readers >= 1

    # -- superseded attempts -----------------------------------------------------------------

    async def test_a_reset_drops_the_superseded_attempt(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [StepStartChunk(step=1, attempt=1), text("done", step=1)])
        await streams.write("s1", [StepEndChunk(step=1, attempt=1)])
        await streams.write(
            "s1",
            [
                StepStartChunk(step=2, attempt=1),
                TextStartChunk(part_id="a", step=2, attempt=1),
                text("wrong ", step=2, part="a"),
            ],
        )
        await streams.write("s1", [text("answer", step=2, part="a")])
        ack = await streams.write(
            "s1",
            [
                StepResetChunk(step=2, attempt=1),
                StepStartChunk(step=2, attempt=2),
                TextStartChunk(part_id="b", step=2, attempt=2),
                text("right", step=2, attempt=2, part="b"),
            ],
        )
        assert ack.last_seq == 11
        result = await streams.read("s1")
        assert [(i.seq, i.chunk.type, i.chunk.attempt) for i in result.chunks] == [
            (1, "step-start", 1),
            (2, "text-delta", 1),
            (3, "step-end", 1),
            (8, "step-reset", 1),
            (9, "step-start", 2),
            (10, "text-start", 2),
            (11, "text-delta", 2),
        ]
        reset = result.chunks[3].chunk
        assert isinstance(reset, StepResetChunk)
        assert reset.superseded_from == 4
        # Reading from the middle of the superseded attempt skips the rest of it.
        assert [i.seq for i in (await streams.read("s1", after=5)).chunks] == [8, 9, 10, 11]

    async def test_a_reset_in_the_same_batch(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write(
            "s1",
            [
                text("x", step=1, attempt=1),
                StepResetChunk(step=1, attempt=1),
                text("y", step=1, attempt=2),
            ],
        )
        result = await streams.read("s1")
        assert [(i.seq, i.chunk.type) for i in result.chunks] == [
            (2, "step-reset"),
            (3, "text-delta"),
        ]

    async def test_a_reset_of_an_attempt_that_streamed_nothing(
        self, streams: StreamManager
    ) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a", step=1)])
        await streams.write("s1", [StepResetChunk(step=2, attempt=1), text("b", step=2, attempt=2)])
        result = await streams.read("s1")
        assert [i.seq for i in result.chunks] == [1, 2, 3]
        reset = result.chunks[1].chunk
        assert isinstance(reset, StepResetChunk)
        assert reset.superseded_from is None

    async def test_a_repeated_reset_voids_and_shows_nothing(self, streams: StreamManager) -> None:
        # Each retry resets every earlier attempt again (the one before it may have died
        # before its resets went out). Readers decided on the first reset of an attempt:
        # a repeat has no superseded_from, so no reader is told twice.
        await streams.create("s1")
        await streams.write("s1", [text("a", step=1), text("b", step=1)])
        await streams.write("s1", [StepResetChunk(step=1, attempt=1), text("c", step=1, attempt=2)])
        await streams.write(
            "s1",
            [
                StepResetChunk(step=1, attempt=1),
                StepResetChunk(step=1, attempt=2),
                text("d", step=1, attempt=3),
            ],
        )
        result = await streams.read("s1")
        resets = [i.chunk for i in result.chunks if isinstance(i.chunk, StepResetChunk)]
        assert [(r.attempt, r.superseded_from) for r in resets] == [(1, 1), (1, None), (2, 4)]
        assert [i.seq for i in result.chunks] == [3, 5, 6, 7]

    async def test_chunks_of_a_superseded_attempt_after_its_reset_are_dropped(
        self, streams: StreamManager
    ) -> None:
        # A timed-out attempt may still be streaming when its retry starts.
        await streams.create("s1")
        await streams.write("s1", [text("old", step=1, attempt=1)])
        await streams.write("s1", [StepResetChunk(step=1, attempt=1)])
        await streams.write("s1", [text("late", step=1, attempt=1), text("new", step=1, attempt=2)])
        result = await streams.read("s1", after=2)
        assert [(i.seq, i.chunk.attempt) for i in result.chunks] == [(4, 2)]

    async def test_resets_are_scoped_to_their_agent(self, streams: StreamManager) -> None:
        await streams.create("s1")
        child = {"agent": "researcher", "source_session_id": "child-1"}
        await streams.write(
            "s1",
            [text("parent", step=1), text("child", step=1, **child)],
        )
        await streams.write("s1", [StepResetChunk(step=1, attempt=1, **child)])
        result = await streams.read("s1")
        assert [(i.seq, i.chunk.type, i.chunk.agent) for i in result.chunks] == [
            (1, "text-delta", None),
            (3, "step-reset", "researcher"),
        ]

    async def test_a_live_reader_sees_the_reset(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("draft", step=1)])
        live = (await streams.read("s1")).chunks
        assert [i.seq for i in live] == [1]
        await streams.write("s1", [StepResetChunk(step=1, attempt=1), text("final", attempt=2)])
        more = (await streams.read("s1", after=1)).chunks
        assert [(i.seq, i.chunk.type) for i in more] == [(2, "step-reset"), (3, "text-delta")]

    # -- following ---------------------------------------------------------------------------

    async def test_follow_until_the_stream_ends(self, streams: StreamManager) -> None:
        await streams.create("s1")
        await streams.write("s1", [text("a"), text("b")])
        follower = asyncio.create_task(collect(streams, "s1"))
        from_middle = asyncio.create_task(collect(streams, "s1", after=1))
        for i in range(5):
            await streams.write("s1", [text(f"c{i}")])
            await asyncio.sleep(0)
        await streams.write("s1", [RunEndChunk(run_id="r", status="completed")])
        await streams.set_status("s1", "ended")
        items = await asyncio.wait_for(follower, GUARD)
        assert [i.seq for i in items] == list(range(1, 9))
        assert [i.seq for i in await asyncio.wait_for(from_middle, GUARD)] == list(range(2, 9))

    async def test_many_concurrent_readers_get_the_whole_stream(
        self, streams: StreamManager
    ) -> None:
        await streams.create("s1")
        followers = [asyncio.create_task(collect(streams, "s1")) for _ in range(200)]
        written: list[Chunk] = [RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="m")]
        await streams.write("s1", written[:1])
        for i in range(60):
            batch: list[Chunk] = [text(f"{i}.{j} ") for j in range(3)]
            written += batch
            await streams.write("s1", batch)
            if i % 3 == 0:
                await asyncio.sleep(0)
        end = RunEndChunk(run_id="r", status="completed")
        written.append(end)
        await streams.write("s1", [end])
        await streams.set_status("s1", "ended")
        results = await asyncio.wait_for(asyncio.gather(*followers), GUARD * 3)
        expected = [(i + 1, c.to_dict()) for i, c in enumerate(written)]
        assert all(dump(r) == expected for r in results)

    # -- persistence -------------------------------------------------------------------------

    async def test_a_reopened_manager_sees_the_same_streams(self, harness: StreamsHarness) -> None:
        if not harness.persistent:
            pytest.skip("this implementation keeps streams in memory only")
        first = await harness.open()
        await first.create("s1")
        await first.write("s1", [text("a", step=1), text("b", step=1)])
        await first.write("s1", [StepResetChunk(step=1, attempt=1), text("c", attempt=2)])
        await first.request_stop("s1", "interrupt")
        await first.create("s2")
        await first.set_status("s2", "failed")
        before = dump((await first.read("s1")).chunks)
        await harness.close(first)

        second = await harness.open()
        try:
            assert dump((await second.read("s1")).chunks) == before
            info = await second.info("s1")
            assert info is not None
            assert (info.status, info.last_seq) == ("active", 4)
            ack = await second.write("s1", [text("d", attempt=2), text("late", attempt=1)])
            assert (ack.last_seq, ack.stop_requested) == (6, "interrupt")
            assert [i.seq for i in (await second.read("s1", after=4)).chunks] == [5]
            with pytest.raises(StreamError):
                await second.write("s2", [text("x")])
        finally:
            await harness.close(second)


async def _has_readers(streams: StreamManager, stream_id: str, n: int) -> bool:
    """Whether ``n`` readers are live (an empty write reports it without changing a thing)."""
    return (await streams.write(stream_id, [])).readers >= n
