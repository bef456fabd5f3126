"""An agent step's read and writes: one statement each, on every Database kind.

The commits go through the ``__agents_step_commits`` view and its INSTEAD OF trigger
(migration 0002); these tests pin what the trigger writes, that a writer which no longer
holds the session writes nothing, and that each call is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from helix_agents.errors import ConflictError, StoreError
from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.ports import Database
from helix_agents.ports.database import ExecResult, Param, Row, Statement
from helix_agents.state import PendingToolCall, RunStatus, SuspensionContext
from helix_agents.store import Outcome, StateStore, Suspension
from helix_agents.usage import Usage, UsageRecord
from tests.store._helpers import FakeClock, new_session


class CountingDatabase:
    """Counts the calls and the statements that reach the database."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.calls = 0
        self.statements = 0

    async def query(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        self.calls += 1
        self.statements += 1
        return await self.inner.query(sql, params)

    async def execute(self, sql: str, params: Sequence[Param] = ()) -> ExecResult:
        self.calls += 1
        self.statements += 1
        return await self.inner.execute(sql, params)

    async def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        self.calls += 1
        self.statements += len(statements)
        return await self.inner.batch(statements)

    async def close(self) -> None:  # the fixture closes the inner one
        return None

    def reset(self) -> None:
        self.calls = self.statements = 0


@pytest.fixture
def counted(store: StateStore) -> CountingDatabase:
    counting = CountingDatabase(store.db)
    store.db = counting  # type: ignore[assignment]
    return counting


@pytest.fixture
async def running(store: StateStore) -> str:
    await store.create_session(new_session("s1", custom_state={"keep": 1}))
    await store.start_run("s1", "s1--t1", 1, messages=[(0, UserMessage(content="hi"))])
    return "s1--t1"


def usage_record(run_id: str, name: str, tokens: int = 10) -> UsageRecord:
    return UsageRecord(
        record_id=f"{run_id}/{name}",
        session_id="s1",
        run_id=run_id,
        kind="model",
        model="m",
        usage=Usage(input_tokens=tokens, output_tokens=2, total_tokens=tokens + 2, requests=1),
        metadata={"note": "x"},
    )


def answer(text: str = "done", **fields: Any) -> AssistantMessage:
    return AssistantMessage(content=text, step=1, **fields)


async def test_a_model_step_commit_is_one_statement(
    store: StateStore, running: str, counted: CountingDatabase
) -> None:
    call = ToolCall(id="c1", name="t", arguments={"x": 1})
    await store.commit_model_step(
        "s1",
        running,
        [(1, answer("", tool_calls=[call]))],
        step_count=1,
        usage=usage_record(running, "step-1"),
    )
    assert (counted.calls, counted.statements) == (1, 1)
    assert await store.load_messages("s1") == [
        (0, UserMessage(content="hi")),
        (1, answer("", tool_calls=[call])),
    ]
    state = await store.require_session("s1")
    assert (state.status, state.step_count) == (RunStatus.ACTIVE, 1)
    run = await store.get_run(running)
    assert run is not None
    assert (run.status, run.step_count) == ("active", 1)
    [record] = await store.usage_records("s1")
    assert record.record_id == f"{running}/step-1"
    assert (record.kind, record.model, record.metadata) == ("model", "m", {"note": "x"})
    assert record.usage == Usage(input_tokens=10, output_tokens=2, total_tokens=12, requests=1)


async def test_a_final_commit_ends_the_run_in_the_same_statement(
    store: StateStore, running: str, counted: CountingDatabase
) -> None:
    await store.request_interrupt("s1")
    counted.reset()
    await store.commit_model_step(
        "s1",
        running,
        [(1, answer())],
        step_count=3,
        usage=usage_record(running, "step-3"),
        outcome=Outcome(RunStatus.COMPLETED, output={"answer": [1, "two"]}),
    )
    assert counted.statements == 1
    state = await store.require_session("s1")
    assert (state.status, state.output, state.step_count) == (
        RunStatus.COMPLETED,
        {"answer": [1, "two"]},
        3,
    )
    assert state.error is None
    run = await store.get_run(running)
    assert run is not None
    assert (run.status, run.step_count) == ("completed", 3)
    assert run.completed_at is not None
    # An ended run takes its interrupt request with it.
    assert not await store.interrupt_requested("s1")


async def test_a_failed_outcome_keeps_error_and_reason(store: StateStore, running: str) -> None:
    await store.commit_model_step(
        "s1",
        running,
        [],
        step_count=2,
        outcome=Outcome(RunStatus.FAILED, None, "too many tokens", "usage_limit"),
    )
    state = await store.require_session("s1")
    assert (state.status, state.error, state.failure_reason) == (
        RunStatus.FAILED,
        "too many tokens",
        "usage_limit",
    )


async def test_a_commit_by_a_run_that_lost_the_session_writes_nothing(
    store: StateStore, running: str
) -> None:
    await store.abort("s1", reason="stop")
    with pytest.raises(ConflictError, match="s1--t1"):
        await store.commit_model_step(
            "s1",
            running,
            [(1, answer())],
            step_count=1,
            usage=usage_record(running, "step-1"),
            outcome=Outcome(RunStatus.COMPLETED),
        )
    with pytest.raises(ConflictError):
        await store.commit_tool_step(
            "s1", running, 2, ToolResultMessage(tool_call_id="c", tool_name="t", content=1)
        )
    assert await store.load_messages("s1") == [(0, UserMessage(content="hi"))]
    assert await store.usage_records("s1") == []
    assert (await store.require_session("s1")).status == RunStatus.ABORTED


async def test_committing_again_after_a_crash_duplicates_nothing(
    store: StateStore, running: str
) -> None:
    for _ in range(2):
        await store.commit_model_step(
            "s1",
            running,
            [
                (1, answer("", tool_calls=[ToolCall(id="c1", name="t")])),
                (2, UserMessage(content="x")),
            ],
            step_count=1,
            usage=usage_record(running, "step-1"),
        )
    assert [seq for seq, _ in await store.load_messages("s1")] == [0, 1, 2]
    assert len(await store.usage_records("s1")) == 1
    assert (await store.run_usage(running)).input_tokens == 10


async def test_a_suspension_and_its_settling(store: StateStore, running: str) -> None:
    calls = [PendingToolCall(tool_call_id="c1", tool_name="t", kind="approval", approval_id="a1")]
    context = SuspensionContext(
        status=RunStatus.SUSPENDED_CLIENT_TOOL, run_id=running, expires_at=5_000
    )
    await store.commit_model_step(
        "s1",
        running,
        [(1, answer("", tool_calls=[ToolCall(id="c1", name="t")]))],
        step_count=1,
        outcome=Outcome(RunStatus.SUSPENDED_CLIENT_TOOL),
        suspension=Suspension(context, calls),
    )
    state = await store.require_session("s1")
    assert state.status == RunStatus.SUSPENDED_CLIENT_TOOL
    assert (state.suspension_context, state.expires_at) == (context, 5_000)
    assert [p.tool_call_id for p in state.pending_client_tool_calls] == ["c1"]
    # A suspension without ``pending`` keeps the stored calls.
    await store.start_run("s1", "s1--t1--r1", 1)
    await store.commit_model_step("s1", "s1--t1--r1", [], step_count=1, settle=False)
    assert len((await store.require_session("s1")).pending_client_tool_calls) == 1
    await store.commit_model_step(
        "s1",
        "s1--t1--r1",
        [(2, ToolResultMessage(tool_call_id="c1", tool_name="t", content="ok"))],
        step_count=2,
        settle=True,
    )
    state = await store.require_session("s1")
    assert state.suspension_context is None
    assert state.expires_at is None
    assert state.pending_client_tool_calls == []
    assert state.status == RunStatus.ACTIVE


async def test_a_tool_commit_with_patch_and_usage(
    store: StateStore, running: str, counted: CountingDatabase
) -> None:
    result = ToolResultMessage(tool_call_id="c1", tool_name="t", content={"n": 1})
    await store.commit_tool_step("s1", running, 2, result)
    assert counted.statements == 1  # no patch, no usage: the commit alone
    custom = UsageRecord(
        record_id=f"{running}/tool-c2",
        session_id="s1",
        run_id=running,
        kind="tool",
        usage=Usage(custom={"searches": 2}),
    )
    second = ToolResultMessage(tool_call_id="c2", tool_name="t", content="x")
    await store.commit_tool_step(
        "s1", running, 3, second, state_patch={"keep": None, "new": [1]}, usage=custom
    )
    assert (await store.require_session("s1")).custom_state == {"new": [1]}
    assert (await store.run_usage(running)).custom == {"searches": 2}
    # Stored already (an earlier attempt's): neither the result nor the patch changes.
    await store.commit_tool_step(
        "s1", running, 3, second.model_copy(update={"content": "y"}), state_patch={"new": 2}
    )
    assert (await store.get_message("s1", 3)) == second
    assert (await store.require_session("s1")).custom_state == {"new": [1]}


async def test_the_view_brings_the_history_when_asked(
    store: StateStore, running: str, counted: CountingDatabase
) -> None:
    await store.commit_model_step(
        "s1", running, [(1, answer("a")), (2, UserMessage(content="more"))], step_count=1
    )
    counted.reset()
    view = await store.step_view("s1", running, history_before=2)
    assert counted.statements == 1
    assert view.run_status == RunStatus.ACTIVE
    assert view.state is not None
    assert view.state.custom_state == {"keep": 1}
    assert view.history == [(0, UserMessage(content="hi")), (1, answer("a"))]
    assert (await store.step_view("s1", running)).history is None
    empty = await store.step_view("s1", running, history_before=0)
    assert empty.history == []
    retry = await store.step_view("s1", running, sequence=1)
    assert retry.existing == answer("a")


async def test_a_history_too_large_to_inline_is_left_to_its_own_query(
    store: StateStore, running: str
) -> None:
    big = "x" * 500_000
    await store.commit_model_step("s1", running, [(1, answer(big)), (2, answer(big))], step_count=1)
    view = await store.step_view("s1", running, history_before=3)
    assert view.history is None
    assert view.state is not None
    assert [m for _, m in await store.load_messages("s1", before=3)][1:] == [
        answer(big),
        answer(big),
    ]


async def test_messages_too_large_for_one_value_are_inserted_beside_the_commit(
    store: StateStore, running: str
) -> None:
    # Each message is under D1's 2 MB per value, but not both in one: the second one is
    # written by its own INSERT in the same batch, under the same guard.
    big = "y" * 1_200_000
    await store.commit_model_step(
        "s1",
        running,
        [(1, answer(big)), (2, UserMessage(content=big))],
        step_count=1,
        outcome=Outcome(RunStatus.COMPLETED),
    )
    assert [seq for seq, _ in await store.load_messages("s1")] == [0, 1, 2]
    assert (await store.require_session("s1")).status == RunStatus.COMPLETED


async def test_an_active_outcome_is_refused(store: StateStore, running: str) -> None:
    with pytest.raises(StoreError, match="final, interrupted or suspended"):
        await store.commit_model_step(
            "s1", running, [], step_count=1, outcome=Outcome(RunStatus.ACTIVE)
        )


async def test_the_clock_stamps_the_commit(
    store: StateStore, running: str, clock: FakeClock
) -> None:
    before = clock.now
    await store.commit_model_step("s1", running, [(1, answer())], step_count=1)
    state = await store.require_session("s1")
    assert state.updated_at > before
    [(_, row)] = [
        (r["sequence"], r["created_at"])
        for r in await store.db.query(
            "SELECT sequence, created_at FROM __agents_messages WHERE sequence = 1"
        )
    ]
    assert row == state.updated_at
