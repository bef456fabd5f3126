"""An MCP server's tools as the agent's tools.

An :class:`MCPTool` is a :class:`~helix_agents.tools.Tool` whose schema is the server's
``inputSchema`` (checked before the call, so a model's bad arguments come back to it as
usual) and whose call is a ``tools/call`` on a session: the host's open one for a stdio
server on the local host (:mod:`.sessions`), else one opened for the call. It runs in the
loop's tool step like any tool: approval gates, retries of a crashed step, its result
stored once. Progress the server reports during the call reaches the stream as a
transient ``data-mcp-progress`` part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from .._schema_check import schema_errors
from ..errors import ToolArgumentsError
from ..tools import Tool, ToolContext
from ._protocol import tool_output
from .servers import MCPServer
from .sessions import StdioSessions, connect

if TYPE_CHECKING:
    import httpx

__all__ = ["MCPTool", "mcp_tool"]


class _Arguments(BaseModel):
    """Any JSON object: the server's schema is checked on its own."""

    model_config = ConfigDict(extra="allow")


@dataclass(eq=False, kw_only=True)
class MCPTool(Tool):
    """A tool of an MCP server, bound to the host it runs on (its variables for the
    server's headers, its HTTP transport)."""

    server: MCPServer
    remote_name: str
    input_schema: dict[str, Any] = field(default_factory=dict)
    host_vars: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.AsyncBaseTransport | None = None
    #: The host's open stdio sessions (None: the call opens its own).
    sessions: StdioSessions | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.input_schema)

    def validate_arguments(self, arguments: Mapping[str, Any]) -> BaseModel:
        problems = schema_errors(dict(arguments), self.input_schema)
        if problems:
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self.name!r}: {'; '.join(problems)}. "
                "Fix the arguments and call the tool again."
            )
        return _Arguments.model_validate(dict(arguments))

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext | None) -> Any:
        self.validate_arguments(arguments)
        on_progress = None
        token = None
        if ctx is not None:
            context = ctx
            token = ctx.tool_call_id

            async def on_progress(params: dict[str, Any]) -> None:
                report = {k: params.get(k) for k in ("progress", "total", "message")}
                await context.emit("mcp-progress", {"tool": self.name, **report}, transient=True)

        opened = connect(self.server, self.sessions, vars=self.host_vars, transport=self.transport)
        async with opened as client:
            result = await client.call_tool(
                self.remote_name, arguments, on_progress=on_progress, progress_token=token
            )
        return tool_output(result, server=self.server.label, tool=self.remote_name)


def mcp_tool(
    server: MCPServer,
    *,
    remote_name: str,
    description: str,
    input_schema: dict[str, Any],
    host_vars: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
    sessions: StdioSessions | None = None,
) -> MCPTool:
    """The agent's tool for the server's tool ``remote_name`` (named with the prefix)."""
    return MCPTool(
        name=server.prefix + remote_name,
        description=description or remote_name,
        function=None,
        args_model=_Arguments,
        requires_approval=server.approval_for(remote_name),
        metadata={"mcpServer": server.label, "mcpTool": remote_name},
        server=server,
        remote_name=remote_name,
        input_schema=input_schema,
        host_vars=host_vars,
        transport=transport,
        sessions=sessions,
    )
