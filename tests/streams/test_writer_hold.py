"""A held writer (:meth:`StreamWriter.hold`) keeps what is added after the hold for the
step's explicit flush, even when a write on the policy's timer was already on its way.

The race, found by the Pyodide tier (Pyodide's event loop orders callbacks differently, and
there ``tests/loop/test_final_write.py`` failed one run in two): the timer fires and schedules
its write, the step then holds the writer and adds its tail, and the write only starts after
that. It used to take the buffer when it started, tail included, so the tail went out before
the step's commit (a crash there left readers with a finish the retry streamed again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from helix_agents._base import Record
from helix_agents.chunks import Chunk, StepResetChunk, TextDeltaChunk
from helix_agents.core.stream_writer import FlushPolicy, StreamWriter
from helix_agents.hosts.local.streams import LocalStreamManager


def text(delta: str) -> TextDeltaChunk:
    return TextDeltaChunk(part_id="p", delta=delta)


@pytest.fixture
async def streams(tmp_path: Path) -> AsyncIterator[LocalStreamManager]:
    manager = LocalStreamManager(tmp_path / "streams.db")
    await manager.create("s")
    yield manager
    await manager.close()


async def test_a_timer_write_on_its_way_takes_nothing_added_after_the_hold(
    streams: LocalStreamManager,
) -> None:
    writes: list[tuple[list[str], Any]] = []
    real_write = streams.write

    async def write(stream_id: str, chunks: Sequence[Chunk], *, status: Any = None) -> Any:
        writes.append(([c.delta for c in chunks if isinstance(c, TextDeltaChunk)], status))
        return await real_write(stream_id, chunks, status=status)

    streams.write = write  # type: ignore[method-assign,assignment]
    # Long enough that "b" is never due at once (the first write to SQLite may be slow).
    policy = FlushPolicy(live_interval=0.2, idle_interval=0.2)
    writer = StreamWriter(streams, "s", step=1, attempt=1, policy=policy)
    await writer.add(text("a"))  # the step's first chunk: written at once
    await writer.add(text("b"))  # waits for the timer
    # Wait until the timer has fired and scheduled its write (a new task), and run before
    # that write starts: callbacks run in the order they were scheduled, and this task's
    # wake-up was scheduled before the timer's write.
    before = asyncio.all_tasks()
    async with asyncio.timeout(10):
        # One pass of the loop per turn (no event to wait on: the task is the signal).
        while not asyncio.all_tasks() - before:  # noqa: ASYNC110
            await asyncio.sleep(0)
    writer.hold()
    await writer.add(text("tail"))
    await writer.flush(status="ended")
    assert writes == [(["a"], None), (["b"], None), (["tail"], "ended")]


@pytest.mark.parametrize("forwarded", [False, True])
async def test_a_chunk_is_tagged_as_pydantic_would_assign_the_fields(
    streams: LocalStreamManager, forwarded: bool
) -> None:
    # The writer sets a chunk's tags with set_fields, pydantic's own assignment of a plain
    # field without its dispatch: valid only while no record validates assignments.
    assert not Record.model_config.get("validate_assignment")
    assert not Record.model_config.get("frozen")
    writer = StreamWriter(
        streams,
        "s",
        step=3,
        attempt=2,
        agent="child" if forwarded else None,
        source_session_id="sess-child" if forwarded else None,
    )
    writer.hold()
    tagged, reset = text("x"), StepResetChunk()
    await writer.add(tagged)
    await writer.add(reset, tag=False, step=2, attempt=1)
    for chunk, fresh, step, attempt in ((tagged, text("x"), 3, 2), (reset, StepResetChunk(), 2, 1)):
        fresh.step = step  # pydantic's own assignment
        fresh.attempt = attempt
        if forwarded:
            fresh.agent = "child"
            fresh.source_session_id = "sess-child"
        assert chunk == fresh
        assert chunk.model_fields_set == fresh.model_fields_set
        assert chunk.to_json() == fresh.to_json()
        assert chunk.model_dump(exclude_unset=True) == fresh.model_dump(exclude_unset=True)
    writer.discard()
