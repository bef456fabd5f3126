"""MCP through the official ``mcp`` package (the ``mcp`` extra), on the local host only.

Stdio: a server is a process the client starts and talks to over its stdin/stdout; the
official client does it (spawn, framing, shutdown of the process tree). Streamable HTTP,
when a server asks for it (``MCPServerHTTP(client="mcp")``): the official client over
``httpx2``. A Worker starts no processes and cannot install the package
(:mod:`.http_client` says why), so this module is never used there; the package is
imported on first use.

A session opened here lasts one ``async with``; the local host keeps a stdio server's open
across uses (:mod:`.sessions`) so that its process starts once, not for every call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from ..errors import ConfigurationError, MCPError
from ._protocol import all_tools
from .http_client import ProgressCallback

__all__ = ["OfficialClient", "http_session", "stdio_session"]


class OfficialClient:
    """An open session of the official client: the same two operations as ours."""

    def __init__(self, client: Any, label: str) -> None:
        self._client = client
        self.label = label

    async def ping(self) -> None:
        # tools/list, not the protocol's ping: that is gone from its 2026-07-28 revision.
        await self._guard("tools/list", self._client.list_tools())

    async def list_tools(self) -> list[dict[str, Any]]:
        async def page(cursor: str | None) -> tuple[list[dict[str, Any]], Any]:
            found = await self._guard("tools/list", self._client.list_tools(cursor=cursor))
            tools = [
                t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in found.tools
            ]
            return tools, getattr(found, "next_cursor", None)

        return await all_tools(page)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        on_progress: ProgressCallback | None = None,
        progress_token: str | None = None,
    ) -> dict[str, Any]:
        callback = None
        if on_progress is not None:
            report = on_progress

            async def callback(progress: float, total: float | None, message: str | None) -> None:
                await report({"progress": progress, "total": total, "message": message})

        result = await self._guard(
            "tools/call",
            self._client.call_tool(name, dict(arguments), progress_callback=callback),
        )
        dumped: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped

    async def _guard(self, method: str, call: Any) -> Any:
        try:
            return await call
        except MCPError:
            raise
        except Exception as exc:  # the package's protocol errors, a process that died
            raise MCPError(
                f"MCP server {self.label!r} failed {method}: {type(exc).__name__}: {exc}"
            ) from None


def _package() -> Any:
    try:
        import mcp
    except ImportError:
        raise ConfigurationError(
            "this MCP server needs the official mcp package: pip install 'helix-agents[mcp]'"
        ) from None
    return mcp


@asynccontextmanager
async def stdio_session(
    command: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | None,
    timeout: float,
    label: str,
) -> AsyncIterator[OfficialClient]:
    """Start the server process, initialize, yield the session; stop the process after."""
    mcp = _package()
    params = mcp.StdioServerParameters(
        command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
    )
    client = mcp.Client(params, read_timeout_seconds=timeout, mode="legacy")
    async with _session(client, label) as opened:
        yield opened


@asynccontextmanager
async def http_session(
    url: str, *, headers: Mapping[str, str], timeout: float, label: str
) -> AsyncIterator[OfficialClient]:
    """A Streamable HTTP session through the official client (``httpx2``)."""
    mcp = _package()
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers=dict(headers), timeout=timeout)
    transport = streamable_http_client(url, http_client=http)
    try:
        client = mcp.Client(transport, read_timeout_seconds=timeout, mode="legacy")
        async with _session(client, label) as opened:
            yield opened
    finally:
        await http.aclose()


@asynccontextmanager
async def _session(client: Any, label: str) -> AsyncIterator[OfficialClient]:
    try:
        entered = await client.__aenter__()
    except MCPError:
        raise
    except Exception as exc:
        raise MCPError(
            f"MCP server {label!r} did not open a session: {type(exc).__name__}: {_reason(exc)}"
        ) from None
    try:
        yield OfficialClient(entered, label)
    finally:
        try:
            await client.__aexit__(None, None, None)
        except Exception:
            pass  # the session is gone either way; its end is no tool's failure


def _reason(exc: BaseException) -> str:
    """The first leaf of an exception group (anyio's task groups wrap what failed)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseExceptionGroup) else str(exc)
