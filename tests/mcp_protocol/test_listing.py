"""The ``mcp-tools`` step: what it journals is all a replay needs (the servers are not asked
again, the model is offered the same tools), and what it leaves out it says."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from helix_agents import Agent, tool
from helix_agents.core.host_resources import HostResources
from helix_agents.core.mcp_tools import attach_mcp_tools
from helix_agents.mcp import MCPServerHTTP
from helix_agents.state import SessionState
from tests.mcp_protocol.conftest import TOKEN


class JournalStep:
    """Runs a step's body the first time and keeps its result; later, serves it (a replay)."""

    def __init__(self) -> None:
        self.journal: dict[str, Any] = {}
        self.ran: list[str] = []

    async def do(self, name: str, body: Any, config: Any = None) -> Any:
        if name not in self.journal:
            self.ran.append(name)
            self.journal[name] = await body(SimpleNamespace(name=name, attempt=1))
        return self.journal[name]


def _run(agent: Agent) -> Any:
    return SimpleNamespace(
        agent=agent,
        deps=SimpleNamespace(resources=HostResources()),
        params=SimpleNamespace(turn=1, start_step=1),
    )


@tool
def add(a: int) -> int:
    """The agent's own add."""
    return a


async def test_a_replay_builds_the_same_tools_from_the_journal(mcp_url: str) -> None:
    server = MCPServerHTTP(
        url=mcp_url, headers={"Authorization": f"Bearer {TOKEN}"}, allowed_tools={"add", "echo"}
    )
    agent = Agent(name="lister", system_prompt="Hi.", tools=[add], mcp_servers=[server])
    step = JournalStep()
    first = _run(agent)
    await attach_mcp_tools(step, first)  # type: ignore[arg-type]
    assert step.ran == ["turn-1/step-01/mcp-tools"]
    # The server's add collides with the agent's own: left out, and the model is told.
    assert sorted(first.agent.tool_map) == ["add", "echo"]
    assert first.agent.get_tool("add") is add
    prompt = first.agent.render_system_prompt(
        SessionState(session_id="s", agent_type="lister", stream_id="s")
    )
    assert "already has a tool named 'add' (give the server a prefix)" in prompt
    # The registry's agent is untouched: the run has its own copy.
    assert sorted(agent.tool_map) == ["add"]

    replay = _run(agent)
    await attach_mcp_tools(step, replay)  # type: ignore[arg-type]
    assert step.ran == ["turn-1/step-01/mcp-tools"]  # not listed again
    assert replay.agent.tool_definitions() == first.agent.tool_definitions()


async def test_an_agent_without_servers_takes_no_step() -> None:
    step = JournalStep()
    agent = Agent(name="plain")
    run = _run(agent)
    await attach_mcp_tools(step, run)  # type: ignore[arg-type]
    assert step.journal == {}
    assert run.agent is agent
