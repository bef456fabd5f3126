"""Delegating tools are declarations: an agent definition needs nothing of the loop.

``helix_agents.agent`` and ``helix_agents.subagents`` import nothing of
``helix_agents.core`` (the agent <-> core import cycle is gone), and the registry, which
builds the companion tools, offers the model exactly the tools it offered before the move
(``registry_tools.json``: the names, descriptions and schemas, as an agent built them in
``__post_init__``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, AgentRegistry
from helix_agents.errors import ConfigurationError
from helix_agents.subagents import (
    COMPANION_TOOL_NAMES,
    CompanionTool,
    SubagentTool,
    subagent_tool,
)

GOLDEN = Path(__file__).with_name("registry_tools.json")


def registry() -> AgentRegistry:
    critic = Agent(name="critic", description="Criticises drafts.")
    scout = Agent(name="scout")
    lead = Agent(
        name="lead",
        companions=[critic, "helper.bot"],
        tools=[
            subagent_tool(scout),
            subagent_tool(
                "writer",
                name="write",
                description="Have it written.",
                timeout=5,
                requires_approval=True,
            ),
        ],
    )
    return AgentRegistry([lead, Agent(name="writer"), Agent(name="helper.bot")])


def offered(reg: AgentRegistry, name: str) -> list[dict[str, Any]]:
    return [
        {"name": d.name, "description": d.description, "parameters": d.parameters}
        for d in reg.get(name).tool_definitions()
    ]


def test_an_agent_definition_imports_nothing_of_the_loop() -> None:
    script = (
        "import sys\n"
        "import helix_agents.agent, helix_agents.subagents\n"
        "from helix_agents.agent import Agent, AgentRegistry\n"
        "from helix_agents.subagents import subagent_tool\n"
        "child = Agent(name='child')\n"
        "reg = AgentRegistry([Agent(name='p', companions=[child],"
        " tools=[subagent_tool(Agent(name='c2'))])])\n"
        "assert 'spawn_agent' in reg.get('p').tool_map\n"
        "print(sorted(m for m in sys.modules if m.startswith('helix_agents.core')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_the_registry_offers_the_same_tools_as_before() -> None:
    reg = registry()
    golden = json.loads(GOLDEN.read_text())
    assert reg.names == golden["names"] == ["critic", "helper.bot", "lead", "scout", "writer"]
    assert offered(reg, "lead") == golden["definitions"]
    lead = reg.get("lead")
    assert [t.name for t in lead.tool_map.values()][2:] == list(COMPANION_TOOL_NAMES)
    assert all(isinstance(lead.tool_map[n], CompanionTool) for n in COMPANION_TOOL_NAMES)
    write = lead.tool_map["write"]
    assert isinstance(write, SubagentTool)
    assert (write.agent_name, write.timeout, write.requires_approval) == ("writer", 5, True)
    assert write.function is None


def test_companion_tools_are_built_once_by_the_registry() -> None:
    lead = Agent(name="lead", companions=["critic"])
    assert lead.tool_map == {}  # a definition: the registry completes it
    first = AgentRegistry([lead, Agent(name="critic")])
    tools = dict(lead.tool_map)
    AgentRegistry([lead, Agent(name="critic")])  # a second registry reuses them
    assert lead.tool_map == tools
    assert first.get("lead").tool_definitions() == lead.tool_definitions()


def test_a_companion_tool_name_taken_by_the_agent_is_refused_at_registration() -> None:
    def spawn_agent(note: str) -> str:
        """Mine."""
        return note

    lead = Agent(name="lead", tools=[spawn_agent], companions=["critic"])
    with pytest.raises(ConfigurationError, match="two tools named 'spawn_agent'"):
        AgentRegistry([lead])
    assert list(lead.tool_map) == ["spawn_agent"]  # nothing half-added


def test_subagent_tool_refuses_what_is_neither_an_agent_nor_a_name() -> None:
    with pytest.raises(ConfigurationError, match="needs an Agent or an agent name"):
        subagent_tool(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="needs an Agent or an agent name"):
        subagent_tool("")
