"""Runs: one active run per session (docs/invariants.md invariant 6), supersede, finish, queries."""

from __future__ import annotations

import asyncio

import pytest

from helix_agents.errors import ConflictError, InvalidIdError, SessionNotFoundError, StoreError
from helix_agents.messages import UserMessage
from helix_agents.state import RunStatus
from helix_agents.store import StateStore
from tests.store._helpers import new_session


@pytest.fixture
async def session(store: StateStore) -> str:
    await store.create_session(new_session("s1", status=RunStatus.COMPLETED))
    return "s1"


async def test_start_run(store: StateStore, session: str) -> None:
    started = await store.start_run(
        session, "s1--t1", 1, stream_id="s1--t1", messages=[(0, UserMessage(content="hi"))]
    )
    assert started.superseded == []
    run = started.run
    assert (run.run_id, run.session_id, run.turn, run.status) == ("s1--t1", "s1", 1, "active")
    assert run.started_at > 0
    assert run.completed_at is None
    state = await store.require_session(session)
    assert (state.status, state.stream_id) == (RunStatus.ACTIVE, "s1--t1")
    assert await store.load_messages(session) == [(0, UserMessage(content="hi"))]
    assert await store.active_run(session) == run
    assert await store.get_run("s1--t1") == run


async def test_a_second_run_is_refused_and_leaves_nothing(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    with pytest.raises(ConflictError, match="already has an active run 's1--t1'"):
        await store.start_run(
            session, "s1--t2", 2, stream_id="s1--t2", messages=[(5, UserMessage(content="no"))]
        )
    assert await store.get_run("s1--t2") is None
    assert await store.load_messages(session) == []
    assert (await store.require_session(session)).stream_id == "s1"


async def test_starting_the_active_run_again_is_idempotent(store: StateStore, session: str) -> None:
    first = await store.start_run(session, "s1--t1", 1, messages=[(0, UserMessage(content="a"))])
    again = await store.start_run(session, "s1--t1", 1, messages=[(0, UserMessage(content="a"))])
    assert again.run == first.run
    assert await store.count_messages(session) == 1
    assert len(await store.list_runs(session)) == 1


async def test_run_ids_are_written_once(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.finish_run(session, "s1--t1", RunStatus.COMPLETED)
    with pytest.raises(ConflictError, match="written once"):
        await store.start_run(session, "s1--t1", 1)
    await store.create_session(new_session("s2"))
    with pytest.raises(ConflictError):
        await store.start_run("s2", "s1--t1", 1)


async def test_a_run_needs_a_session_and_a_valid_id(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.start_run("ghost", "ghost--t1", 1)
    with pytest.raises(InvalidIdError):
        await store.start_run("ghost", "bad id", 1)


async def test_supersede_ends_the_active_run_in_the_same_step(
    store: StateStore, session: str
) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.request_interrupt(session, "old")
    started = await store.start_run(session, "s1--t2", 2, supersede=True)
    assert [r.run_id for r in started.superseded] == ["s1--t1"]
    old = started.superseded[0]
    assert old.status == RunStatus.ABORTED
    assert old.completed_at is not None
    assert await store.get_run("s1--t1") == old
    assert (await store.active_run(session)) == started.run
    assert not await store.interrupt_requested(session)  # flags belonged to the old run


async def test_supersede_without_an_active_run(store: StateStore, session: str) -> None:
    started = await store.start_run(session, "s1--t1", 1, supersede=True)
    assert started.superseded == []
    # begin_run: the same start, answering only with the run it superseded.
    superseded = await store.begin_run(session, "s1--t2", 2, supersede=True)
    assert superseded is not None
    assert superseded == await store.get_run("s1--t1")
    assert superseded.status == RunStatus.ABORTED
    assert await store.begin_run(session, "s1--t3", 3, supersede=True) is not None
    await store.finish_run(session, "s1--t3", RunStatus.COMPLETED)
    assert await store.begin_run(session, "s1--t4", 4) is None


async def test_superseded_status_is_configurable(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    started = await store.start_run(
        session, "s1--t2", 2, supersede=True, superseded_status=RunStatus.INTERRUPTED
    )
    assert started.superseded[0].status == RunStatus.INTERRUPTED
    with pytest.raises(StoreError):
        await store.start_run(
            session, "s1--t3", 3, supersede=True, superseded_status=RunStatus.ACTIVE
        )


async def test_fifty_concurrent_starts_one_winner(store: StateStore, session: str) -> None:
    async def attempt(n: int) -> str | None:
        try:
            started = await store.start_run(
                session, f"s1--t{n}", n, messages=[(n, UserMessage(content=str(n)))]
            )
        except ConflictError:
            return None
        return started.run.run_id

    outcomes = await asyncio.gather(*(attempt(n) for n in range(1, 51)))
    winners = [o for o in outcomes if o is not None]
    assert len(winners) == 1
    runs = await store.list_runs(session)
    assert [r.run_id for r in runs] == winners
    # Only the winner's message was written.
    assert [seq for seq, _ in await store.load_messages(session)] == [int(winners[0][5:])]


async def test_fifty_concurrent_supersedes_leave_one_active_run(
    store: StateStore, session: str
) -> None:
    await store.start_run(session, "s1--t0", 0)
    outcomes = await asyncio.gather(
        *(store.start_run(session, f"s1--t{n}", n, supersede=True) for n in range(1, 51)),
        return_exceptions=True,
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    runs = await store.list_runs(session)
    assert len(runs) == 51
    assert len([r for r in runs if r.status == RunStatus.ACTIVE]) == 1


async def test_finish_run(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.request_interrupt(session)
    run = await store.finish_run(
        session,
        "s1--t1",
        RunStatus.FAILED,
        output={"partial": 1},
        error="boom",
        failure_reason="model",
        step_count=3,
    )
    assert (run.status, run.step_count) == (RunStatus.FAILED, 3)
    assert run.completed_at is not None
    state = await store.require_session(session)
    assert (state.status, state.output, state.error, state.failure_reason, state.step_count) == (
        RunStatus.FAILED,
        {"partial": 1},
        "boom",
        "model",
        3,
    )
    assert not await store.interrupt_requested(session)
    assert await store.active_run(session) is None


async def test_finishing_twice_changes_nothing(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    first = await store.finish_run(session, "s1--t1", RunStatus.COMPLETED, output="yes")
    again = await store.finish_run(session, "s1--t1", RunStatus.FAILED, error="late")
    assert again == first
    state = await store.require_session(session)
    assert (state.status, state.output, state.error) == (RunStatus.COMPLETED, "yes", None)


async def test_a_superseded_run_cannot_finish_over_its_successor(
    store: StateStore, session: str
) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.start_run(session, "s1--t2", 2, supersede=True)
    old = await store.finish_run(session, "s1--t1", RunStatus.COMPLETED, output="stale")
    assert old.status == RunStatus.ABORTED
    state = await store.require_session(session)
    assert (state.status, state.output) == (RunStatus.ACTIVE, None)


async def test_finish_run_checks_its_arguments(store: StateStore, session: str) -> None:
    with pytest.raises(StoreError):
        await store.finish_run(session, "s1--t1", RunStatus.ACTIVE)
    with pytest.raises(StoreError, match="does not exist"):
        await store.finish_run(session, "s1--t9", RunStatus.COMPLETED)


async def test_latest_and_listed_runs(store: StateStore, session: str) -> None:
    assert await store.latest_run(session) is None
    await store.start_run(session, "s1--t1", 1)
    await store.finish_run(session, "s1--t1", RunStatus.INTERRUPTED)
    await store.start_run(session, "s1--t1--r1", 1)
    await store.finish_run(session, "s1--t1--r1", RunStatus.COMPLETED)
    await store.start_run(session, "s1--t2", 2)
    latest = await store.latest_run(session)
    assert latest is not None
    assert latest.run_id == "s1--t2"
    assert [r.run_id for r in await store.list_runs(session)] == [
        "s1--t1",
        "s1--t1--r1",
        "s1--t2",
    ]
    assert [r.run_id for r in await store.list_runs(session, limit=1)] == ["s1--t1"]
    await store.create_session(new_session("s2"))
    await store.start_run("s2", "s2--t1", 1)
    assert [r.run_id for r in await store.list_active_runs()] == ["s1--t2", "s2--t1"]
    assert len(await store.list_active_runs(limit=1)) == 1


async def test_a_new_run_clears_an_abort(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.abort(session, "s1--t1", "stop")
    assert await store.abort_requested(session)
    await store.start_run(session, "s1--t2", 2)
    state = await store.require_session(session)
    assert (state.aborted, state.abort_reason, state.status) == (False, None, RunStatus.ACTIVE)
