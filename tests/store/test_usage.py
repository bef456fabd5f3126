"""Usage records (idempotent by record id) and rollups over sub-sessions."""

from __future__ import annotations

from helix_agents.state import SubSessionRef
from helix_agents.store import StateStore
from helix_agents.usage import Usage, UsageRecord


def record(record_id: str, session_id: str, run_id: str = "r", **usage: object) -> UsageRecord:
    return UsageRecord(
        record_id=record_id,
        session_id=session_id,
        run_id=run_id,
        usage=Usage(**usage),  # type: ignore[arg-type]
    )


def child(parent: str, child_id: str) -> SubSessionRef:
    return SubSessionRef(
        session_id=parent, sub_session_id=child_id, agent_type="a", parent_tool_call_id="t"
    )


async def test_records_are_idempotent(store: StateStore) -> None:
    full = UsageRecord(
        record_id="p--t1/turn-1/step-01/model",
        session_id="p",
        run_id="p--t1",
        kind="model",
        model="openai:x",
        usage=Usage(input_tokens=5, output_tokens=2, total_tokens=7, requests=1, custom={"k": 1.5}),
        created_at=9,
        metadata={"provider": "test"},
    )
    assert await store.record_usage(full) is True
    assert await store.record_usage(full.model_copy(update={"model": "changed"})) is False
    assert await store.usage_records("p") == [full]
    assert await store.usage_records("p", run_id="other") == []
    minimal = record("r2", "p")
    await store.record_usage(minimal)
    stored = (await store.usage_records("p"))[1]
    assert stored.created_at > 0
    assert stored.model_copy(update={"created_at": 0}) == minimal


async def test_a_session_rollup(store: StateStore) -> None:
    await store.record_usage(record("a", "p", input_tokens=3, requests=1, custom={"s": 1}))
    await store.record_usage(record("b", "p", output_tokens=4, tool_calls=2, custom={"s": 2.5}))
    await store.record_usage(record("c", "other", input_tokens=100))
    rollup = await store.usage_rollup("p")
    assert rollup.usage == Usage(
        input_tokens=3, output_tokens=4, requests=1, tool_calls=2, custom={"s": 3.5}
    )
    assert rollup.by_session == {"p": rollup.usage}
    empty = await store.usage_rollup("nobody")
    assert empty.usage == Usage()
    assert empty.by_session == {"nobody": Usage()}


async def test_rollups_include_grandchildren(store: StateStore) -> None:
    await store.add_sub_session(child("p", "c1"))
    await store.add_sub_session(child("p", "c2"))
    await store.add_sub_session(child("c1", "g1"))
    await store.add_sub_session(child("g1", "gg1"))
    await store.add_sub_session(child("x", "unrelated"))
    await store.record_usage(record("1", "p", input_tokens=1))
    await store.record_usage(record("2", "c1", input_tokens=10, custom={"q": 1}))
    await store.record_usage(record("3", "g1", input_tokens=100, custom={"q": 2}))
    await store.record_usage(record("4", "gg1", input_tokens=1000))
    await store.record_usage(record("5", "unrelated", input_tokens=5000))
    own = await store.usage_rollup("p")
    assert own.usage.input_tokens == 1
    rollup = await store.usage_rollup("p", include_sub_sessions=True)
    assert rollup.usage == Usage(input_tokens=1111, custom={"q": 3})
    assert {k: v.input_tokens for k, v in rollup.by_session.items()} == {
        "p": 1,
        "c1": 10,
        "c2": 0,
        "g1": 100,
        "gg1": 1000,
    }
    middle = await store.usage_rollup("c1", include_sub_sessions=True)
    assert middle.usage.input_tokens == 1110


async def test_a_cycle_does_not_loop(store: StateStore) -> None:
    await store.add_sub_session(child("a", "b"))
    await store.add_sub_session(child("b", "a"))
    await store.record_usage(record("1", "a", requests=1))
    await store.record_usage(record("2", "b", requests=2))
    rollup = await store.usage_rollup("a", include_sub_sessions=True)
    assert rollup.usage.requests == 3


async def test_run_usage(store: StateStore) -> None:
    await store.record_usage(record("1", "p", run_id="p--t1", total_tokens=5, custom={"c": 1}))
    await store.record_usage(record("2", "p", run_id="p--t1", total_tokens=6))
    await store.record_usage(record("3", "p", run_id="p--t2", total_tokens=100))
    assert await store.run_usage("p--t1") == Usage(total_tokens=11, custom={"c": 1})
    assert await store.run_usage("none") == Usage()
