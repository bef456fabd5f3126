"""Sessions: create, load, list, and saves guarded by the session's active run."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents.errors import ConflictError, InvalidIdError, SessionNotFoundError
from helix_agents.messages import AssistantMessage, UserMessage
from helix_agents.state import PendingToolCall, RunStatus, SuspensionContext
from helix_agents.store import StateStore
from tests.store._helpers import FakeClock, new_session


async def test_create_and_load(store: StateStore, clock: FakeClock) -> None:
    created = await store.create_session(new_session("s1", user_id="u1", tags=["x"]))
    assert created.created_at == created.updated_at > 0
    loaded = await store.load_session("s1")
    assert loaded == created
    assert await store.load_session("nope") is None


async def test_every_field_round_trips(store: StateStore) -> None:
    state = new_session(
        "full",
        status=RunStatus.SUSPENDED_CLIENT_TOOL,
        step_count=3,
        custom_state={"a": {"b": [1, None, "c"]}, "é": "👋"},
        output={"answer": [1, 2]},
        error="e",
        failure_reason="r",
        parent_session_id="parent",
        aborted=True,
        abort_reason="why",
        user_id="u",
        tags=["t1", "t2"],
        metadata={"m": True},
        pending_client_tool_calls=[PendingToolCall(tool_call_id="c", tool_name="n", step=1)],
        completed_client_tool_calls=["c0"],
        suspension_context=SuspensionContext(
            status=RunStatus.SUSPENDED_CLIENT_TOOL, expires_at=99, run_id="full--t1"
        ),
        expires_at=99,
        created_at=10,
        updated_at=11,
    )
    await store.create_session(state)
    assert await store.load_session("full") == state


async def test_output_of_any_json_type(store: StateStore) -> None:
    for index, output in enumerate(["text", 0, 1.5, [1], {"a": None}, True]):
        await store.create_session(new_session(f"o{index}", output=output))
        loaded = await store.load_session(f"o{index}")
        assert loaded is not None
        assert loaded.output == output


async def test_duplicates_are_refused(store: StateStore) -> None:
    await store.create_session(new_session("s1", agent_type="first"))
    with pytest.raises(ConflictError, match="already exists"):
        await store.create_session(new_session("s1", agent_type="second"))
    loaded = await store.load_session("s1")
    assert loaded is not None
    assert loaded.agent_type == "first"


async def test_session_ids_are_validated(store: StateStore) -> None:
    with pytest.raises(InvalidIdError):
        await store.create_session(new_session("bad id"))


async def test_require_session(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.require_session("missing")
    await store.create_session(new_session("s1"))
    assert (await store.require_session("s1")).session_id == "s1"


async def test_a_writer_outside_any_run_saves_while_no_run_is_active(store: StateStore) -> None:
    state = await store.create_session(new_session("s1"))
    saved = await store.save_session(state.model_copy(update={"metadata": {"k": 1}}), run_id=None)
    assert saved.updated_at > state.updated_at
    assert (await store.require_session("s1")).metadata == {"k": 1}
    await store.start_run("s1", "s1--t1", 1)
    with pytest.raises(ConflictError, match="held by its active run 's1--t1'"):
        await store.save_session(state.model_copy(update={"metadata": {"k": 2}}), run_id=None)
    assert (await store.require_session("s1")).metadata == {"k": 1}


async def test_only_the_active_run_saves(store: StateStore) -> None:
    await store.create_session(new_session("s1"))
    await store.start_run("s1", "s1--t1", 1)
    state = await store.require_session("s1")
    await store.save_session(state.model_copy(update={"custom_state": {"v": 1}}), run_id="s1--t1")
    with pytest.raises(ConflictError, match="does not hold"):
        await store.save_session(
            state.model_copy(update={"custom_state": {"v": 2}}), run_id="x--t9"
        )
    await store.finish_run("s1", "s1--t1", RunStatus.COMPLETED)
    # Its run is over: it no longer holds the session.
    with pytest.raises(ConflictError):
        await store.save_session(
            state.model_copy(update={"custom_state": {"v": 3}}), run_id="s1--t1"
        )
    assert (await store.require_session("s1")).custom_state == {"v": 1}


async def test_saving_a_missing_session(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.save_session(new_session("ghost"), run_id=None)


async def test_step_count_follows_the_active_run(store: StateStore) -> None:
    await store.create_session(new_session("s1"))
    await store.start_run("s1", "s1--t1", 1)
    assert await store.set_step_count("s1", "s1--t1", 2) is True
    assert (await store.require_session("s1")).step_count == 2
    run = await store.get_run("s1--t1")
    assert run is not None
    assert run.step_count == 2
    await store.finish_run("s1", "s1--t1", RunStatus.COMPLETED)
    assert await store.set_step_count("s1", "s1--t1", 5) is False
    assert (await store.require_session("s1")).step_count == 2


async def test_list_sessions(store: StateStore) -> None:
    await store.create_session(new_session("a", user_id="u1"))
    await store.create_session(new_session("b", user_id="u2"))
    await store.create_session(new_session("c", user_id="u1", parent_session_id="a"))
    assert [s.session_id for s in await store.list_sessions()] == ["c", "b", "a"]
    assert [s.session_id for s in await store.list_sessions(user_id="u1")] == ["c", "a"]
    assert [s.session_id for s in await store.list_sessions(parent_session_id="a")] == ["c"]
    assert [s.session_id for s in await store.list_sessions(limit=1)] == ["c"]


async def _listing_the_old_way(store: StateStore, **filters: Any) -> list[tuple[str, str]]:
    """What a sessions list read before ``list_session_heads``: the sessions, then each
    one's first message (one read per session)."""
    expected = []
    for state in await store.list_sessions(**filters):
        first = await store.load_messages(state.session_id, limit=1)
        message = first[0][1] if first else None
        expected.append(
            (state.session_id, message.content if isinstance(message, UserMessage) else "")
        )
    return expected


async def test_session_heads_list_what_one_read_per_session_did(store: StateStore) -> None:
    await store.create_session(new_session("user-first", user_id="u1"))
    await store.append_messages(
        "user-first",
        [(0, UserMessage(content="  hello\nthere é👋 ")), (1, AssistantMessage(content="hi"))],
    )
    await store.create_session(new_session("assistant-first", user_id="u2"))
    await store.append_messages("assistant-first", [(0, AssistantMessage(content="welcome"))])
    await store.create_session(new_session("empty", user_id="u1", parent_session_id="user-first"))
    await store.create_session(new_session("later", user_id="u1"))
    await store.append_messages(
        "later", [(3, UserMessage(content="third")), (7, UserMessage(content="seventh"))]
    )
    for filters in (
        {},
        {"user_id": "u1"},
        {"parent_session_id": "user-first"},
        {"limit": 2},
        {"user_id": "u1", "limit": 1},
    ):
        heads = await store.list_session_heads(**filters)  # type: ignore[arg-type]
        assert [h.state for h in heads] == await store.list_sessions(**filters)  # type: ignore[arg-type]
        assert [(h.state.session_id, h.opening) for h in heads] == await _listing_the_old_way(
            store, **filters
        )
    openings = {h.state.session_id: h.opening for h in await store.list_session_heads()}
    assert openings == {
        "user-first": "  hello\nthere é👋 ",
        "assistant-first": "",
        "empty": "",
        "later": "third",
    }


async def test_session_heads_are_one_statement_however_many_sessions(store: StateStore) -> None:
    from tests.store.test_steps import CountingDatabase

    counting = CountingDatabase(store.db)
    store.db = counting  # type: ignore[assignment]
    counts = []
    made = 0
    for total in (1, 30):
        for n in range(made, total):
            await store.create_session(new_session(f"s{n:02}"))
            await store.append_messages(f"s{n:02}", [(0, UserMessage(content=f"question {n}"))])
        made = total
        counting.reset()
        heads = await store.list_session_heads()
        counts.append(counting.statements)
        assert len(heads) == total
        assert {h.opening for h in heads} == {f"question {n}" for n in range(total)}
    assert counts == [1, 1]
