"""Re-running a store write after a crash leaves no duplicate (docs/invariants.md invariant 2).

A durable step journals its completion after its writes commit, so a crash between the two
makes the step run again. Here every write of a turn is a step; the database is wrapped to
"crash" right after its k-th call commits, for every k, and the turn is then resumed from
the step that crashed, as the engine would. The end state must equal that of a turn that
never crashed: no message, run, usage record or reference twice, no patch applied twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.ports import Database, ExecResult, Statement
from helix_agents.ports.database import Param, Row
from helix_agents.state import RunStatus, SubSessionRef
from helix_agents.store import StateStore, migrate
from helix_agents.usage import Usage, UsageRecord
from tests.store._helpers import FakeClock, new_session


class Crash(Exception):
    pass


class CrashingDatabase:
    """Delegates to a real database and raises after its ``crash_after``-th call returns."""

    def __init__(self, db: Database, crash_after: int | None) -> None:
        self.db = db
        self.crash_after = crash_after
        self.calls = 0

    def _tick(self) -> None:
        self.calls += 1
        if self.crash_after is not None and self.calls == self.crash_after:
            raise Crash(f"crashed after call {self.calls}")

    async def query(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        rows = await self.db.query(sql, params)
        self._tick()
        return rows

    async def execute(self, sql: str, params: Sequence[Param] = ()) -> ExecResult:
        result = await self.db.execute(sql, params)
        self._tick()
        return result

    async def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        results = await self.db.batch(statements)
        self._tick()
        return results

    async def close(self) -> None:
        pass


Step = Callable[[StateStore], Awaitable[Any]]


def turn(session_id: str) -> list[Step]:
    """The writes of one agent turn, each one step: deterministic for a session id."""
    run_id = f"{session_id}--t1"
    call = ToolCall(id="call_1", name="lookup", arguments={"q": "x"})
    assistant = AssistantMessage(content="looking", tool_calls=[call], step=1)
    result = ToolResultMessage(tool_call_id="call_1", tool_name="lookup", content={"hits": 2})
    child = SubSessionRef(
        session_id=session_id,
        sub_session_id=f"{session_id}-child",
        agent_type="helper",
        parent_tool_call_id="call_1",
        started_at=1,
    )

    def usage(name: str, **counts: int) -> UsageRecord:
        return UsageRecord(
            record_id=f"{run_id}/{name}",
            session_id=session_id,
            run_id=run_id,
            usage=Usage(**counts),
            created_at=1,
        )

    return [
        lambda s: s.start_run(session_id, run_id, 1, messages=[(0, UserMessage(content="go"))]),
        lambda s: s.append_messages(session_id, [(1, assistant)], run_id=run_id),
        lambda s: s.set_step_count(session_id, run_id, 1),
        lambda s: s.record_usage(usage("turn-1/step-01/model", input_tokens=7, requests=1)),
        lambda s: s.add_sub_session(child),
        lambda s: s.append_tool_result(
            session_id, 2, result, state_patch={"hits": 2, "seen": ["x"]}, run_id=run_id
        ),
        lambda s: s.update_sub_session(
            session_id, child.sub_session_id, "completed", completed_at=2
        ),
        lambda s: s.record_usage(usage("turn-1/step-01/tool/call_1", tool_calls=1)),
        lambda s: s.append_messages(
            session_id, [(3, AssistantMessage(content="done", step=2))], run_id=run_id
        ),
        lambda s: s.finish_run(
            session_id, run_id, RunStatus.COMPLETED, output="done", step_count=2
        ),
    ]


async def snapshot(store: StateStore, session_id: str) -> dict[str, Any]:
    """Everything a turn writes, without the timestamps a re-run may legitimately move."""
    state = await store.require_session(session_id)
    runs = await store.list_runs(session_id)
    return {
        "state": state.model_dump(exclude={"created_at", "updated_at", "session_id", "stream_id"}),
        "messages": await store.load_messages(session_id),
        "runs": [
            r.model_dump(exclude={"session_id", "run_id", "started_at", "completed_at"})
            for r in runs
        ],
        "usage": [
            (u.record_id.split("/", 1)[1], u.usage) for u in await store.usage_records(session_id)
        ],
        "refs": [
            r.model_dump(exclude={"session_id", "sub_session_id"})
            for r in await store.list_sub_sessions(session_id)
        ],
        "interrupted": await store.interrupt_requested(session_id),
    }


async def test_every_crash_point_recovers_without_duplicates(database: Database) -> None:
    await migrate(database)
    clock = FakeClock()
    plain = StateStore(database, clock=clock)

    await plain.create_session(new_session("ref"))
    for step in turn("ref"):
        await step(plain)
    expected = await snapshot(plain, "ref")
    assert len(expected["messages"]) == 4

    probe = CrashingDatabase(database, None)
    await StateStore(probe, clock=clock).create_session(new_session("probe"))
    probe.calls = 0
    for step in turn("probe"):
        await step(StateStore(probe, clock=clock))
    total_calls = probe.calls

    for crash_after in range(1, total_calls + 1):
        session_id = f"c{crash_after}"
        await plain.create_session(new_session(session_id))
        crashing = StateStore(CrashingDatabase(database, crash_after), clock=clock)
        journal: set[int] = set()
        steps = turn(session_id)
        try:
            for index, step in enumerate(steps):
                await step(crashing)
                journal.add(index)
        except Crash:
            pass
        else:  # pragma: no cover - every crash point is inside the turn
            raise AssertionError(f"no crash after call {crash_after}")
        # The engine restarts: completed steps come from the journal, the rest run again.
        for index, step in enumerate(steps):
            if index not in journal:
                await step(plain)
        assert await snapshot(plain, session_id) == expected, f"crash after call {crash_after}"


async def test_replaying_a_whole_turn_twice_changes_nothing(database: Database) -> None:
    await migrate(database)
    store = StateStore(database, clock=FakeClock())
    await store.create_session(new_session("s1"))
    steps = turn("s1")
    for step in steps[:-1]:  # everything up to (not including) the finish
        await step(store)
    before = await snapshot(store, "s1")
    for step in steps[:-1]:
        await step(store)
    assert await snapshot(store, "s1") == before
