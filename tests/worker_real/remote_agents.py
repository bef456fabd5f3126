"""The real-Worker remote sub-agent test's parent agent (test_remote_real.py), shipped into
the Worker through :data:`tests.worker_real.app.CATALOG`.

``remote_boss`` delegates its task to the ``researcher`` agent of another deployment: a
local host the test serves on 127.0.0.1, whose URL the Worker's env var
:data:`REMOTE_VAR` holds (read when the call starts, as a real deployment would read it).
"""

from __future__ import annotations

from typing import Any

from helix_agents import Agent
from helix_agents.subagents import remote_subagent_tool
from helix_agents.testing import FunctionModel, call_tool

__all__ = ["REMOTE_BOSS", "REMOTE_VAR", "remote_boss"]

REMOTE_BOSS = "remote_boss"
REMOTE_VAR = "HELIX_TEST_REMOTE"


def _model(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("ask_remote", message=info.last_user_message)
    result = info.tool_results[-1]
    return f"report: {result.status}={result.content}"


def remote_boss() -> Agent:
    tool = remote_subagent_tool(
        "ask_remote", None, "researcher", url_var=REMOTE_VAR, timeout="2 minutes"
    )
    return Agent(name=REMOTE_BOSS, tools=[tool], model=FunctionModel(_model))
