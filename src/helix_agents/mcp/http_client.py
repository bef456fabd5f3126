"""A small MCP client over Streamable HTTP, on httpx: the one that runs on both hosts.

Why our own and not the official ``mcp`` package's: that package cannot be installed in a
Python Worker (its ``jsonschema`` needs ``rpds-py`` and its ``pyjwt[crypto]`` needs
``cryptography``, compiled extensions with no wheel for the Workers' Pyodide, so vendoring it
fails), and its client speaks through ``httpx2``,
which could not go through the Worker's ``fetch`` anyway. This client is plain httpx, so the
Worker gives it the ``fetch`` transport (``HostResources.http_transport``) and the local
host httpx's own; the tests run it against the official package's server. Stdio, which
only the local host has, goes through the official package (:mod:`.stdio`).

The transport, per the specification (revision 2025-06-18, and the ones around it): every
message is a POST of one JSON-RPC message to the endpoint, ``Accept: application/json,
text/event-stream``. A request is answered with ``application/json`` (the response) or
``text/event-stream`` (server messages, the response last); a notification with 202. The
server may name a session in ``Mcp-Session-Id`` on ``initialize``'s answer: every later
request carries it (and ``MCP-Protocol-Version``), and a DELETE ends it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

from ..errors import MCPError, ModelProtocolError
from ..models._sse import SSEDecoder
from . import _protocol as protocol

__all__ = ["ProgressCallback", "StreamableHTTPClient"]

#: Called with a ``notifications/progress`` notification's params while a request runs.
ProgressCallback = Callable[[dict[str, Any]], Awaitable[None]]

_SNIPPET = 300


class StreamableHTTPClient:
    """One MCP session with a server: ``async with StreamableHTTPClient(url) as client``
    initializes it; then :meth:`list_tools` and :meth:`call_tool`."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        label: str | None = None,
    ) -> None:
        self.url = url
        self.label = label or url
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._session_id: str | None = None
        self._version: str | None = None
        self._next_id = 0
        #: What the server said of itself in ``initialize`` (name, version).
        self.server_info: dict[str, Any] = {}

    async def __aenter__(self) -> StreamableHTTPClient:
        self._http = httpx.AsyncClient(
            transport=self._transport, timeout=httpx.Timeout(self._timeout)
        )
        try:
            await self._initialize()
        except BaseException:
            await self._http.aclose()
            self._http = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        http, self._http = self._http, None
        if http is None:
            return
        try:
            if self._session_id is not None:
                # Ending the session is a courtesy: a server that refuses it (405) or is
                # gone changes nothing for the caller.
                try:
                    await http.delete(self.url, headers=self._request_headers())
                except httpx.HTTPError:
                    pass
        finally:
            await http.aclose()

    # -- the operations ------------------------------------------------------------------

    async def ping(self) -> None:
        """Whether the server answers: an MCPError if not. A ``tools/list``, which acts on
        nothing (the protocol's ``ping`` is gone from its 2026-07-28 revision)."""
        await self.request("tools/list", None)

    async def list_tools(self) -> list[dict[str, Any]]:
        """Every tool the server offers (all pages)."""

        async def page(cursor: str | None) -> tuple[list[dict[str, Any]], Any]:
            result = await self.request("tools/list", {"cursor": cursor} if cursor else None)
            tools = result.get("tools")
            if not isinstance(tools, list):
                raise MCPError(f"MCP server {self.label!r}: tools/list without a tools list")
            return [t for t in tools if isinstance(t, dict)], result.get("nextCursor")

        return await protocol.all_tools(page)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        on_progress: ProgressCallback | None = None,
        progress_token: str | None = None,
    ) -> dict[str, Any]:
        """The raw ``tools/call`` result (``content``, ``structuredContent``, ``isError``)."""
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments)}
        if on_progress is not None and progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        return await self.request("tools/call", params, on_progress=on_progress)

    # -- JSON-RPC over the transport -----------------------------------------------------

    async def _initialize(self) -> None:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": protocol.LATEST_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "helix-agents", "version": "0.1.0"},
            },
        )
        version = result.get("protocolVersion")
        if version not in protocol.SUPPORTED_VERSIONS:
            raise MCPError(
                f"MCP server {self.label!r} speaks protocol version {version!r}; this client "
                f"speaks {', '.join(protocol.SUPPORTED_VERSIONS)}"
            )
        self._version = version
        info = result.get("serverInfo")
        self.server_info = info if isinstance(info, dict) else {}
        await self.notify("notifications/initialized")

    def _request_headers(self) -> dict[str, str]:
        headers = {
            **self._headers,
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        if self._session_id is not None:
            headers["mcp-session-id"] = self._session_id
        if self._version is not None:
            headers["mcp-protocol-version"] = self._version
        return headers

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        async with self._post(protocol.notification(method, params)) as response:
            await self._check_status(response)
            await response.aread()

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its result (a JSON-RPC error raises MCPError)."""
        self._next_id += 1
        request_id = self._next_id
        async with self._post(protocol.request(request_id, method, params)) as response:
            await self._check_status(response)
            if method == "initialize":
                self._session_id = response.headers.get("mcp-session-id") or None
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind == "application/json":
                try:
                    message = json.loads(await response.aread())
                except ValueError:
                    raise MCPError(
                        f"MCP server {self.label!r} answered {method} with invalid JSON"
                    ) from None
                for item in message if isinstance(message, list) else [message]:
                    if isinstance(item, dict) and item.get("id") == request_id:
                        return self._result(method, item)
                raise MCPError(f"MCP server {self.label!r} answered {method} without its id")
            if kind == "text/event-stream":
                return await self._from_events(response, method, request_id, on_progress)
            raise MCPError(
                f"MCP server {self.label!r} answered {method} with content type {kind!r} "
                "(expected application/json or text/event-stream)"
            )

    async def _from_events(
        self,
        response: httpx.Response,
        method: str,
        request_id: int,
        on_progress: ProgressCallback | None,
    ) -> dict[str, Any]:
        decoder = SSEDecoder()
        try:
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    found = await self._event(event.data, method, request_id, on_progress)
                    if found is not None:
                        return found
            for event in decoder.close():
                found = await self._event(event.data, method, request_id, on_progress)
                if found is not None:
                    return found
        except ModelProtocolError as exc:  # the decoder's complaint about the bytes
            raise MCPError(f"MCP server {self.label!r}: {exc}") from None
        raise MCPError(
            f"MCP server {self.label!r} ended its event stream before answering {method}"
        )

    async def _event(
        self,
        data: str,
        method: str,
        request_id: int,
        on_progress: ProgressCallback | None,
    ) -> dict[str, Any] | None:
        if not data.strip():
            return None  # a priming event (an id for resumption, no message)
        try:
            message = json.loads(data)
        except ValueError:
            raise MCPError(f"MCP server {self.label!r} sent an event that is not JSON") from None
        if not isinstance(message, dict):
            return None
        if message.get("id") == request_id and ("result" in message or "error" in message):
            return self._result(method, message)
        if message.get("method") == "notifications/progress" and on_progress is not None:
            params = message.get("params")
            if isinstance(params, dict):
                await on_progress(params)
        # Other server messages (logging, requests for sampling we did not offer) are not
        # ours to answer in a tool call.
        return None

    def _result(self, method: str, message: dict[str, Any]) -> dict[str, Any]:
        error = message.get("error")
        if isinstance(error, dict):
            raise MCPError(
                f"MCP server {self.label!r} refused {method}: {error.get('message')} "
                f"(code {error.get('code')})"
            )
        result = message.get("result")
        if not isinstance(result, dict):
            raise MCPError(f"MCP server {self.label!r} answered {method} without a result")
        return result

    def _post(self, message: dict[str, Any]) -> Any:
        if self._http is None:
            raise MCPError(f"MCP client of {self.label!r} is not open")
        return _Translated(
            self._http.stream(
                "POST", self.url, content=json.dumps(message), headers=self._request_headers()
            ),
            self.label,
        )

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = (await response.aread()).decode("utf-8", "replace").strip()
        hint = ""
        if response.status_code in (401, 403):
            hint = " (check the server's headers: an auth token?)"
        elif response.status_code == 404 and self._session_id is not None:
            hint = " (the server ended the session)"
        raise MCPError(
            f"MCP server {self.label!r} answered HTTP {response.status_code}{hint}: "
            f"{body[:_SNIPPET] or response.reason_phrase}"
        )


class _Translated:
    """``httpx``'s stream context, its transport errors raised as :class:`MCPError` with
    the server named: an unreachable server is a clear error, never an httpx traceback."""

    def __init__(self, inner: Any, label: str) -> None:
        self._inner = inner
        self._label = label

    async def __aenter__(self) -> httpx.Response:
        try:
            response: httpx.Response = await self._inner.__aenter__()
        except httpx.TimeoutException:
            raise MCPError(f"MCP server {self._label!r} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise MCPError(
                f"MCP server {self._label!r} is unreachable: {type(exc).__name__}: {exc}"
            ) from None
        return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        except httpx.HTTPError:
            pass
        if isinstance(exc, httpx.TimeoutException):
            raise MCPError(f"MCP server {self._label!r} did not answer in time") from None
        if isinstance(exc, httpx.HTTPError):
            raise MCPError(
                f"MCP server {self._label!r} broke off: {type(exc).__name__}: {exc}"
            ) from None
        return False
