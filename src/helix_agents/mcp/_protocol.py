"""What both ends of MCP share here: JSON-RPC 2.0 messages, the protocol versions we speak,
and a tool call's result as a tool output; and what both clients (ours, the official one)
share: how far ``tools/list`` pages are followed.

MCP (https://modelcontextprotocol.io) is JSON-RPC 2.0. A client opens a session with
``initialize`` (our version in, the server's out) and ``notifications/initialized``, lists
tools with ``tools/list`` (paged by ``nextCursor``) and calls one with ``tools/call``. A
call's result holds ``content`` (text, images, resources), optionally ``structuredContent``
(a JSON value), and ``isError`` for a failure of the tool itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..errors import MCPError

__all__ = [
    "LATEST_VERSION",
    "MAX_TOOL_PAGES",
    "SUPPORTED_VERSIONS",
    "ToolPage",
    "all_tools",
    "error_response",
    "notification",
    "request",
    "result_response",
    "tool_output",
]

#: The handshake revisions (``initialize``) both our client and our server speak, oldest
#: first. The client offers the newest; the server answers with the client's version when it
#: knows it, else its newest (the specification's rule).
SUPPORTED_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION: Final = SUPPORTED_VERSIONS[-1]

#: How many pages of ``tools/list`` a client follows: a server whose cursors never end is
#: not followed forever.
MAX_TOOL_PAGES: Final = 100

#: One page of ``tools/list`` read by a client, given the cursor to read at (None: the
#: first page): its tools and the ``nextCursor`` it named (falsy: the last page).
ToolPage = Callable[[str | None], Awaitable[tuple[list[dict[str, Any]], Any]]]

#: JSON-RPC error codes.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603


def request(request_id: int | str, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def result_response(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


async def all_tools(page: ToolPage) -> list[dict[str, Any]]:
    """Every tool a server offers: its ``tools/list`` pages, followed by ``nextCursor`` up to
    :data:`MAX_TOOL_PAGES`. Both clients (ours over HTTP, the official one) page this way."""
    tools: list[dict[str, Any]] = []
    cursor: Any = None
    for _ in range(MAX_TOOL_PAGES):
        found, cursor = await page(cursor)
        tools.extend(found)
        if not cursor:
            break
    return tools


def tool_output(result: Any, *, server: str, tool: str) -> Any:
    """A ``tools/call`` result as our tool's output: the structured content when the server
    gave one, else the text of its content (one string; other parts named, not inlined).
    A result with ``isError`` raises :class:`MCPError` with that text, so the model sees it
    as the call's error."""
    if not isinstance(result, dict):
        raise MCPError(f"MCP server {server!r}: tool {tool!r} answered a non-object result")
    parts = result.get("content")
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "resource" and isinstance(part.get("resource"), dict):
            resource = part["resource"]
            text = resource.get("text")
            texts.append(text if isinstance(text, str) else f"[resource {resource.get('uri')}]")
        elif kind == "resource_link":
            texts.append(f"[resource link {part.get('uri')}]")
        elif kind in ("image", "audio"):
            # Binary parts are not inlined: a model reads base64 poorly and it bloats the
            # stored result (D1's 2 MB row).
            texts.append(f"[{kind} {part.get('mimeType', '')}]".replace(" ]", "]"))
    text = "\n".join(texts)
    if result.get("isError"):
        raise MCPError(f"MCP tool {tool!r} of server {server!r} failed: {text or 'no message'}")
    structured = result.get("structuredContent")
    if structured is not None:
        return structured
    return text
