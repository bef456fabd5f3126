"""The Cloudflare flush policy against the issue's bounds, and the StreamWriter following it.

The arithmetic here is exact (no clocks): a step that streams without pause writes once at
its start, then whenever the interval since the last write has passed, then once at its end.
The measured figures for a whole agent are in ``benchmarks/cloudflare_platform_calls.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helix_agents.chunks import TextDeltaChunk
from helix_agents.core.stream_writer import FlushPolicy, StreamWriter
from helix_agents.hosts.cloudflare import CLOUDFLARE_FLUSH_POLICY
from helix_agents.ports.streams import WriteAck
from helix_agents.testing.cloudflare.virtual_time import run_virtual


def writes_for(policy: FlushPolicy, seconds: float, readers: int) -> int:
    """Writes of a step streaming for ``seconds``: first, periodic, last."""
    writes, last = 1, 0.0
    while True:
        due = last + policy.interval(readers=readers, writes=writes)
        if due > seconds:
            return writes + 1
        writes, last = writes + 1, due


@pytest.mark.parametrize("seconds", [0.5, 1, 10, 40, 200])
def test_with_a_reader_at_most_two_plus_four_per_second(seconds: float) -> None:
    assert writes_for(CLOUDFLARE_FLUSH_POLICY, seconds, readers=1) <= 2 + 4 * seconds


@pytest.mark.parametrize("seconds", [1, 10, 60, 200])
def test_without_a_reader_at_most_two_plus_one_per_two_seconds(seconds: float) -> None:
    assert writes_for(CLOUDFLARE_FLUSH_POLICY, seconds, readers=0) <= 2 + seconds / 2


@pytest.mark.parametrize("readers", [0, 1])
def test_a_step_that_streams_for_its_whole_timeout_stays_under_300(readers: int) -> None:
    # The loop's model step times out after 10 minutes.
    assert writes_for(CLOUDFLARE_FLUSH_POLICY, 600, readers=readers) < 300


def test_text_waits_at_most_250_ms_for_a_reader_until_the_policy_widens() -> None:
    policy = CLOUDFLARE_FLUSH_POLICY
    assert policy.interval(readers=1, writes=1) == 0.25
    assert policy.interval(readers=1, writes=policy.widen_after) == 0.25
    assert policy.interval(readers=1, writes=policy.widen_after + 1) == 0.5
    assert policy.interval(readers=0, writes=1) == 2.0


class CountingStreams:
    """A stream manager that only counts writes and reports a reader."""

    def __init__(self, readers: int) -> None:
        self.readers = readers
        self.batches: list[int] = []
        self.statuses: list[str | None] = []

    async def write(self, stream_id: str, chunks: Any, status: Any = None) -> WriteAck:
        self.batches.append(len(chunks))
        self.statuses.append(status)
        return WriteAck(last_seq=sum(self.batches), readers=self.readers)


@pytest.mark.parametrize(("readers", "bound"), [(1, 2 + 4 * 2), (0, 2 + 2 / 2)])
def test_the_writer_follows_the_policy_on_virtual_time(readers: int, bound: float) -> None:
    """500 tokens per second for two seconds of virtual time (the writer's timers included)."""

    async def main() -> list[int]:
        streams = CountingStreams(readers)
        writer = StreamWriter(
            streams,  # type: ignore[arg-type]
            "s--t1",
            step=1,
            attempt=1,
            policy=CLOUDFLARE_FLUSH_POLICY,
        )
        for _ in range(1000):
            await writer.add(TextDeltaChunk(part_id="p", delta="x"))
            await asyncio.sleep(0.002)
        await writer.close()
        return streams.batches

    batches = run_virtual(main)
    assert batches[0] == 1  # the first chunk went out at once
    assert sum(batches) == 1000
    assert len(batches) <= bound


def test_a_held_writer_waits_for_the_steps_last_write() -> None:
    """After ``hold()`` no chunk goes out on the policy's account (interval, timer, full
    buffer): the step's last write takes them all, with the stream's final status."""

    async def main() -> tuple[CountingStreams, int]:
        streams = CountingStreams(readers=1)
        writer = StreamWriter(
            streams,  # type: ignore[arg-type]
            "s--t1",
            step=1,
            attempt=1,
            policy=CLOUDFLARE_FLUSH_POLICY,
        )
        for _ in range(8):  # at 0, 0.05, ..., 0.35 s: writes at 0 and 0.25, a timer for 0.5
            await writer.add(TextDeltaChunk(part_id="p", delta="x"))
            await asyncio.sleep(0.05)
        writer.hold()
        await asyncio.sleep(5)
        for _ in range(CLOUDFLARE_FLUSH_POLICY.max_buffer + 10):
            await writer.add(TextDeltaChunk(part_id="p", delta="z"))
        before = len(streams.batches)
        await writer.flush(status="ended")
        return streams, before

    streams, before = run_virtual(main)
    assert before == 2  # the first chunk at once, one periodic write at 0.25 s; then nothing
    assert len(streams.batches) == 3
    assert streams.statuses == [None, None, "ended"]
    assert sum(streams.batches) == 8 + CLOUDFLARE_FLUSH_POLICY.max_buffer + 10


def test_a_final_flush_with_nothing_buffered_still_ends_the_stream() -> None:
    async def main() -> CountingStreams:
        streams = CountingStreams(readers=0)
        writer = StreamWriter(streams, "s--t1", step=1, attempt=1)  # type: ignore[arg-type]
        await writer.add(TextDeltaChunk(part_id="p", delta="x"))
        assert await writer.flush() is writer.last_ack  # nothing buffered: no call
        await writer.flush(status="failed")
        return streams

    streams = run_virtual(main)
    assert (streams.batches, streams.statuses) == ([1, 0], [None, "failed"])
