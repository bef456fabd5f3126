"""``@tool`` and ``Agent``: schemas from signatures and docstrings, validation, context."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from helix_agents import Agent, AgentRegistry, ToolContext, tool
from helix_agents.errors import ConfigurationError, UnknownAgentError
from helix_agents.tools import ToolArgumentsError


@tool
def get_weather(ctx: ToolContext, city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the weather in a city.

    Args:
        city: The city, e.g. "Paris".
        unit: Celsius or Fahrenheit.
    """
    return f"{city}:{unit}"


def test_schema_comes_from_the_signature_and_the_docstring() -> None:
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Get the weather in a city."
    assert get_weather.context_param == "ctx"
    schema = get_weather.parameters
    assert schema["required"] == ["city"]
    assert set(schema["properties"]) == {"city", "unit"}  # the context is not an argument
    assert schema["properties"]["city"]["description"] == 'The city, e.g. "Paris".'
    assert schema["properties"]["unit"]["enum"] == ["c", "f"]
    assert schema["properties"]["unit"]["default"] == "c"


async def test_call_validates_and_injects_the_context() -> None:
    assert await get_weather.call({"city": "Oslo"}, None) == "Oslo:c"
    with pytest.raises(ToolArgumentsError) as bad:
        await get_weather.call({"city": "Oslo", "unit": "k"}, None)
    assert "unit" in bad.value.message
    assert "call the tool again" in bad.value.message
    with pytest.raises(ToolArgumentsError, match="Extra inputs"):
        await get_weather.call({"city": "Oslo", "country": "NO"}, None)


async def test_async_tools_and_options() -> None:
    @tool(name="shout", description="Shout it.", requires_approval=True, retries=3)
    async def loud(text: str = Field(description="What to shout")) -> str:
        return text.upper()

    assert loud.name == "shout"
    assert loud.is_async
    assert loud.requires_approval is True
    assert loud.step_config == {"retries": {"limit": 3, "delay": 1000, "backoff": "exponential"}}
    assert loud.parameters["properties"]["text"]["description"] == "What to shout"
    assert await loud.call({"text": "hi"}, None) == "HI"


def test_client_tools_have_no_body_to_run() -> None:
    class Choice(BaseModel):
        option: str

    @tool(execute="client", output_schema=Choice)
    def pick(options: list[str]) -> None:
        """Let the user pick one option."""

    assert pick.execute == "client"
    assert pick.function is None
    assert pick.output_schema is not None
    assert pick.output_schema["required"] == ["option"]


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="tool name"):
        tool(name="has space")(lambda: None)

    def star(*args: int) -> None:
        """Nope."""

    with pytest.raises(ConfigurationError, match=r"\*args"):
        tool(star)
    with pytest.raises(ConfigurationError, match="agent name"):
        Agent(name="bad name!")
    with pytest.raises(ConfigurationError, match="two tools"):
        Agent(name="a", tools=[get_weather, get_weather])


class Plan(BaseModel):
    """A plan."""

    days: int = Field(ge=1)


def test_agent_offers_its_tools_and_the_output_tool() -> None:
    agent = Agent(name="p", tools=[get_weather], output_type=Plan)
    names = [d.name for d in agent.tool_definitions()]
    assert names == ["get_weather", "final_result"]
    assert agent.validate_output({"days": 2}) == {"days": 2}
    with pytest.raises(ToolArgumentsError, match="days"):
        agent.validate_output({"days": 0})
    assert agent.render_system_prompt(None) == ""  # type: ignore[arg-type]


def test_registry() -> None:
    a, b = Agent(name="a"), Agent(name="b")
    registry = AgentRegistry([a, b])
    assert registry.get("a") is a
    assert registry.names == ["a", "b"]
    assert "b" in registry
    with pytest.raises(UnknownAgentError, match="known: a, b"):
        registry.get("c")
    with pytest.raises(ConfigurationError, match="two agents"):
        registry.register(Agent(name="a"))
    assert AgentRegistry.coerce(a).names == ["a"]
    assert AgentRegistry.coerce([a, b]).names == ["a", "b"]
