"""Values beyond D1's 2 MB are refused with ValueTooLargeError naming the limit and the size,
before anything is written: never a crash, never a truncation."""

from __future__ import annotations

import pytest

from helix_agents.db.rules import MAX_VALUE_BYTES
from helix_agents.errors import ValueTooLargeError
from helix_agents.messages import ToolResultMessage, UserMessage
from helix_agents.ports import Database
from helix_agents.state import RunStatus, SubSessionRef, SuspensionContext
from helix_agents.store import StateStore
from helix_agents.usage import UsageRecord
from tests.store._helpers import new_session

BIG = "x" * (MAX_VALUE_BYTES + 1)
HALF = "y" * (MAX_VALUE_BYTES // 2 + 10)


def assert_names_the_limit(error: pytest.ExceptionInfo[ValueTooLargeError]) -> None:
    assert error.value.limit == MAX_VALUE_BYTES
    assert error.value.size > MAX_VALUE_BYTES
    assert str(MAX_VALUE_BYTES) in str(error.value)
    assert str(error.value.size) in str(error.value)
    assert error.value.code == "value_too_large"


async def test_an_oversized_session_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueTooLargeError, match="custom_state") as error:
        await store.create_session(new_session("s1", custom_state={"blob": BIG}))
    assert_names_the_limit(error)
    assert await store.load_session("s1") is None


async def test_a_row_over_2_mb_is_refused_even_when_each_value_fits(store: StateStore) -> None:
    with pytest.raises(ValueTooLargeError, match="per row") as error:
        await store.create_session(
            new_session("s1", custom_state={"a": HALF}, metadata={"b": HALF})
        )
    assert_names_the_limit(error)


async def test_an_oversized_save_changes_nothing(store: StateStore) -> None:
    state = await store.create_session(new_session("s1", metadata={"keep": True}))
    with pytest.raises(ValueTooLargeError, match="metadata"):
        await store.save_session(state.model_copy(update={"metadata": {"b": BIG}}), run_id=None)
    assert (await store.require_session("s1")).metadata == {"keep": True}


async def test_an_oversized_message_is_refused_and_the_batch_not_sent(store: StateStore) -> None:
    await store.create_session(new_session("s1"))
    with pytest.raises(ValueTooLargeError, match="message 1") as error:
        await store.append_messages(
            "s1", [(0, UserMessage(content="fine")), (1, UserMessage(content=BIG))]
        )
    assert_names_the_limit(error)
    assert await store.count_messages("s1") == 0
    with pytest.raises(ValueTooLargeError):
        await store.start_run("s1", "s1--t1", 1, messages=[(0, UserMessage(content=BIG))])
    assert await store.get_run("s1--t1") is None


async def test_oversized_outcomes_and_records(store: StateStore) -> None:
    await store.create_session(new_session("s1"))
    await store.start_run("s1", "s1--t1", 1)
    with pytest.raises(ValueTooLargeError, match="output"):
        await store.finish_run("s1", "s1--t1", RunStatus.COMPLETED, output=BIG)
    with pytest.raises(ValueTooLargeError, match="error"):
        await store.finish_run("s1", "s1--t1", RunStatus.FAILED, error=BIG)
    assert (await store.active_run("s1")) is not None  # still running: nothing was written
    with pytest.raises(ValueTooLargeError, match="suspension_context"):
        await store.set_suspension(
            "s1",
            SuspensionContext(status=RunStatus.SUSPENDED_CLIENT_TOOL, detail={"b": BIG}),
        )
    with pytest.raises(ValueTooLargeError, match="metadata"):
        await store.record_usage(
            UsageRecord(record_id="r", session_id="s1", run_id="s1--t1", metadata={"b": BIG})
        )
    with pytest.raises(ValueTooLargeError, match="remote_json"):
        await store.add_sub_session(
            SubSessionRef(
                session_id="s1",
                sub_session_id="c",
                agent_type="a",
                parent_tool_call_id="t",
                remote_json={"b": BIG},
            )
        )
    with pytest.raises(ValueTooLargeError, match="custom state"):
        await store.append_tool_result(
            "s1", 0, ToolResultMessage(tool_call_id="c", tool_name="t"), state_patch={"b": BIG}
        )
    assert await store.count_messages("s1") == 0


# Not on the real local D1: a local workerd stores values far over D1's documented 2 MB
# (tests/wrangler/test_fake_matches_real_d1.py records that difference).
@pytest.mark.parametrize("database", ["sqlite", "d1-fake"], indirect=True)
async def test_custom_state_grown_past_2_mb_by_patches(
    store: StateStore, database: Database
) -> None:
    await store.create_session(new_session("s1"))
    result = ToolResultMessage(tool_call_id="c", tool_name="t")
    await store.append_tool_result("s1", 0, result, state_patch={"a": HALF})
    with pytest.raises(ValueTooLargeError, match="would exceed") as error:
        await store.append_tool_result("s1", 1, result, state_patch={"b": HALF})
    assert error.value.limit == MAX_VALUE_BYTES
    assert await store.count_messages("s1") == 1
    assert set((await store.require_session("s1")).custom_state) == {"a"}
