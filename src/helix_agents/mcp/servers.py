"""MCP servers an agent takes tools from: :class:`MCPServerHTTP` (Streamable HTTP, both
hosts) and :class:`MCPServerStdio` (a local process, the local host only).

A server is a declaration, like a tool: where it is, how to authenticate, which of its tools
to offer (``allowed_tools``), under which names (``prefix``), and which calls wait on a
human's approval (``requires_approval``). The loop lists its tools once per run, in a
durable step of their own (:mod:`helix_agents.core.mcp_tools`), and runs each call as a
tool step (:mod:`.toolset`). An HTTP server's session is opened for each use and closed
after it. A stdio server's process is kept by the local host for every use
(:mod:`.sessions`); nothing durable rests on it, since a step may run in another process
after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from ..errors import ConfigurationError, MCPError

if TYPE_CHECKING:
    import httpx

    from .http_client import ProgressCallback

__all__ = ["HeadersSpec", "MCPClient", "MCPServer", "MCPServerHTTP", "MCPServerStdio"]

#: Fixed headers, or a function of the host's variables (the local environment, the
#: Worker's vars and secrets) that builds them on each use: a token never sits in code.
HeadersSpec = Mapping[str, str] | Callable[[Mapping[str, str]], Mapping[str, str]]

_PREFIX = re.compile(r"[a-zA-Z0-9_-]{0,40}")
_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}")


class MCPClient(Protocol):
    """An open session with a server (HTTP or stdio)."""

    label: str

    async def ping(self) -> None:
        """Raise MCPError unless the server answers a request that acts on nothing."""

    async def list_tools(self) -> list[dict[str, Any]]: ...

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        on_progress: ProgressCallback | None = None,
        progress_token: str | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, eq=False, kw_only=True)
class MCPServer:
    """What both kinds share. ``name`` labels the server in errors and in the tools'
    metadata; ``prefix`` goes before each tool's name (``"docs_"``: ``docs_search``);
    ``allowed_tools`` keeps only the named tools (or those a predicate of the name keeps);
    ``requires_approval`` makes every call (True) or the named tools' calls wait on a human;
    ``timeout`` bounds each request (seconds)."""

    name: str = ""
    prefix: str = ""
    allowed_tools: Collection[str] | Callable[[str], bool] | None = None
    requires_approval: bool | Collection[str] = False
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ConfigurationError(
                f"MCP prefix {self.prefix!r} must be up to 40 letters, digits, _ or -"
            )
        if self.name and not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"MCP server name {self.name!r} must be 1-64 characters of letters, digits, _ . -"
            )
        if not self.timeout > 0:
            raise ConfigurationError("MCP timeout must be > 0 seconds")
        if isinstance(self.allowed_tools, str) or isinstance(self.requires_approval, str):
            raise ConfigurationError(
                "MCP allowed_tools and requires_approval take a collection of tool names, "
                "not one string"
            )

    @property
    def label(self) -> str:
        return self.name or self._default_label()

    def _default_label(self) -> str:
        raise NotImplementedError

    def offers(self, tool_name: str) -> bool:
        """Whether the server's tool ``tool_name`` (its own name) is offered to the model."""
        allowed = self.allowed_tools
        if allowed is None:
            return True
        if callable(allowed):
            return bool(allowed(tool_name))
        return tool_name in allowed

    def approval_for(self, tool_name: str) -> bool:
        decide = self.requires_approval
        if isinstance(decide, bool):
            return decide
        return tool_name in decide

    def connect(
        self, *, vars: Mapping[str, str], transport: httpx.AsyncBaseTransport | None
    ) -> AbstractAsyncContextManager[MCPClient]:
        """An open session with the server (``async with``)."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False, kw_only=True)
class MCPServerHTTP(MCPServer):
    """A server at ``url`` over Streamable HTTP, on both hosts. ``headers`` go with every
    request (``{"Authorization": "Bearer ..."}``), or are built from the host's variables by
    a function: ``headers=lambda env: {"Authorization": f"Bearer {env['DOCS_TOKEN']}"}``.
    ``url`` may be such a function too (a URL that differs per deployment)."""

    url: str | Callable[[Mapping[str, str]], str]
    headers: HeadersSpec = field(default_factory=dict)
    #: ``"builtin"``: our client (:mod:`.http_client`), on both hosts. ``"mcp"``: the
    #: official package's client, on the local host only (the ``mcp`` extra).
    client: Literal["builtin", "mcp"] = "builtin"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.url):
            _check_url(self.url)
        if self.client not in ("builtin", "mcp"):
            raise ConfigurationError(f"MCP client {self.client!r}: 'builtin' or 'mcp'")

    def _default_label(self) -> str:
        return urlsplit(self.url).netloc if isinstance(self.url, str) else "mcp"

    def resolved_url(self, vars: Mapping[str, str]) -> str:
        if isinstance(self.url, str):
            return self.url
        try:
            url = self.url(vars)
        except KeyError as exc:
            raise ConfigurationError(
                f"MCP server {self.label!r}: its URL needs the variable {exc}"
            ) from None
        return _check_url(url)

    def resolved_headers(self, vars: Mapping[str, str]) -> dict[str, str]:
        headers = self.headers
        if callable(headers):
            try:
                headers = headers(vars)
            except KeyError as exc:
                raise ConfigurationError(
                    f"MCP server {self.label!r}: its headers need the variable {exc} "
                    "(an environment variable locally, a var or secret on the Worker)"
                ) from None
        return {str(k): str(v) for k, v in dict(headers).items()}

    def connect(
        self, *, vars: Mapping[str, str], transport: httpx.AsyncBaseTransport | None
    ) -> AbstractAsyncContextManager[MCPClient]:
        if self.client == "mcp":
            if _in_worker():
                raise MCPError(
                    f"MCP server {self.label!r} asks for the official mcp client, which "
                    "cannot run in a Worker: use client='builtin' there"
                )
            from .official import http_session

            return http_session(
                self.resolved_url(vars),
                headers=self.resolved_headers(vars),
                timeout=self.timeout,
                label=self.label,
            )
        from .http_client import StreamableHTTPClient

        return StreamableHTTPClient(
            self.resolved_url(vars),
            headers=self.resolved_headers(vars),
            timeout=self.timeout,
            transport=transport,
            label=self.label,
        )


def _in_worker() -> bool:
    import sys

    return sys.platform == "emscripten"


def _check_url(url: object) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"MCP server URL {url!r} must be an http(s) URL")
    return str(url)


@dataclass(frozen=True, eq=False, kw_only=True)
class MCPServerStdio(MCPServer):
    """A server the local host starts as a process (``command`` with ``args``) and talks to
    over its stdin/stdout, through the official ``mcp`` package (the ``mcp`` extra). A
    Worker cannot start processes: its tools are refused there with a clear error."""

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.command:
            raise ConfigurationError("MCP stdio server needs a command")
        if isinstance(self.args, str):
            raise ConfigurationError("MCP stdio args are a list of strings, not one string")

    def _default_label(self) -> str:
        return self.command.rsplit("/", 1)[-1]

    def connect(
        self, *, vars: Mapping[str, str], transport: httpx.AsyncBaseTransport | None
    ) -> AbstractAsyncContextManager[MCPClient]:
        if _in_worker():
            raise MCPError(
                f"MCP server {self.label!r} is a stdio server: a Worker cannot start "
                "processes; serve it over Streamable HTTP (MCPServerHTTP) instead"
            )
        from .official import stdio_session

        return stdio_session(
            self.command,
            self.args,
            env=self.env,
            cwd=self.cwd,
            timeout=self.timeout,
            label=self.label,
        )
