"""Persistent companions on the real local host: spawn, converse, continue, list, status,
wait, terminate; blocking and not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.core.companions import COMPANION_TOOL_NAMES
from helix_agents.messages import ToolResultMessage, UserMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from tests.hitl._helpers import collect

pytestmark = pytest.mark.timeout(60)


def critic(tools: list[Any] | None = None, first: Callable[[Any], Any] | None = None) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        turns = sum(1 for m in messages if isinstance(m, UserMessage))
        if first is not None and not info.tool_results:
            return first(info)
        return f"critic turn {turns}: {info.last_user_message}"

    return Agent(name="critic", tools=tools or [], model=FunctionModel(model))


def lead(script: list[Any], companion: Agent) -> Agent:
    """A parent whose n-th model call (within a turn) makes script[n] (a call or a list)."""

    def model(messages: list[Any], info: Any) -> Any:
        step = len({r.tool_call_id for r in info.tool_results})
        calls_so_far = 0
        for index, item in enumerate(script):
            if calls_so_far == step:
                return item
            calls_so_far += len(item) if isinstance(item, list) else 1
            if index == len(script) - 1:
                break
        return "lead: " + " | ".join(str(r.content) for r in info.tool_results)

    return Agent(name="lead", companions=[companion], model=FunctionModel(model))


def results(messages: list[Any]) -> list[Any]:
    return [m.content for m in messages if isinstance(m, ToolResultMessage)]


async def test_companion_keeps_its_session(make_host: Callable[..., Any]) -> None:
    agent = lead(
        [
            call_tool("spawn_agent", agent_type="critic", name="c1", message="review v1"),
            call_tool("send_message", name="c1", message="review v2"),
            call_tool("list_children"),
            call_tool("get_child_status", name="c1"),
        ],
        critic(),
    )
    host = await make_host(agent)
    # The registry built the companion tools when the host registered the agent.
    assert set(COMPANION_TOOL_NAMES) <= set(agent.tool_map)
    handle = await host.executor.execute("lead", "get reviews")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    out = results(await handle.messages())
    assert out[0] == "critic turn 1: review v1"
    assert out[1] == "critic turn 2: review v2"  # it remembers the first exchange
    [listed] = out[2]
    assert listed["name"] == "c1"
    assert listed["agentType"] == "critic"
    assert listed["status"] == "completed"
    assert out[3] == {"name": "c1", "status": "completed", "output": "critic turn 2: review v2"}
    # Blocking calls forward the companion's chunks to the parent's stream.
    assert any(c.chunk.agent == "critic" for c in chunks)
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    assert ref.mode == "persistent"
    assert ref.name == "c1"
    assert [r.turn for r in await host.store.list_runs(ref.sub_session_id)] == [1, 2]
    usage = await handle.usage()
    assert usage.by_session[ref.sub_session_id].requests == 2


async def test_respawn_continues_a_completed_companion(make_host: Callable[..., Any]) -> None:
    agent = lead(
        [call_tool("spawn_agent", agent_type="critic", name="c1", message="hello")], critic()
    )
    host = await make_host(agent)
    first = await host.executor.execute("lead", "one")
    assert (await first.result()).status == RunStatus.COMPLETED
    second = await first.send("two")
    assert (await second.result()).status == RunStatus.COMPLETED
    out = results(await second.messages())
    assert out == ["critic turn 1: hello", "critic turn 2: hello"]
    assert len(await host.store.list_sub_sessions(first.session_id)) == 1


async def test_background_companion_then_wait(make_host: Callable[..., Any]) -> None:
    release = asyncio.Event()

    @tool
    async def think() -> str:
        """Think for a while."""
        await release.wait()
        return "thought"

    def start(info: Any) -> Any:
        return call_tool("think")

    agent = lead(
        [
            call_tool("spawn_agent", agent_type="critic", name="bg", message="ponder", wait=False),
            call_tool("send_message", name="bg", message="interrupting you"),
            call_tool("wait_for_result", name="bg"),
        ],
        critic([think], start),
    )
    host = await make_host(agent)
    handle = await host.executor.execute("lead", "go")
    # The parent goes on while the companion works; it waits only when it asks to.
    chunks_task = asyncio.create_task(collect(handle))
    while True:
        messages = await host.store.load_messages(handle.session_id)
        if len(results([m for _, m in messages])) >= 2:
            break
        await asyncio.sleep(0.01)
    out = results([m for _, m in messages])
    assert out[0]["status"] == "running"
    assert "busy" in out[1]  # a running companion takes no new message
    release.set()
    chunks = await chunks_task
    assert (await handle.result()).status == RunStatus.COMPLETED
    out = results(await handle.messages())
    assert out[2] == "critic turn 1: ponder"
    # The background companion streamed to its own stream, not the parent's.
    assert not any(c.chunk.agent == "critic" for c in chunks)


async def test_terminate_a_companion(make_host: Callable[..., Any]) -> None:
    started = asyncio.Event()

    @tool
    async def forever() -> str:
        """Never ends."""
        started.set()
        await asyncio.sleep(3600)
        return "never"

    agent = lead(
        [
            call_tool("spawn_agent", agent_type="critic", name="w", message="work", wait=False),
            call_tool("terminate_child", name="w"),
            call_tool("get_child_status", name="w"),
        ],
        critic([forever], lambda info: call_tool("forever")),
    )
    host = await make_host(agent)
    handle = await host.executor.execute("lead", "go")
    assert (await handle.result()).status == RunStatus.COMPLETED
    out = results(await handle.messages())
    assert out[1] == {"name": "w", "status": "terminated"}
    assert out[2]["status"] == "aborted"
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    assert ref.status == "terminated"


async def test_companion_mistakes_are_tool_errors(make_host: Callable[..., Any]) -> None:
    agent = lead(
        [
            call_tool("send_message", name="ghost", message="hi"),
            call_tool("spawn_agent", agent_type="stranger", name="x", message="hi"),
            call_tool("wait_for_result", name="ghost"),
        ],
        critic(),
    )
    host = await make_host(agent)
    handle = await host.executor.execute("lead", "go")
    assert (await handle.result()).status == RunStatus.COMPLETED
    messages = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
    assert [m.status for m in messages] == ["error", "error", "error"]
    assert "no companion named 'ghost'" in str(messages[0].content)
    assert "Unknown companion agent 'stranger'" in str(messages[1].content)


async def test_two_calls_waiting_on_the_same_companion(make_host: Callable[..., Any]) -> None:
    release = asyncio.Event()

    @tool
    async def think() -> str:
        """Think for a while."""
        await release.wait()
        return "thought"

    agent = lead(
        [
            call_tool("spawn_agent", agent_type="critic", name="bg", message="ponder", wait=False),
            [call_tool("wait_for_result", name="bg"), call_tool("wait_for_result", name="bg")],
        ],
        critic([think], lambda info: call_tool("think")),
    )
    host = await make_host(agent)
    handle = await host.executor.execute("lead", "go")
    # Release the companion only once the lead's instance waits on it (twice, one event).
    while (await host.executor.launcher.status(handle.run_id)).status != "waiting":  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    release.set()
    assert (await handle.result()).status == RunStatus.COMPLETED
    out = results(await handle.messages())
    assert out[1:] == ["critic turn 1: ponder", "critic turn 1: ponder"]
