"""The real-Worker MCP test's agent: it takes ``add`` and ``count`` from the test's MCP server
(tests/mcp_protocol/server_app.py, on the host machine), whose URL and token reach the Worker as
vars. Imported by ``tests/worker_real/app.py`` inside the Worker: nothing runs at import."""

from __future__ import annotations

import json
from typing import Any

from helix_agents import Agent
from helix_agents.mcp import MCPServerHTTP
from helix_agents.testing import FunctionModel, call_tool

__all__ = ["MCP_TOKEN_VAR", "MCP_URL_VAR", "MCP_USER", "mcp_user"]

MCP_URL_VAR = "HELIX_TEST_MCP_URL"
MCP_TOKEN_VAR = "HELIX_TEST_MCP_TOKEN"
MCP_USER = "mcp_user"


def _model(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        offered = sorted(t.name for t in info.tools)
        if offered != ["m_add", "m_count"]:
            return f"unexpected tools: {offered}"
        return [call_tool("m_add", a=20, b=22), call_tool("m_count", n=2)]
    return "results: " + "; ".join(
        f"{r.status} {json.dumps(r.content, sort_keys=True)}" for r in info.tool_results
    )


def mcp_user() -> Agent:
    return Agent(
        name=MCP_USER,
        description="Adds and counts with a remote MCP server.",
        model=FunctionModel(_model),
        mcp_servers=[
            MCPServerHTTP(
                name="test-mcp",
                url=lambda env: env[MCP_URL_VAR],
                headers=lambda env: {"Authorization": f"Bearer {env[MCP_TOKEN_VAR]}"},
                prefix="m_",
                allowed_tools={"add", "count"},
            )
        ],
    )
