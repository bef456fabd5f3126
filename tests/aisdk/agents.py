"""Agents for the real-SDK tests: every one stops on a gate (an ``asyncio.Event`` the test
sets) in the instance the test wants to reload in, so that a reload lands mid-stream without
any timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from tests.http.agents import gated_bank, lookup


def words(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i} " for i in range(count)]


def weather(gate: asyncio.Event) -> Agent:
    """Step 1 calls ``lookup``; step 2 says a0..a4, waits for ``gate``, says b0..b4."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield call_tool("lookup", city="Paris")
            return
        for word in words("a", 5):
            yield word
        await gate.wait()
        for word in words("b", 5):
            yield word

    return Agent(name="weather", tools=[lookup], model=FunctionModel(stream_function=stream))


def bank(gate: asyncio.Event, executed: list[int]) -> Agent:
    """Calls ``transfer`` (approval required); after the decision says how it went, waits
    for ``gate`` (in the resumed instance), and ends (``tests.http.agents.gated_bank``)."""
    return gated_bank(gate, executed, name="bank")


class Location(BaseModel):
    city: str


def locator(gate: asyncio.Event) -> Agent:
    """Asks the browser for its location (a client tool), then says where it is, waiting
    for ``gate`` in the middle (in the resumed instance)."""

    @tool(execute="client", output_schema=Location)
    def get_location() -> Location:  # type: ignore[empty-body]
        """The user's location, from the browser."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield call_tool("get_location")
            return
        yield "you are in "
        await gate.wait()
        yield str(info.tool_results[-1].content["city"])

    return Agent(name="locator", tools=[get_location], model=FunctionModel(stream_function=stream))


def stepper(first: asyncio.Event, second: asyncio.Event) -> Agent:
    """Step 1 says "checking ", waits for ``first``, calls ``lookup`` (an interrupt during the
    wait cuts the call short: "checking " is kept, and a resume calls the model afresh);
    step 2 says "found ", waits for ``second``, and ends."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "checking "
            await first.wait()
            yield call_tool("lookup", city="Rome")
            return
        yield "found "
        await second.wait()
        yield "it"

    return Agent(name="stepper", tools=[lookup], model=FunctionModel(stream_function=stream))


def delegator(gate: asyncio.Event) -> Agent:
    """Hands the user's message to ``scout`` (a sub-agent that says "scouting ", waits for
    ``gate``, and answers ``found <task>``), then reports its answer: the stream's
    ``data-subagent`` part goes from ``running`` to ``completed`` while the child runs."""

    async def child(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        yield "scouting "
        await gate.wait()
        yield f"found {info.last_user_message}"

    scout = Agent(name="scout", model=FunctionModel(stream_function=child))

    def parent(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_scout", message=str(info.last_user_message))
        return f"report: {info.tool_results[-1].content}"

    return Agent(name="delegator", tools=[subagent_tool(scout)], model=FunctionModel(parent))
