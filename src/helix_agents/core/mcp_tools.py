"""An agent's MCP tools, listed once per run in a durable step of their own.

``turn-T/step-SS/mcp-tools`` (SS: the instance's first agent step) opens a session with each
of the agent's MCP servers and lists their tools. Its result, the tools' names, descriptions
and schemas, is journaled: a replay (a restart, the next step of a Workflow) builds the same
tools from the journal without asking the servers again, so the model is offered the same
tools in every step of the run, and each call goes to the tool the plan named.

A server that cannot be listed (unreachable, refusing, malformed) is retried once; after
that its tools are left out and the model is told why in its instructions (a line per
server), so it can tell the user. The run goes on with the tools it has: an MCP server down
is never a crashed run. A tool name taken twice (by the agent's own tools or another server)
is left out the same way.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from .._base import Record
from ..errors import HelixError, MCPError
from ..ids import mcp_tools_step_name
from ..ports.step import Step, StepConfig, StepContext
from .converter import durable_step

if TYPE_CHECKING:
    from ..agent import Agent
    from ..mcp.servers import MCPServer
    from .host_resources import HostResources
    from .run_context import RunContext

__all__ = ["MCP_LIST_STEP_CONFIG", "MCPListing", "MCPToolSpec", "attach_mcp_tools"]

logger = logging.getLogger("helix_agents.mcp")

#: One retry: a server that is still down after it is reported, not waited for.
MCP_LIST_STEP_CONFIG: StepConfig = {
    "retries": {"limit": 1, "delay": 500, "backoff": "constant"},
    "timeout": "2 minutes",
}


class MCPToolSpec(Record):
    """One listed tool: its server (index in ``Agent.mcp_servers``) and what it said."""

    server: int
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)


class MCPListing(Record):
    """The step's result: the tools, and a sentence per server or tool left out."""

    tools: list[MCPToolSpec] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


async def attach_mcp_tools(step: Step, run: RunContext) -> None:
    """Give the run an agent with its MCP servers' tools (none: the agent as it is)."""
    servers: Sequence[MCPServer] = getattr(run.agent, "mcp_servers", ())
    if not servers:
        return
    resources = run.deps.resources

    async def body(ctx: StepContext) -> MCPListing:
        last = ctx.attempt > int(MCP_LIST_STEP_CONFIG["retries"]["limit"])
        return await list_servers(servers, resources, raise_errors=not last)

    name = mcp_tools_step_name(run.params.turn, run.params.start_step)
    listing = await durable_step(step, name, body, MCPListing, MCP_LIST_STEP_CONFIG)
    run.agent = with_listing(run.agent, listing, resources)


async def list_servers(
    servers: Sequence[MCPServer], resources: HostResources, *, raise_errors: bool
) -> MCPListing:
    """Every server's offered tools. With ``raise_errors`` the first failure raises (the
    step retries); without, a failure becomes a problem and the others are still listed."""
    from ..mcp.sessions import connect

    listing = MCPListing()
    for index, server in enumerate(servers):
        try:
            async with connect(
                server,
                resources.mcp_sessions,
                vars=resources.vars,
                transport=resources.http_transport,
            ) as client:
                tools = await client.list_tools()
        except HelixError as exc:
            if raise_errors:
                raise
            message = str(exc) if isinstance(exc, MCPError) else f"{server.label!r}: {exc}"
            logger.warning("MCP tools left out: %s", message)
            listing.problems.append(message)
            continue
        for item in tools:
            remote = item.get("name")
            if not isinstance(remote, str) or not server.offers(remote):
                continue
            schema = item.get("inputSchema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                schema = {"type": "object", "properties": {}}
            description = item.get("description")
            listing.tools.append(
                MCPToolSpec(
                    server=index,
                    name=remote,
                    description=description if isinstance(description, str) else "",
                    input_schema=schema,
                )
            )
    return listing


def with_listing(agent: Agent, listing: MCPListing, resources: HostResources) -> Agent:
    """A copy of ``agent`` for this run: its own tools, then the listed ones. Pure given the
    listing (a replay builds the same agent)."""
    import re

    from ..mcp.toolset import mcp_tool

    servers: Sequence[MCPServer] = agent.mcp_servers
    tools = dict(agent.tool_map)
    problems = list(listing.problems)
    for spec in listing.tools:
        if not 0 <= spec.server < len(servers):
            continue  # a journal from a definition with fewer servers: nothing to call
        server = servers[spec.server]
        built = mcp_tool(
            server,
            remote_name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema,
            host_vars=resources.vars,
            transport=resources.http_transport,
            sessions=resources.mcp_sessions,
        )
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", built.name):
            problems.append(
                f"MCP tool {spec.name!r} of server {server.label!r} is left out: its name "
                f"{built.name!r} is not 1-64 letters, digits, _ or -"
            )
        elif built.name in tools or built.name == agent.output_tool_name:
            problems.append(
                f"MCP tool {spec.name!r} of server {server.label!r} is left out: the agent "
                f"already has a tool named {built.name!r} (give the server a prefix)"
            )
        else:
            tools[built.name] = built
    derived = copy.copy(agent)
    derived._tools = tools
    derived._definitions = None
    if problems:
        base = agent.system_prompt
        note = "\n\nSome of your tools are unavailable in this run:\n" + "\n".join(
            f"- {p}" for p in problems
        )

        def prompt(state: Any) -> str:
            text = base(state) if callable(base) else base
            return text + note

        derived.system_prompt = prompt
    return derived
