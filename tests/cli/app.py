"""An app for the CLI tests: ``--app tests.cli.app:registry``."""

from __future__ import annotations

from typing import Any

from helix_agents import Agent, AgentRegistry, tool
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
