"""What the local stream manager does beyond the port's conformance suite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helix_agents.chunks import SequencedChunk, StepResetChunk, TextDeltaChunk
from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import (
    ConfigurationError,
    DatabaseError,
    StreamError,
    StreamNotFoundError,
)
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.ports.streams import StreamManager
from helix_agents.streaming.chunklog import Stored
from tests.conformance.streams_suite import GUARD, eventually
from tests.support.sql_trace import traced_statements


def text(delta: str, step: int = 1, attempt: int = 1) -> TextDeltaChunk:
    return TextDeltaChunk(part_id="p", delta=delta, step=step, attempt=attempt)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def streams(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LocalStreamManager]:
    manager = LocalStreamManager(tmp_path / "streams.db", clock=clock, recent_window=1.0)
    yield manager
    await manager.close()


def test_it_implements_the_port(streams: LocalStreamManager) -> None:
    assert isinstance(streams, StreamManager)


async def test_recent_readers_count_for_the_window(
    streams: LocalStreamManager, clock: FakeClock
) -> None:
    await streams.create("s")
    await streams.write("s", [text("a")])
    await streams.read("s")  # a one-off reader: live for the window, then gone
    assert streams.readers("s") == 1
    clock.now += 999
    assert (await streams.write("s", [text("b")])).readers == 1
    clock.now += 2
    assert (await streams.write("s", [text("c")])).readers == 0


async def test_a_follower_counts_once(streams: LocalStreamManager, clock: FakeClock) -> None:
    await streams.create("s")
    first = await streams.read("s", after=0)  # returned nothing: its cursor stays 0
    assert first.chunks == []
    assert streams.readers("s") == 1
    parked = asyncio.create_task(streams.read("s", after=0, timeout=GUARD))
    await eventually(_parked(streams, "s", 1), "the follower to park")
    # The parked read continues the first one, so the follower is one reader, not two.
    assert streams.readers("s") == 1
    assert (await streams.write("s", [text("a")])).readers == 1
    await asyncio.wait_for(parked, GUARD)
    assert streams.readers("s") == 1  # busy with what it read, until it reads again
    await streams.read("s", after=1)
    assert streams.readers("s") == 1
    clock.now += 5_000
    assert streams.readers("s") == 0


async def test_readers_of_other_streams_do_not_count(streams: LocalStreamManager) -> None:
    await streams.create("a")
    await streams.create("b")
    task = asyncio.create_task(streams.read("a", timeout=GUARD))
    await eventually(_parked(streams, "a", 1), "a reader of a")
    assert (await streams.write("b", [text("x")])).readers == 0
    await streams.set_status("a", "ended")
    await asyncio.wait_for(task, GUARD)


async def test_close_wakes_parked_readers(tmp_path: Path) -> None:
    manager = LocalStreamManager(tmp_path / "s.db")
    await manager.create("s")
    task = asyncio.create_task(manager.read("s", timeout=GUARD))
    await eventually(_parked(manager, "s", 1), "a parked reader")
    await manager.close()
    with pytest.raises(StreamError):
        await asyncio.wait_for(task, GUARD)
    with pytest.raises(StreamError):
        await manager.write("s", [text("a")])
    await manager.close()  # closing twice is harmless


async def test_a_cancelled_reader_leaves_no_waiter(streams: LocalStreamManager) -> None:
    await streams.create("s")
    task = asyncio.create_task(streams.read("s", timeout=GUARD))
    await eventually(_parked(streams, "s", 1), "a parked reader")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await streams.write("s", [text("a")])).readers == 0


async def test_wait_final_wakes_at_the_end_only(streams: LocalStreamManager) -> None:
    await streams.create("s")

    task = asyncio.create_task(streams.wait_final("s", GUARD))
    await asyncio.sleep(0)
    live = streams._live["s"]
    assert len(live.ending) == 1
    ending = next(iter(live.ending))
    # Writes and their commits do not wake it, and it is no reader of the text.
    for delta in "abc":
        ack = await streams.write("s", [text(delta)])
        streams.flush_held()
        assert ack.readers == 0
        await asyncio.sleep(0)
        assert not task.done()
        assert not ending.done()
    await streams.set_status("s", "paused")
    await asyncio.sleep(0)
    assert not task.done()
    await streams.write("s", [text("d")], status="ended")
    assert await asyncio.wait_for(task, GUARD) == "ended"
    assert not live.ending
    # A final stream answers at once; timeout 0 answers with the status as it is.
    assert await streams.wait_final("s", GUARD) == "ended"
    await streams.create("t")
    assert await streams.wait_final("t", 0) == "active"


async def test_wait_final_times_out_with_the_status(streams: LocalStreamManager) -> None:
    await streams.create("s")
    assert await streams.wait_final("s", 0.02) == "active"
    with pytest.raises(StreamNotFoundError):
        await streams.wait_final("nope", 0.02)


async def test_wait_final_sees_a_failure_and_a_close(tmp_path: Path) -> None:
    manager = LocalStreamManager(tmp_path / "s.db")
    await manager.create("s")
    await manager.create("t")
    failed = asyncio.create_task(manager.wait_final("s", GUARD))
    closing = asyncio.create_task(manager.wait_final("t", GUARD))
    await asyncio.sleep(0)
    await manager.set_status("s", "failed")
    assert await asyncio.wait_for(failed, GUARD) == "failed"
    await manager.close()
    with pytest.raises(StreamError):
        await asyncio.wait_for(closing, GUARD)


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[LocalStreamManager, LocalStreamManager]]:
    """Two managers of one file, as two processes would have; ``sync_interval=0``: each
    notices the other's commits on every call, not within 10 ms."""
    path = tmp_path / "shared.db"
    a = LocalStreamManager(path, sync_interval=0)
    b = LocalStreamManager(path, sync_interval=0)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_wait_final_sees_another_process_end_the_stream(
    two: tuple[LocalStreamManager, LocalStreamManager],
) -> None:
    a, b = two
    await a.create("s")
    waiting = asyncio.create_task(b.wait_final("s", GUARD))
    await asyncio.sleep(0.01)
    await a.set_status("s", "ended")
    # Not woken by the other connection: seen at its next look (a quarter second).
    assert await asyncio.wait_for(waiting, GUARD) == "ended"


async def test_another_connection_writing_the_file_is_seen(
    two: tuple[LocalStreamManager, LocalStreamManager],
) -> None:
    a, b = two
    await a.create("s")
    await a.write("s", [text("1")])
    a.flush_held()  # a write is committed within HOLD_SECONDS, or at once by this
    assert [i.seq for i in (await b.read("s")).chunks] == [1]
    await b.write("s", [text("2"), text("3")])
    b.flush_held()
    # a's in-memory tail is now stale: it must notice b's commit.
    assert [i.seq for i in (await a.read("s", after=1)).chunks] == [2, 3]
    assert (await a.write("s", [text("4")])).last_seq == 4
    # b's reader is not woken by a's write, but its read finds the chunk on timeout.
    pending = asyncio.create_task(b.read("s", after=4, timeout=0.05))
    await asyncio.sleep(0)
    await a.write("s", [text("5")])
    result = await asyncio.wait_for(pending, GUARD)
    assert [i.seq for i in result.chunks] == [5]
    await a.set_status("s", "ended")
    assert (await b.read("s", after=5, timeout=0.05)).status == "ended"


async def test_a_hold_timer_fired_early_sets_itself_again_even_as_it_comes_due(
    two: tuple[LocalStreamManager, LocalStreamManager],
) -> None:
    # Pyodide's loop runs a timer up to a millisecond early; the hold timer then sets itself
    # for the rest of the hold. The due time can pass between its look at the clock and
    # that re-arm, and Pyodide's call_at refuses a time past: the timer must still be set,
    # or the chunks stay held until the stream's next write (readers wait out their timeout).
    a, b = two
    await a.create("s")
    await a.write("s", [text("1")])  # held
    loop = asyncio.get_running_loop()
    real_time = loop.time
    looks = iter([real_time()])  # the timer's look: the hold is not due yet
    loop.time = lambda: next(looks, real_time() + 1.0)  # type: ignore[method-assign]
    try:
        a._flush_later()  # the hold timer, fired early
    finally:
        del loop.time

    async def seen() -> bool:
        return [i.seq for i in (await b.read("s")).chunks] == [1]

    await eventually(seen, "the held chunk committed by the re-armed timer")


async def test_a_reset_after_the_tail_was_trimmed(tmp_path: Path) -> None:
    manager = LocalStreamManager(tmp_path / "s.db", tail_size=2)
    try:
        await manager.create("s")
        for i in range(10):
            await manager.write("s", [text(str(i))])
        await manager.write("s", [StepResetChunk(step=1, attempt=1), text("ok", attempt=2)])
        result = await manager.read("s")
        assert [(i.seq, i.chunk.type) for i in result.chunks] == [
            (11, "step-reset"),
            (12, "text-delta"),
        ]
    finally:
        await manager.close()


async def test_the_tail_decodes_a_chunk_when_it_is_first_read(
    streams: LocalStreamManager, tmp_path: Path
) -> None:
    await streams.create("s")
    await streams.write("s", [text("a"), text("b")])
    await streams.write("s", [text("c", attempt=2)])
    streams.flush_held()
    tail = streams._live["s"].tail
    # Held writes are committed undecoded: nobody has read them yet.
    assert [type(item) for item in tail] == [Stored, Stored, Stored]
    first = await streams.read("s")
    assert [type(item) for item in tail] == [SequencedChunk] * 3
    # The same objects for every reader, equal to what the file holds.
    again = await streams.read("s")
    assert all(x is y for x, y in zip(first.chunks, again.chunks, strict=True))
    other = LocalStreamManager(tmp_path / "streams.db")
    try:
        stored = await other.read("s")
    finally:
        await other.close()
    assert [i.model_dump() for i in first.chunks] == [i.model_dump() for i in stored.chunks]


async def test_a_reset_supersedes_chunks_no_reader_decoded(streams: LocalStreamManager) -> None:
    await streams.create("s")
    await streams.write("s", [text("zombie", attempt=1), text("x", step=2)])
    streams.flush_held()
    await streams.write("s", [StepResetChunk(step=1, attempt=1), text("ok", attempt=2)])
    result = await streams.read("s")
    assert [(i.seq, i.chunk.type, getattr(i.chunk, "delta", None)) for i in result.chunks] == [
        (2, "text-delta", "x"),
        (3, "step-reset", None),
        (4, "text-delta", "ok"),
    ]


async def test_many_streams_beyond_the_live_limit(tmp_path: Path) -> None:
    manager = LocalStreamManager(tmp_path / "s.db", max_live_streams=3)
    try:
        parked = []
        for i in range(8):
            await manager.create(f"s{i}")
            await manager.write(f"s{i}", [text("a")])
            parked.append(asyncio.create_task(manager.read(f"s{i}", after=1, timeout=GUARD)))
        await asyncio.sleep(0)
        for i in range(8):
            await manager.write(f"s{i}", [text("b")])
        results = await asyncio.wait_for(asyncio.gather(*parked), GUARD)
        assert all([c.seq for c in r.chunks] == [2] for r in results)
        for i in range(8):
            assert [c.seq for c in (await manager.read(f"s{i}")).chunks] == [1, 2]
    finally:
        await manager.close()


async def test_cleanup_deletes_old_final_streams(
    streams: LocalStreamManager, clock: FakeClock
) -> None:
    for name in ("old-ended", "old-failed", "old-active", "new-ended"):
        await streams.create(name)
        await streams.write(name, [text("a")])
    await streams.set_status("old-ended", "ended")
    await streams.set_status("old-failed", "failed")
    clock.now += 3_600_000
    await streams.set_status("new-ended", "ended")
    assert await streams.cleanup(ttl=60) == 2
    assert await streams.info("old-ended") is None
    assert await streams.info("old-failed") is None
    assert await streams.info("old-active") is not None
    assert await streams.info("new-ended") is not None
    with pytest.raises(StreamNotFoundError):
        await streams.read("old-ended")
    rows = streams.log.read("new-ended").chunks
    assert [i.seq for i in rows] == [1]


async def test_follow_gives_up_after_idle_timeout(streams: LocalStreamManager) -> None:
    await streams.create("s")
    await streams.write("s", [text("a")])
    got: list[int] = []

    async def drain() -> None:
        async for item in streams.follow("s", idle_timeout=0.05):
            got.append(item.seq)

    with pytest.raises(StreamError, match="sent nothing"):
        await drain()
    assert got == [1]
    with pytest.raises(StreamError):
        async for _ in streams.follow("s", poll=0):
            pass


async def test_a_connection_must_be_in_autocommit_mode(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        with pytest.raises(ConfigurationError):
            LocalStreamManager(conn)
    finally:
        conn.close()


def test_an_unopenable_file_is_a_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError):
        LocalStreamManager(tmp_path / "missing-dir" / "s.db")


async def test_a_corrupt_row_is_a_stream_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    manager = LocalStreamManager(path, tail_size=1)
    try:
        await manager.create("s")
        await manager.write("s", [text("a"), text("b"), text("c")])
        manager.flush_held()  # committed now (else within HOLD_SECONDS)
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute('UPDATE __helix_stream_chunks SET data = \'{"type":"nope"}\' WHERE seq = 1')
        raw.close()
        with pytest.raises(StreamError, match="not a valid chunk"):
            await manager.read("s")
    finally:
        await manager.close()


async def test_unserializable_chunk_content_is_a_stream_error(
    streams: LocalStreamManager,
) -> None:
    await streams.create("s")
    bad = TextDeltaChunk.model_construct(part_id="p", delta=object(), type="text-delta")
    with pytest.raises(StreamError, match="cannot be encoded"):
        await streams.write("s", [bad])
    assert (await streams.write("s", [text("fine")])).last_seq == 1


def _parked(manager: LocalStreamManager, stream_id: str, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return manager.readers(stream_id) >= n and len(_waiters(manager, stream_id)) >= n

    return check


def _waiters(manager: LocalStreamManager, stream_id: str) -> set[asyncio.Future[None]]:
    live = manager._live.get(stream_id)
    return set() if live is None else live.waiters


async def test_a_non_chunk_is_refused(streams: LocalStreamManager) -> None:
    await streams.create("s")
    with pytest.raises(StreamError, match="not a chunk"):
        await streams.write("s", [text("a"), {"type": "text-delta"}])  # type: ignore[list-item]
    assert (await streams.write("s", [text("a")])).last_seq == 1


async def test_appends_leave_the_cleanup_index_alone(tmp_path: Path) -> None:
    """Only ended and failed streams are indexed for cleanup: an append moves a live
    stream's ``updated_at`` without a write to any index (a page per commit, before), and
    a file of an earlier version loses its old index of every stream."""
    with sqlite3.connect(tmp_path / "s.db") as old:
        old.execute(
            "CREATE TABLE __helix_streams (stream_id TEXT PRIMARY KEY NOT NULL, status TEXT"
            " NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0, stop_request TEXT, resets TEXT,"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID"
        )
        old.execute(
            "CREATE INDEX __helix_streams_by_status ON __helix_streams (status, updated_at)"
        )
    manager = LocalStreamManager(tmp_path / "s.db")
    try:
        await manager.create("a")
        await manager.write("a", [TextDeltaChunk(part_id="t", delta="x")], status="ended")
        await asyncio.sleep(0.01)  # older than the cutoff by a few milliseconds
        removed = await manager.cleanup(ttl=0)
        assert removed == 1
    finally:
        await manager.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        indexes = {
            row[0]: row[1]
            for row in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        }
        plan = " ".join(
            str(row[3])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT stream_id FROM __helix_streams WHERE status IN"
                " ('ended', 'failed') AND updated_at < 5 ORDER BY updated_at LIMIT 100"
            )
        )
    assert "__helix_streams_by_status" not in indexes
    assert "WHERE status IN ('ended', 'failed')" in indexes["__helix_streams_ended"]
    assert "__helix_streams_ended" in plan  # cleanup still finds them by the index


async def test_held_chunks_on_a_shared_file_go_out_in_one_statement_or_the_general_way(
    tmp_path: Path,
) -> None:
    # The local host's set-up: the stream log shares the state file, whose next write (or
    # flush) takes the held chunks along in one statement (db/packing.py), guarded by what
    # the manager believes of the stream's row.
    db = SQLiteDatabase(tmp_path / "state.db")
    a = LocalStreamManager(db, sync_interval=3600)  # it does not look for other writers
    other = LocalStreamManager(tmp_path / "state.db")
    try:
        await a.create("s")
        await a.write("s", [text("1")])
        db.flush()
        await a.write("s", [text("2")])
        seen = traced_statements(db.connection)
        db.flush()
        assert len(seen) == 1
        assert seen[0].startswith("INSERT INTO __helix_pack_")
        # Another connection moves the row; a's picture of it is now old. The guard sees it,
        # and the same chunks go the general way, after the other's.
        await other.write("s", [text("3")])
        other.flush_held()
        await a.write("s", [text("4")])
        seen.clear()
        db.flush()
        assert seen[0].startswith("INSERT INTO __helix_pack_")
        assert seen[1].startswith("BEGIN")
        # An attempt reset: its zombie chunk, held afterwards, is marked superseded, which
        # only the general way knows (the stream's row lists the resets).
        await a.write("s", [text("lost", step=3)])
        await a.write("s", [StepResetChunk(step=3, attempt=1), text("ok", step=3, attempt=2)])
        await a.write("s", [text("zombie", step=3), text("on", step=3, attempt=2)])
        seen.clear()
        db.flush()
        assert seen[0].startswith("BEGIN")
        expected = [
            (4, "text-delta", "4"),
            (6, "step-reset", None),
            (7, "text-delta", "ok"),
            (9, "text-delta", "on"),
        ]
        # The writer's own tail and a new reader of the file agree.
        fresh = LocalStreamManager(tmp_path / "state.db")
        try:
            for reader in (a, fresh):
                result = await reader.read("s", after=3)
                got = [
                    (i.seq, i.chunk.type, getattr(i.chunk, "delta", None)) for i in result.chunks
                ]
                assert got == expected
            assert [i.seq for i in (await fresh.read("s")).chunks] == [1, 2, 3, 4, 6, 7, 9]
        finally:
            await fresh.close()
    finally:
        await other.close()
        await a.close()
        await db.close()
