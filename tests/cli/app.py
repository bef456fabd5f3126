"""An app for the CLI tests: ``--app tests.cli.app:registry``."""

from __future__ import annotations

import asyncio
from typing import Any

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.examples import check_service, deploy
from helix_agents.testing import FunctionModel, call_tool


@tool
def shout(text: str) -> str:
    """Shout."""
    return text.upper()


def _model(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("shout", text=info.last_user_message or "")
    return f"I shouted: {info.tool_results[0].content}"


registry = AgentRegistry([Agent(name="shouter", tools=[shout], model=FunctionModel(_model))])


def failing() -> AgentRegistry:
    """A factory, as ``--app`` also accepts."""
    return AgentRegistry(
        [Agent(name="broken", model=FunctionModel(lambda m, i: call_tool("nope")), max_steps=1)]
    )


@tool(execute="client")
def pick_color(question: str) -> str:
    """Ask the person at the client to pick a color."""
    raise NotImplementedError  # the client runs it


def _ask(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("pick_color", question="which color?")
    return f"you picked {info.tool_results[0].content}"


async def _slow(messages: list[Any], info: Any) -> Any:
    # Slow enough to be interrupted with Ctrl-C half-way.
    for i in range(30):
        yield f"w{i} "
        await asyncio.sleep(0.1)


async def _long(messages: list[Any], info: Any) -> Any:
    # A minute of words: still running whenever a test gets round to stopping it.
    for i in range(600):
        yield f"w{i} "
        await asyncio.sleep(0.1)


asker = Agent(name="asker", tools=[pick_color], model=FunctionModel(_ask))
slow = Agent(name="slow", model=FunctionModel(stream_function=_slow))
long = Agent(name="long", model=FunctionModel(stream_function=_long))
# The bundled example whose deploys wait for approval, on the offline demo model.
ops = Agent(name="ops", tools=[check_service, deploy], model="demo")
everything = AgentRegistry([*registry, asker, slow, long, ops])
