"""``ScheduleStore`` on every Database driver (sqlite3, the D1 driver over the fake D1, the
real local D1): the claim of a due time is once-only, however many firers race."""

from __future__ import annotations

import asyncio

import pytest

from helix_agents.errors import ConflictError
from helix_agents.ports import Database
from helix_agents.schedules import build_schedule
from helix_agents.store import migrate
from helix_agents.store.schedules import ScheduleStore


async def store_of(database: Database) -> ScheduleStore:
    await migrate(database)
    return ScheduleStore(database, clock=lambda: 5_000)


async def test_a_due_time_is_claimed_once(database: Database) -> None:
    store = await store_of(database)
    s = build_schedule(agent="a", message="m", now_ms=1_000, every_ms=1_000, user_id="u")
    await store.create(s)
    with pytest.raises(ConflictError):
        await store.create(s)
    assert s.next_due_ms == 2_000
    claims = await asyncio.gather(*(store.claim(s, 2_000, 3_000) for _ in range(5)))
    assert all(c is not None and c.status == "claimed" and c.due_ms == 2_000 for c in claims)
    row = await store.get(s.schedule_id)
    assert row is not None
    assert (row.next_due_ms, row.fire_count, row.last_due_ms) == (3_000, 1, 2_000)
    # The claimed due time is no longer the schedule's: a late firer of it claims nothing
    # new, and finds the firing that was claimed.
    again = await store.claim(s, 2_000, 3_000)
    assert again is not None
    assert again.fired_at == 5_000
    assert (await store.get(s.schedule_id)).fire_count == 1  # type: ignore[union-attr]
    await store.settle_firing(s.schedule_id, 2_000, "started", session_id="x", run_id="x--t1")
    [firing] = await store.list_firings(s.schedule_id)
    assert (firing.status, firing.run_id) == ("started", "x--t1")


async def test_a_cancelled_or_moved_schedule_claims_nothing(database: Database) -> None:
    store = await store_of(database)
    s = build_schedule(agent="a", message="m", now_ms=1_000, delay_ms=500)
    await store.create(s)
    assert await store.claim(s, 9_999, None) is None  # not its due time
    assert await store.cancel(s.schedule_id)
    assert not await store.cancel(s.schedule_id)
    assert await store.claim(s, 1_500, None) is None
    row = await store.get(s.schedule_id)
    assert row is not None
    assert (row.status, row.next_due_ms, row.fire_count) == ("cancelled", None, 0)
    assert await store.list_firings(s.schedule_id) == []


async def test_listing_and_overdue(database: Database) -> None:
    store = await store_of(database)
    mine = build_schedule(agent="a", message="m", now_ms=1_000, delay_ms=1, user_id="ann")
    anon = build_schedule(agent="a", message="m", now_ms=2_000, cron="0 0 * * *")
    theirs = build_schedule(agent="a", message="m", now_ms=3_000, delay_ms=1, user_id="bob")
    for s in (mine, anon, theirs):
        await store.create(s)
    seen = [s.schedule_id for s in await store.list_schedules(user_id="ann")]
    assert seen == [anon.schedule_id, mine.schedule_id]
    assert len(await store.list_schedules()) == 3
    overdue = [s.schedule_id for s in await store.overdue(4_000)]
    assert overdue == [mine.schedule_id, theirs.schedule_id]
    done = await store.claim(mine, 1_001, None)
    assert done is not None
    assert [s.schedule_id for s in await store.list_schedules(status="done")] == [mine.schedule_id]


async def test_a_failed_due_time_and_the_claimed_firings(database: Database) -> None:
    store = await store_of(database)
    a = build_schedule(agent="a", message="m", now_ms=1_000, every_ms=1_000)
    b = build_schedule(agent="a", message="m", now_ms=1_000, every_ms=1_000)
    for s in (a, b):
        await store.create(s)
    # The sweep's claim of a due time whose instance ended: recorded failed, with why, and
    # the schedule moved on, under the same guard (twice is once).
    for _ in range(2):
        failed = await store.claim(a, 2_000, 4_000, status="failed", detail="errored: boom")
        assert failed is not None
        assert (failed.status, failed.detail) == ("failed", "errored: boom")
    row = await store.get(a.schedule_id)
    assert row is not None
    assert (row.next_due_ms, row.fire_count, row.last_due_ms) == (4_000, 1, 2_000)
    assert await store.claimed_firings() == []
    # Every claimed firing, oldest due time first: a schedule's older one (still queued, say)
    # as well as its latest.
    assert await store.claim(b, 2_000, 3_000) is not None
    assert await store.claim(a, 4_000, 5_000) is not None
    assert await store.claim(b, 3_000, 6_000) is not None
    assert [(f.schedule_id, f.due_ms) for f in await store.claimed_firings()] == [
        (b.schedule_id, 2_000),
        (b.schedule_id, 3_000),
        (a.schedule_id, 4_000),
    ]
    assert [(f.schedule_id, f.due_ms) for f in await store.claimed_firings(limit=2)] == [
        (b.schedule_id, 2_000),
        (b.schedule_id, 3_000),
    ]
    await store.settle_firing(b.schedule_id, 2_000, "failed", detail="terminated")
    assert [(f.schedule_id, f.due_ms) for f in await store.claimed_firings()] == [
        (b.schedule_id, 3_000),
        (a.schedule_id, 4_000),
    ]


async def test_the_claimed_firings_are_read_through_their_index(database: Database) -> None:
    """The sweep reads the claimed rows from the partial index (migration 0006), not by
    scanning the firing history."""
    store = await store_of(database)
    s = build_schedule(agent="a", message="m", now_ms=1_000, every_ms=1_000)
    await store.create(s)
    for n in range(40):
        due = 2_000 + 1_000 * n
        assert await store.claim(s, due, due + 1_000) is not None
        if n != 17:
            await store.settle_firing(s.schedule_id, due, "started", session_id="x")
    [stuck] = await store.claimed_firings()
    assert stuck.due_ms == 2_000 + 1_000 * 17
    plan = await database.query(
        "EXPLAIN QUERY PLAN SELECT schedule_id FROM __helix_schedule_firings "
        "WHERE status = 'claimed' ORDER BY due_ms, schedule_id LIMIT 10"
    )
    details = " ".join(str(row["detail"]) for row in plan)
    assert "idx_helix_schedule_firings_claimed" in details, details
    assert "TEMP B-TREE" not in details, details
