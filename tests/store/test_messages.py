"""Messages: idempotent appends at deterministic sequences, order and pages."""

from __future__ import annotations

import asyncio

import pytest

from helix_agents.errors import ConflictError, SessionNotFoundError, StoreError
from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.state import RunStatus
from helix_agents.store import StateStore, StoredMessage
from tests.store._helpers import new_session


def user(n: int) -> UserMessage:
    return UserMessage(content=f"message {n}")


@pytest.fixture
async def session(store: StateStore) -> str:
    await store.create_session(new_session("s1"))
    return "s1"


async def test_append_and_load_in_order(store: StateStore, session: str) -> None:
    assistant = AssistantMessage(
        content="calling", tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 1})]
    )
    result = ToolResultMessage(tool_call_id="c1", tool_name="add", content=2)
    assert await store.append_messages(session, [(2, result), (0, user(0)), (1, assistant)]) == 3
    loaded = await store.load_messages(session)
    assert loaded == [(0, user(0)), (1, assistant), (2, result)]
    assert all(isinstance(item, StoredMessage) for item in loaded)
    assert loaded[1].sequence == 1
    assert loaded[1].message == assistant
    assert await store.get_message(session, 2) == result
    assert await store.get_message(session, 3) is None


async def test_appending_the_same_sequence_again_is_a_no_op(
    store: StateStore, session: str
) -> None:
    assert await store.append_message(session, 0, user(0)) is True
    assert await store.append_message(session, 0, user(0)) is False
    # The first write at a sequence wins, even if a re-run produced something else.
    assert await store.append_messages(session, [(0, user(99)), (1, user(1))]) == 1
    assert await store.load_messages(session) == [(0, user(0)), (1, user(1))]
    assert await store.count_messages(session) == 2


async def test_concurrent_identical_appends_leave_one_row(store: StateStore, session: str) -> None:
    rows = [(i, user(i)) for i in range(5)]
    counts = await asyncio.gather(*(store.append_messages(session, rows) for _ in range(10)))
    assert sum(counts) == 5
    assert await store.count_messages(session) == 5


async def test_next_sequence(store: StateStore, session: str) -> None:
    assert await store.next_sequence(session) == 0
    await store.append_messages(session, [(0, user(0)), (4, user(4))])
    assert await store.next_sequence(session) == 5
    assert await store.next_sequence("other") == 0


async def test_pages(store: StateStore, session: str) -> None:
    await store.append_messages(session, [(i, user(i)) for i in range(10)])

    async def sequences(**kwargs: int) -> list[int]:
        return [seq for seq, _ in await store.load_messages(session, **kwargs)]

    assert await sequences(limit=3) == [0, 1, 2]
    assert await sequences(after=2, limit=3) == [3, 4, 5]
    assert await sequences(after=8, limit=3) == [9]
    assert await sequences(after=9) == []
    assert await sequences(before=4) == [0, 1, 2, 3]
    assert await sequences(before=10, limit=3) == [7, 8, 9]  # the newest page
    assert await sequences(after=2, before=6) == [3, 4, 5]
    # Walking pages forward visits every message once.
    seen: list[int] = []
    after = -1
    while page := await sequences(after=after, limit=4):
        seen += page
        after = page[-1]
    assert seen == list(range(10))


async def test_sessions_do_not_mix(store: StateStore, session: str) -> None:
    await store.create_session(new_session("s2"))
    await store.append_message(session, 0, user(1))
    await store.append_message("s2", 0, user(2))
    assert await store.load_messages("s2") == [(0, user(2))]


async def test_appending_to_a_missing_session(store: StateStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.append_message("ghost", 0, user(0))
    assert await store.load_messages("ghost") == []


async def test_sequences_are_checked(store: StateStore, session: str) -> None:
    with pytest.raises(StoreError):
        await store.append_message(session, -1, user(0))
    assert await store.append_messages(session, []) == 0


async def test_guarded_appends(store: StateStore, session: str) -> None:
    await store.start_run(session, "s1--t1", 1)
    assert await store.append_message(session, 0, user(0), run_id="s1--t1") is True
    assert await store.append_message(session, 0, user(0), run_id="s1--t1") is False
    with pytest.raises(ConflictError):
        await store.append_message(session, 1, user(1), run_id="other--t1")
    await store.finish_run(session, "s1--t1", RunStatus.COMPLETED)
    with pytest.raises(ConflictError, match="completed"):
        await store.append_message(session, 1, user(1), run_id="s1--t1")
    assert await store.count_messages(session) == 1


async def test_a_tool_result_applies_its_state_patch_once(store: StateStore, session: str) -> None:
    state = await store.require_session(session)
    await store.save_session(
        state.model_copy(update={"custom_state": {"keep": 1, "drop": 2, "obj": {"x": 1}}}),
        run_id=None,
    )
    result = ToolResultMessage(tool_call_id="c1", tool_name="t", content="ok")
    patch = {"drop": None, "obj": {"y": 2}, "new": [1, "two"], "odd key.$[0]": "v"}
    assert await store.append_tool_result(session, 0, result, state_patch=patch) is True
    expected = {"keep": 1, "obj": {"y": 2}, "new": [1, "two"], "odd key.$[0]": "v"}
    assert (await store.require_session(session)).custom_state == expected
    # A re-run after a crash: no new message, and the patch is not applied again.
    await store.save_session(
        (await store.require_session(session)).model_copy(
            update={"custom_state": {**expected, "new": "changed later"}}
        ),
        run_id=None,
    )
    assert await store.append_tool_result(session, 0, result, state_patch=patch) is False
    assert (await store.require_session(session)).custom_state["new"] == "changed later"
    assert await store.load_messages(session) == [(0, result)]


async def test_concurrent_tool_results_keep_every_key(store: StateStore, session: str) -> None:
    results = [
        store.append_tool_result(
            session,
            i,
            ToolResultMessage(tool_call_id=f"c{i}", tool_name="t", content=i),
            state_patch={f"k{i}": i},
        )
        for i in range(8)
    ]
    assert all(await asyncio.gather(*results))
    assert (await store.require_session(session)).custom_state == {f"k{i}": i for i in range(8)}


async def test_a_patch_with_many_keys(store: StateStore, session: str) -> None:
    patch = {f"key{i}": {"n": i} for i in range(130)}
    result = ToolResultMessage(tool_call_id="c", tool_name="t")
    assert await store.append_tool_result(session, 0, result, state_patch=patch) is True
    assert (await store.require_session(session)).custom_state == patch


async def test_patch_keys_must_be_plain_strings(store: StateStore, session: str) -> None:
    result = ToolResultMessage(tool_call_id="c", tool_name="t")
    with pytest.raises(StoreError, match="keys"):
        await store.append_tool_result(session, 0, result, state_patch={'a"b': 1})
    assert await store.count_messages(session) == 0


async def test_a_guarded_tool_result(store: StateStore, session: str) -> None:
    result = ToolResultMessage(tool_call_id="c", tool_name="t")
    with pytest.raises(ConflictError):
        await store.append_tool_result(session, 0, result, state_patch={"a": 1}, run_id="s1--t1")
    assert (await store.require_session(session)).custom_state == {}
    await store.start_run(session, "s1--t1", 1)
    assert await store.append_tool_result(session, 0, result, state_patch={"a": 1}, run_id="s1--t1")
    assert (await store.require_session(session)).custom_state == {"a": 1}


async def test_find_user_message_by_client_id(store: StateStore, session: str) -> None:
    """A client's message id finds its user message (and the turn it started); an
    assistant message or a tool result with the same id does not count."""
    await store.create_session(new_session("s2"))
    first = UserMessage(content="one", id="m1", turn=1)
    again = UserMessage(content="again", id="m1", turn=3)
    rows = [
        (0, first),
        (1, AssistantMessage(content="hi", id="m2")),
        (2, UserMessage(content="two", id="m2", turn=2)),
        (3, again),
    ]
    await store.append_messages(session, rows)
    await store.append_message("s2", 0, UserMessage(content="other", id="m3"))
    assert await store.find_user_message(session, "m1") == (0, first)
    found = await store.find_user_message(session, "m2")
    assert found is not None
    assert found[0] == 2
    assert found[1].turn == 2
    assert await store.find_user_message(session, "m3") is None
    assert await store.find_user_message("s2", "m3") == (0, UserMessage(content="other", id="m3"))
    assert await store.find_user_message("nobody", "m1") is None
