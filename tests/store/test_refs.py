"""Sub-session references: ephemeral sub-agents and persistent companions."""

from __future__ import annotations

import pytest

from helix_agents.errors import StoreError
from helix_agents.state import SubSessionRef
from helix_agents.store import StateStore


def ref(parent: str, child: str, **fields: object) -> SubSessionRef:
    values: dict[str, object] = {"agent_type": "worker", "parent_tool_call_id": f"call-{child}"}
    values.update(fields)
    return SubSessionRef(session_id=parent, sub_session_id=child, **values)  # type: ignore[arg-type]


async def test_add_is_idempotent(store: StateStore) -> None:
    assert await store.add_sub_session(ref("p", "c1")) is True
    assert await store.add_sub_session(ref("p", "c1", agent_type="other")) is False
    stored = await store.get_sub_session("p", "c1")
    assert stored is not None
    assert (stored.agent_type, stored.status, stored.mode) == ("worker", "active", "ephemeral")
    assert stored.started_at > 0
    assert await store.get_sub_session("p", "nope") is None


async def test_every_field_round_trips(store: StateStore) -> None:
    full = ref(
        "p",
        "c1",
        status="waiting",
        mode="persistent",
        name="researcher",
        remote_json={"url": "https://agents.invalid/x", "auth": None},
        started_at=5,
        completed_at=None,
    )
    await store.add_sub_session(full)
    assert await store.get_sub_session("p", "c1") == full


async def test_update_status(store: StateStore) -> None:
    await store.add_sub_session(ref("p", "c1"))
    waiting = await store.update_sub_session("p", "c1", "waiting")
    assert waiting is not None
    assert (waiting.status, waiting.completed_at) == ("waiting", None)
    done = await store.update_sub_session("p", "c1", "completed")
    assert done is not None
    assert done.status == "completed"
    assert done.completed_at is not None
    explicit = await store.update_sub_session("p", "c1", "failed", completed_at=42)
    assert explicit is not None
    assert explicit.completed_at == 42
    assert await store.update_sub_session("p", "missing", "completed") is None


async def test_children_and_parents(store: StateStore) -> None:
    await store.add_sub_session(ref("p", "c1"))
    await store.add_sub_session(ref("p", "c2", mode="persistent", name="helper"))
    await store.add_sub_session(ref("p", "c3", status="completed"))
    await store.add_sub_session(ref("c1", "g1"))
    assert [r.sub_session_id for r in await store.list_sub_sessions("p")] == ["c1", "c2", "c3"]
    assert [r.sub_session_id for r in await store.list_sub_sessions("p", mode="persistent")] == [
        "c2"
    ]
    assert [r.sub_session_id for r in await store.list_sub_sessions("p", status="completed")] == [
        "c3"
    ]
    parent = await store.find_parent("g1")
    assert parent is not None
    assert parent.session_id == "c1"
    assert await store.find_parent("p") is None
    named = await store.find_sub_session_by_name("p", "helper")
    assert named is not None
    assert named.sub_session_id == "c2"
    assert await store.find_sub_session_by_name("p", "nobody") is None


async def test_a_session_is_not_its_own_child(store: StateStore) -> None:
    with pytest.raises(StoreError):
        await store.add_sub_session(ref("p", "p"))


async def test_swap_remote_json_is_a_compare_and_swap(store: StateStore) -> None:
    """A remote child's mirror (core/remote_answers.py) changes only from the version it
    was read at: of two writers that read the same version, one wins."""
    await store.add_sub_session(ref("p", "r1", remote_json={"url": "https://x.invalid"}))
    await store.add_sub_session(ref("p", "local"))
    first = {"url": "https://x.invalid", "pending": [{"toolCallId": "c"}], "version": 1}
    assert await store.swap_remote_json("p", "r1", first, status="suspended") is True
    # A second writer that read version 0 loses; the winner's value stays.
    assert await store.swap_remote_json("p", "r1", {"url": "other", "version": 1}) is False
    stored = await store.get_sub_session("p", "r1")
    assert stored is not None
    assert (stored.status, stored.remote_json) == ("suspended", first)
    second = {**first, "answers": {"c": {"approved": True}}, "version": 2}
    assert await store.swap_remote_json("p", "r1", second) is True  # status kept
    stored = await store.get_sub_session("p", "r1")
    assert stored is not None
    assert (stored.status, stored.remote_json) == ("suspended", second)
    # Only a remote child's reference, and only with a version.
    assert await store.swap_remote_json("p", "local", {"version": 1}) is False
    with pytest.raises(StoreError):
        await store.swap_remote_json("p", "r1", {"url": "x"})
