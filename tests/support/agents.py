"""Agents that several test folders share."""

from __future__ import annotations

from typing import Any

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool


def bank(executed: list[int]) -> Agent:
    """An agent whose one tool, ``transfer``, needs approval: the model calls it with 100,
    then answers with the result's status and content. ``executed`` records every run of
    the tool."""

    @tool(requires_approval=True)
    def transfer(amount: int) -> str:
        """Move money."""
        executed.append(amount)
        return f"sent {amount}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("transfer", amount=100)
        result = info.tool_results[-1]
        return f"{result.status}: {result.content}"

    return Agent(name="bank", tools=[transfer], model=FunctionModel(model))
