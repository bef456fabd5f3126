"""The snapshot's ``data-subagent`` parts against the stream's, over HTTP on the local host:
the cases the shared agents (``agents.py``: ``boss``, ``lead``) do not reach. A companion
started in the background and then waited for, a companion call the tool refuses (no
part), a child that fails, and several children started by one step, and a child its call's timeout stops. Each time the
assistant message a ``useChat`` client builds from the stream equals the snapshot's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.messages import ToolCall
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool

from .agents import critic, researcher
from .test_subagents_over_http import chat, rebuilt

pytestmark = pytest.mark.timeout(90)

#: What ``keeper`` calls, one call per model step.
KEEPER_SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("spawn_agent", {"agent_type": "critic", "name": "c1", "message": "v1", "wait": False}),
    ("wait_for_result", {"name": "c1"}),
    ("send_message", {"name": "nobody", "message": "hello?"}),  # refused: no such companion
    ("spawn_agent", {"agent_type": "critic", "name": "c2", "message": "v2", "wait": False}),
]


def keeper() -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done < len(KEEPER_SCRIPT):
            name, args = KEEPER_SCRIPT[done]
            return call_tool(name, **args)
        return "keeper: " + " | ".join(str(r.content) for r in info.tool_results)

    return Agent(name="keeper", companions=[critic()], model=FunctionModel(model))


@tool
async def dawdle() -> str:
    """Take a long time."""
    await asyncio.sleep(60)
    return "late"


def fanout(name: str, child: Agent, calls: int, timeout: str | float = "24 hours") -> Agent:
    """Delegates ``calls`` tasks to ``child`` in one step, then reports every result."""

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [
                ToolCall(id=f"call_{n}", name=f"ask_{child.name}", arguments={"message": f"t{n}"})
                for n in range(calls)
            ]
        return "report: " + "; ".join(f"{r.status}={r.content}" for r in info.tool_results)

    return Agent(
        name=name, tools=[subagent_tool(child, timeout=timeout)], model=FunctionModel(model)
    )


def frames(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert message is not None
    return [p for p in message["parts"] if p["type"] == "data-subagent"]


async def test_companions_in_the_background_waited_for_and_refused(make_server: Any) -> None:
    server = await make_server(keeper())
    async with server.client() as client:
        chunks = await chat(client, "keeper", "ss1", "go")
        snap = (await client.get("/chat/ss1")).json()
    assert snap["status"] == "completed"
    message = rebuilt(chunks)
    # The background spawns stay "running" (their result is the start); the wait ends c1;
    # the refused call has no part.
    assert [(f["id"], f["data"]["status"]) for f in frames(message)] == [
        ("call_1_0", "running"),
        ("call_3_0", "completed"),
        ("call_7_0", "running"),
    ]
    assert snap["messages"][-1] == message


async def test_a_failed_child_and_several_children_of_one_step(make_server: Any) -> None:
    failing = Agent(name="flaky", model=FunctionModel(lambda m, i: call_tool("x")), max_steps=1)
    server = await make_server(fanout("one", failing, 1), fanout("three", researcher(), 3))
    async with server.client() as client:
        failed = await chat(client, "one", "ss2", "go")
        snap = (await client.get("/chat/ss2")).json()
    [frame] = frames(rebuilt(failed))
    assert frame["data"]["status"] == "failed"
    assert "output" not in frame["data"]
    assert snap["messages"][-1] == rebuilt(failed)

    async with server.client() as client:
        several = await chat(client, "three", "ss3", "go")
        snap = (await client.get("/chat/ss3")).json()
    message = rebuilt(several)
    assert [(f["id"], f["data"]["status"]) for f in frames(message)] == [
        (f"call_{n}", "completed") for n in range(3)
    ]
    assert snap["messages"][-1] == message


async def test_a_child_stopped_by_its_calls_timeout(make_server: Any) -> None:
    """The call's timeout aborts the child: the stream ends its part ``aborted`` (it used to
    stay ``running``), as the snapshot shows it."""
    slow = Agent(name="slow", tools=[dawdle], model=FunctionModel(lambda m, i: call_tool("dawdle")))
    server = await make_server(fanout("impatient", slow, 1, timeout=0.5))
    async with server.client() as client:
        chunks = await chat(client, "impatient", "ss4", "go")
        snap = (await client.get("/chat/ss4")).json()
    message = rebuilt(chunks)
    [frame] = frames(message)
    assert frame["data"]["status"] == "aborted"
    assert snap["messages"][-1] == message
