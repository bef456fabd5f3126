"""Agents for the schedule tests, on the library's test models (no LLM, no network). Also
shipped into the real Worker (``tests/worker_real/schedule_app.py``): no pytest, threads or
I/O at import."""

from __future__ import annotations

from typing import Any

from helix_agents import Agent
from helix_agents.messages import UserMessage
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import schedule_toolkit


def _echo(messages: list[Any], info: Any) -> Any:
    last = [m for m in messages if isinstance(m, UserMessage)][-1]
    return f"heard: {last.content}"


def echo(name: str = "echo") -> Agent:
    """Answers ``heard: <the last user message>``."""
    return Agent(name=name, model=FunctionModel(_echo))


def _remind(messages: list[Any], info: Any) -> Any:
    last = info.last_user_message or ""
    if last == "remind me" and not info.tool_results:
        return call_tool("schedule_followup", message="time to check", delay_seconds=1)
    if last == "bad" and not info.tool_results:
        return call_tool("schedule_followup", message="x", delay_seconds=0.01)
    if info.tool_results:
        return f"tool said: {info.tool_results[-1].content}"
    return f"got: {last}"


def reminder() -> Agent:
    """Asked to ``remind me``, schedules its own follow-up one second out."""
    return Agent(name="reminder", tools=schedule_toolkit(), model=FunctionModel(_remind))
