"""MCP (the Model Context Protocol) both ways.

- As a client: an agent takes tools from MCP servers, ``Agent(mcp_servers=[...])`` with
  :class:`MCPServerHTTP` (Streamable HTTP, both hosts) or :class:`MCPServerStdio` (a local
  process, the local host only). See docs/mcp.md.
"""

from __future__ import annotations

from .servers import MCPServer, MCPServerHTTP, MCPServerStdio

__all__ = ["MCPServer", "MCPServerHTTP", "MCPServerStdio"]
