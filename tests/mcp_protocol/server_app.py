"""A real MCP server for the tests, on the official ``mcp`` package (its ``MCPServer``).

``python -m tests.mcp_protocol.server_app http <port> [token]`` serves Streamable HTTP at
``/mcp`` on 127.0.0.1 (with ``token``, every request must carry ``Authorization: Bearer
<token>``, else 401); ``python -m tests.mcp_protocol.server_app stdio`` serves stdio.

Its tools: ``add`` (structured result), ``echo`` (text), ``count`` (reports progress),
``fail`` (a tool error, ``isError``), ``record`` (a side effect outside any runtime: a line
appended to the file named by ``HELIX_MCP_EFFECTS``, for the crash test), ``pid`` (the
server's process id: which process served a call) and ``nap`` (answers after a while).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("helix-test-server")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back, upper-cased."""
    return text.upper()


@server.tool()
async def count(n: int, ctx: Context) -> str:
    """Count to n, reporting progress at each number."""
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"at {i}")
    return f"counted to {n}"


def _append_effect(key: str, label: str) -> int:
    """Append the line durably; how many executions of ``key`` there are now."""
    path = os.environ["HELIX_MCP_EFFECTS"]
    with open(path, "a") as f:
        f.write(f"exec {key} {label}\n")
        f.flush()
        os.fsync(f.fileno())
    with open(path) as f:
        return sum(1 for line in f if line.split()[1] == key)


@server.tool()
async def record(key: str, label: str) -> str:
    """Record a side effect durably; the result counts the executions of ``key`` so far."""
    n = _append_effect(key, label)
    await asyncio.sleep(0.4)  # a kill may land while the call is in flight
    return f"{label}#{n}"


@server.tool()
def pid() -> int:
    """The server process's id."""
    return os.getpid()


@server.tool()
async def nap(seconds: float) -> str:
    """Answer after the given seconds."""
    await asyncio.sleep(seconds)
    return "rested"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the reason."""
    raise ToolError(f"failed on purpose: {reason}")


def _auth(app: Any, token: str) -> Any:
    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode() != f"Bearer {token}":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": b"bad token"})
                return
        await app(scope, receive, send)

    return guarded


def main(argv: list[str]) -> None:
    if argv[0] == "stdio":
        server.run("stdio")
        return
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    port = int(argv[1])
    token = argv[2] if len(argv) > 2 else None
    app: Any = server.streamable_http_app(
        # The Worker's requests reach it through the relay with other Host headers.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if token:
        app = _auth(app, token)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
