"""History processors: the shipped ones as pure functions, and the loop applying them before
each model request without touching the stored history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.errors import ConfigurationError
from helix_agents.history import (
    OMITTED_OUTPUT,
    apply_history_processors,
    drop_old_tool_outputs,
    estimate_tokens,
    fit_token_budget,
    history_window,
    keep_last_turns,
    turn_starts,
)
from helix_agents.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.testing import FunctionModel, call_tool

pytestmark = pytest.mark.timeout(60)


def conversation(turns: int) -> list[Message]:
    """``turns`` turns, each: a question, a tool call, its result, an answer."""
    out: list[Message] = []
    for t in range(turns):
        out += [
            UserMessage(content=f"question {t}"),
            AssistantMessage(tool_calls=[ToolCall(id=f"c{t}", name="look", arguments={"t": t})]),
            ToolResultMessage(tool_call_id=f"c{t}", tool_name="look", content="x" * 40),
            AssistantMessage(content=f"answer {t}"),
        ]
    return out


def test_keep_last_turns_cuts_at_user_messages() -> None:
    history = conversation(5)
    kept = keep_last_turns(2)(list(history))
    assert kept == history[12:]
    assert isinstance(kept[0], UserMessage)
    assert kept[0].content == "question 3"
    assert keep_last_turns(9)(list(history)) == history


def test_drop_old_tool_outputs_keeps_each_call_answered() -> None:
    history = conversation(4)
    out = drop_old_tool_outputs(keep=1)(list(history))
    results = [m for m in out if isinstance(m, ToolResultMessage)]
    assert [r.tool_call_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert [r.content for r in results] == [OMITTED_OUTPUT] * 3 + ["x" * 40]
    # The input is not changed (the stored history is the caller's).
    assert all(m.content == "x" * 40 for m in history if isinstance(m, ToolResultMessage))
    assert drop_old_tool_outputs(keep=0)(list(history))[-2].content == OMITTED_OUTPUT


def test_fit_token_budget_drops_oldest_turns_and_keeps_the_last() -> None:
    history = conversation(6)
    per_turn = sum(estimate_tokens(m) for m in history[:4])
    out = fit_token_budget(per_turn * 2)(list(history))
    assert out == history[16:]
    assert sum(estimate_tokens(m) for m in out) <= per_turn * 2
    # A budget smaller than the last turn keeps the last turn whole.
    assert fit_token_budget(1)(list(history)) == history[20:]
    # A custom estimator.
    assert fit_token_budget(6, estimator=lambda m: 1)(list(history)) == history[20:]
    assert fit_token_budget(8, estimator=lambda m: 1)(list(history)) == history[16:]


def test_processors_compose_in_order_and_are_checked() -> None:
    history = conversation(3)
    out = apply_history_processors([keep_last_turns(2), drop_old_tool_outputs(keep=0)], history)
    assert len(out) == 8
    assert all(m.content == OMITTED_OUTPUT for m in out if isinstance(m, ToolResultMessage))
    with pytest.raises(ConfigurationError, match="not a list"):
        apply_history_processors([lambda ms: tuple(ms)], history)  # type: ignore[list-item,return-value]
    with pytest.raises(ConfigurationError):
        keep_last_turns(0)
    with pytest.raises(ConfigurationError):
        fit_token_budget(0)
    with pytest.raises(ConfigurationError, match="not callable"):
        Agent(name="a", history_processors=["nope"])  # type: ignore[list-item]


async def test_the_loop_sends_processed_history_and_stores_all(
    make_host: Callable[..., Any],
) -> None:
    seen: list[list[str]] = []

    @tool
    def look(t: int) -> str:
        """Look something up."""
        return "y" * 100

    def model(messages: list[Any], info: Any) -> Any:
        seen.append([type(m).__name__[0] + str(getattr(m, "content", ""))[:12] for m in messages])
        if not info.tool_results:
            return call_tool("look", t=len(seen))
        return "done"

    def only_user_and_tool(messages: list[Message]) -> list[Message]:
        # A user-defined processor: drop the assistant's text answers of old turns.
        last = max(i for i, m in enumerate(messages) if isinstance(m, UserMessage))
        return [
            m
            for i, m in enumerate(messages)
            if i >= last or not (isinstance(m, AssistantMessage) and not m.tool_calls)
        ]

    agent = Agent(
        name="long",
        tools=[look],
        model=FunctionModel(model),
        history_processors=[keep_last_turns(2), drop_old_tool_outputs(keep=1), only_user_and_tool],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("long", "q1")
    for text in ["q2", "q3"]:
        assert (await handle.result()).status == "completed"
        handle = await handle.send(text)
    assert (await handle.result()).status == "completed"
    stored = await handle.messages()
    assert len(stored) == 12  # nothing removed from the store
    assert all(m.content == "y" * 100 for m in stored if isinstance(m, ToolResultMessage))
    # The last request (turn 3, after its tool ran): turns 2 and 3 only, turn 2's answer
    # dropped by the user's processor, every tool output but the latest blanked.
    last = seen[-1]
    assert last[0] == "Uq2"
    assert [s[0] for s in last] == ["U", "A", "T", "U", "A", "T"]
    assert last[2] == "T" + OMITTED_OUTPUT[:12]
    assert last[-1] == "T" + "y" * 12


def test_turn_starts_count_messages_sent_together_as_one() -> None:
    history: list[Message] = [
        UserMessage(content="hidden context", metadata={"hidden": True}),
        UserMessage(content="visible"),
        AssistantMessage(content="a"),
        UserMessage(content="next"),
        AssistantMessage(content="b"),
    ]
    assert turn_starts(history) == [0, 3]
    assert keep_last_turns(2)(list(history)) == history
    assert keep_last_turns(1)(list(history)) == history[3:]
    assert history_window([keep_last_turns(3), drop_old_tool_outputs()]) == 3
    assert history_window([drop_old_tool_outputs(), keep_last_turns(3)]) is None
    assert history_window([]) is None


def mixed_history() -> list[Message]:
    """Turns of every shape: messages sent together, tools, a loop's prompt inside a turn."""
    out: list[Message] = []
    for t in range(9):
        if t % 3 == 0:
            out.append(UserMessage(content=f"ctx {t}", metadata={"hidden": True}))
        out.append(UserMessage(content=f"q {t}"))
        if t % 2:
            call = ToolCall(id=f"c{t}", name="look")
            out += [
                AssistantMessage(tool_calls=[call]),
                ToolResultMessage(tool_call_id=f"c{t}", tool_name="look", content="r"),
            ]
        if t % 4 == 1:
            out += [AssistantMessage(content="text"), UserMessage(content="final answer please")]
        out.append(AssistantMessage(content=f"a {t}"))
    return out


async def test_the_store_reads_exactly_the_window_keep_last_turns_keeps(
    make_host: Callable[..., Any],
) -> None:
    host = await make_host(Agent(name="w", model=FunctionModel(lambda m, i: "ok")))
    await (await host.executor.execute("w", "first", session_id="win")).result()
    store = host.executor.store
    base = await store.next_sequence("win")
    history = mixed_history()
    await store.append_messages("win", [(base + i, m) for i, m in enumerate(history)])
    full = [m for _, m in await store.load_messages("win")]
    for n in range(1, 14):
        for before in (base + 5, base + 17, base + len(history), None):
            upto = full if before is None else full[:before]
            window = await store.load_messages("win", before=before, last_turns=n)
            assert [m for _, m in window] == keep_last_turns(n)(list(upto)), (n, before)
            view = await store.step_view(
                "win",
                "none",
                sequence=before or 10**6,
                history_before=before or 10**6,
                history_turns=n,
            )
            assert view.history == window


async def test_a_windowed_agent_reads_a_window_and_keeps_call_ids_unique(
    make_host: Callable[..., Any],
) -> None:
    seen: list[int] = []

    @tool
    def look(t: int) -> str:
        """Look something up."""
        return f"found {t}"

    def model(messages: list[Any], info: Any) -> Any:
        seen.append(len(messages))
        if not info.tool_results:
            # A provider that numbers its calls per response: the same id every turn.
            return [ToolCall(id="call_0", name="look", arguments={"t": len(seen)})]
        return "done"

    agent = Agent(
        name="win",
        tools=[look],
        model=FunctionModel(model),
        history_processors=[keep_last_turns(2)],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("win", "q0", session_id="ids")
    assert (await handle.result()).status == "completed"
    store = host.executor.store
    start = await store.next_sequence("ids")
    await store.append_messages(
        "ids",
        [
            (
                start + i,
                UserMessage(content=f"old {i}")
                if i % 2 == 0
                else AssistantMessage(content=f"old answer {i}"),
            )
            for i in range(2000)
        ],
    )
    counted: list[int] = []
    query = host.db.query

    async def counting(sql: str, params: Any = ()) -> Any:
        rows = await query(sql, params)
        counted.append(len(rows))
        return rows

    host.db.query = counting  # type: ignore[method-assign]
    for text in ["q1", "q2", "q3"]:
        handle = await host.executor.execute("win", text, session_id="ids")
        assert (await handle.result()).status == "completed"
    host.db.query = query  # type: ignore[method-assign]
    # Each request carried the window only, and no read returned more than a few rows.
    assert seen[-2:] == [5, 7]
    assert max(counted) < 20
    stored = [m for _, m in await store.load_messages("ids")]
    calls = [c for m in stored if isinstance(m, AssistantMessage) for c in m.tool_calls]
    ids = [c.id for c in calls]
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert all(c.provider_id in (None, "call_0") for c in calls)
    assert ids[1:] == ["call_0~t2s1", "call_0~t3s1", "call_0~t4s1"]
    results = [m.tool_call_id for m in stored if isinstance(m, ToolResultMessage)]
    assert results == ids
