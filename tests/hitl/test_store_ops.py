"""The store operations of the HITL protocol on every Database kind (sqlite3, the D1 fake
and a real local D1): compare-and-swap submissions, suspension statements in a step's
batch, the queries the sweep and the submissions use."""

from __future__ import annotations

import pytest

from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.ports import Database
from helix_agents.state import PendingToolCall, RunStatus, SuspensionContext
from helix_agents.store import Outcome, StateStore, Suspension, migrate
from tests.store._helpers import FakeClock, new_session

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def store(database: Database) -> StateStore:
    await migrate(database)
    return StateStore(database, clock=FakeClock())


def pending(call_id: str, kind: str = "approval") -> PendingToolCall:
    return PendingToolCall(
        tool_call_id=call_id,
        tool_name="t",
        kind=kind,
        approval_id=f"apr_{call_id}" if kind == "approval" else None,
        expires_at=2_000,
    )


async def suspended(store: StateStore, calls: list[PendingToolCall]) -> SuspensionContext:
    await store.create_session(new_session("s1"))
    await store.start_run("s1", "s1--t1", 1, messages=[(0, UserMessage(content="hi"))])
    context = SuspensionContext(
        status=RunStatus.SUSPENDED_CLIENT_TOOL, run_id="s1--t1", expires_at=2_000
    )
    message = AssistantMessage(tool_calls=[ToolCall(id=c.tool_call_id, name="t") for c in calls])
    await store.commit_model_step(
        "s1",
        "s1--t1",
        [(1, message)],
        step_count=1,
        outcome=Outcome(RunStatus.SUSPENDED_CLIENT_TOOL),
        suspension=Suspension(context, calls),
    )
    return context


async def test_a_suspension_is_written_with_the_step(store: StateStore) -> None:
    context = await suspended(store, [pending("a"), pending("b", "client")])
    state = await store.require_session("s1")
    assert state.status == RunStatus.SUSPENDED_CLIENT_TOOL
    assert state.suspension_context == context
    assert [p.tool_call_id for p in state.pending_client_tool_calls] == ["a", "b"]
    assert state.expires_at == 2_000
    assert [s.session_id for s in await store.expired_suspensions(2_000)] == ["s1"]
    # Nothing decided yet: not among the ready ones.
    assert await store.suspended_sessions(ready_only=True) == []
    assert [s.session_id for s in await store.suspended_sessions()] == ["s1"]


async def test_swap_pending_is_compare_and_swap(store: StateStore) -> None:
    await suspended(store, [pending("a")])
    view = await store.pending_view("s1")
    assert view is not None
    decided = view.state.pending_client_tool_calls[0].model_copy(update={"decision": "approved"})
    assert await store.swap_pending("s1", view.raw_pending, [decided])
    # A second writer that read the same list loses, and changes nothing.
    denied = decided.model_copy(update={"decision": "denied"})
    assert not await store.swap_pending("s1", view.raw_pending, [denied])
    state = await store.require_session("s1")
    assert state.pending_client_tool_calls[0].decision == "approved"
    assert [s.session_id for s in await store.suspended_sessions(ready_only=True)] == ["s1"]


async def test_swap_suspension_and_settling_it(store: StateStore) -> None:
    context = await suspended(store, [pending("a")])
    view = await store.pending_view("s1")
    assert view is not None
    assert view.raw_context is not None
    marked = context.model_copy(update={"detail": {"expired": "too late"}, "expires_at": None})
    assert await store.swap_suspension("s1", view.raw_context, marked)
    assert not await store.swap_suspension("s1", view.raw_context, None)
    assert await store.expired_suspensions(10**15) == []
    assert [s.session_id for s in await store.suspended_sessions(ready_only=True)] == ["s1"]
    # The resumed run's first write settles it.
    await store.start_run("s1", "s1--t1--r1", 1)
    await store.commit_model_step(
        "s1",
        "s1--t1--r1",
        [(2, ToolResultMessage(tool_call_id="a", tool_name="t", content="x"))],
        step_count=2,
        settle=True,
    )
    state = await store.require_session("s1")
    assert state.suspension_context is None
    assert state.pending_client_tool_calls == []
    assert state.expires_at is None


async def test_result_and_turn_lookups(store: StateStore) -> None:
    await store.create_session(new_session("s1"))
    await store.append_messages(
        "s1",
        [
            (0, UserMessage(content="go", metadata={"parentToolCallId": "call_p"})),
            (1, AssistantMessage(tool_calls=[ToolCall(id="c1", name="t")])),
            (2, ToolResultMessage(tool_call_id="c1", tool_name="t", content="ok")),
        ],
    )
    assert await store.has_tool_result("s1", "c1")
    assert not await store.has_tool_result("s1", "c2")
    assert await store.turn_started_by("s1", "call_p")
    assert not await store.turn_started_by("s1", "call_q")
