"""Interrupt and abort flags, and suspensions with their expiry."""

from __future__ import annotations

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import ConflictError, SessionNotFoundError
from helix_agents.ports import Database
from helix_agents.state import PendingToolCall, RunStatus, SuspensionContext
from helix_agents.store import ControlFlags, InterruptRequest, StateStore
from tests.store._helpers import new_session


@pytest.fixture
async def session(store: StateStore) -> str:
    await store.create_session(new_session("s1"))
    return "s1"


def suspension(expires_at: int | None, run_id: str = "s1--t1") -> SuspensionContext:
    return SuspensionContext(
        status=RunStatus.SUSPENDED_CLIENT_TOOL,
        suspended_step_id="turn-1/step-01/model",
        expires_at=expires_at,
        run_id=run_id,
    )


async def test_interrupt_set_read_clear(store: StateStore, session: str) -> None:
    assert not await store.interrupt_requested(session)
    await store.request_interrupt(session, "enough")
    assert await store.interrupt_requested(session)
    request = await store.get_interrupt(session)
    assert isinstance(request, InterruptRequest)
    assert request.reason == "enough"
    await store.request_interrupt(session, "again")  # a second request replaces the first
    assert (await store.get_interrupt(session)) == InterruptRequest(
        "again", request.requested_at + 1
    )
    assert await store.clear_interrupt(session) is True
    assert await store.clear_interrupt(session) is False
    assert await store.get_interrupt(session) is None


async def test_interrupting_a_missing_session(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.request_interrupt("ghost")


async def test_control_flags_in_one_read(store: StateStore, session: str) -> None:
    assert await store.get_control(session) == ControlFlags()
    await store.request_interrupt(session, "soft")
    await store.abort(session, reason="hard")
    flags = await store.get_control(session)
    assert flags.interrupt is None  # an abort supersedes the interrupt request
    assert (flags.aborted, flags.abort_reason) == (True, "hard")
    with pytest.raises(SessionNotFoundError):
        await store.get_control("ghost")


async def test_abort_ends_the_active_run(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    ended = await store.abort(session, "s1--t1", "user asked")
    assert ended is not None
    assert (ended.run_id, ended.status) == ("s1--t1", RunStatus.ABORTED)
    assert ended.completed_at is not None
    state = await store.require_session(session)
    assert (state.aborted, state.abort_reason, state.status) == (True, "user asked", "aborted")
    assert await store.abort_requested(session)
    assert await store.active_run(session) is None
    # The aborted run cannot finish over it.
    after = await store.finish_run(session, "s1--t1", RunStatus.COMPLETED)
    assert after.status == RunStatus.ABORTED


async def test_abort_ends_a_suspended_session(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    await store.set_suspension(session, suspension(100), run_id="s1--t1")
    await store.finish_run(session, "s1--t1", RunStatus.SUSPENDED_CLIENT_TOOL)
    ended = await store.abort(session)
    assert ended is not None
    assert ended.status == RunStatus.ABORTED
    state = await store.require_session(session)
    assert state.suspension_context is None
    assert await store.expired_suspensions(1_000) == []


async def test_abort_of_a_given_run_only(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    assert await store.abort(session, "s1--t9") is None
    assert (await store.active_run(session)) is not None
    assert await store.abort_requested(session)  # the session flag is set regardless


async def test_abort_of_a_missing_session(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.abort("ghost")


async def test_set_and_clear_a_suspension(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    pending = [PendingToolCall(tool_call_id="c1", tool_name="ask", kind="client")]
    await store.set_suspension(
        session, suspension(500), pending_tool_calls=pending, run_id="s1--t1"
    )
    await store.finish_run(session, "s1--t1", RunStatus.SUSPENDED_CLIENT_TOOL)
    state = await store.require_session(session)
    assert state.suspension_context == suspension(500)
    assert (state.expires_at, state.status) == (500, RunStatus.SUSPENDED_CLIENT_TOOL)
    assert state.pending_client_tool_calls == pending
    # A suspended run still holds its suspension; another run does not.
    await store.set_suspension(session, suspension(600), run_id="s1--t1")
    with pytest.raises(ConflictError):
        await store.clear_suspension(session, run_id="s9--t1")
    await store.clear_suspension(session)
    state = await store.require_session(session)
    assert (state.suspension_context, state.expires_at) == (None, None)
    assert state.pending_client_tool_calls == pending  # cleared separately by the resume
    with pytest.raises(SessionNotFoundError):
        await store.clear_suspension("ghost")


async def test_expired_suspensions(store: StateStore) -> None:
    for name, expires in [("a", 300), ("b", 100), ("c", 200), ("d", None), ("e", 900)]:
        await store.create_session(new_session(name))
        await store.set_suspension(name, suspension(expires, f"{name}--t1"))
    await store.create_session(new_session("plain"))
    expired = await store.expired_suspensions(300)
    assert [s.session_id for s in expired] == ["b", "c", "a"]
    assert expired[0].context == suspension(100, "b--t1")
    assert [s.session_id for s in await store.expired_suspensions(300, limit=1)] == ["b"]
    assert await store.expired_suspensions(99) == []
    await store.clear_suspension("b")
    assert [s.session_id for s in await store.expired_suspensions(1_000)] == ["c", "a", "e"]


# EXPLAIN QUERY PLAN is read through the local driver; D1 plans the same SQLite query.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_expired_query_uses_the_partial_index(database: Database) -> None:
    assert isinstance(database, SQLiteDatabase)
    from helix_agents.store import migrate

    await migrate(database)
    plan = await database.query(
        "EXPLAIN QUERY PLAN SELECT session_id, suspension_context FROM __agents_states "
        "WHERE suspension_context IS NOT NULL "
        "AND json_extract(suspension_context, '$.expiresAt') <= ? "
        "ORDER BY json_extract(suspension_context, '$.expiresAt') LIMIT ?",
        [1, 10],
    )
    assert any("idx_agents_states_suspension_expires" in row["detail"] for row in plan)
