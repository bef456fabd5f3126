"""The few raw JavaScript APIs the Cloudflare host calls, in one place.

Everything else goes through the ``workers`` SDK, which converts values for us. These do
not: ``WebSocketPair``, the tags of ``acceptWebSocket`` (a JS array, made with ``to_js``),
the hibernation auto-response, and the upgrade response. ``js`` and ``pyodide`` are
imported inside the functions, so this module imports on CPython; tests run it against the
fake modules of :mod:`helix_agents.testing.cloudflare`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "accept_websocket",
    "json_response",
    "set_auto_response",
    "upgrade_response",
    "websocket_pair",
]


def websocket_pair() -> tuple[Any, Any]:
    """A new ``(client, server)`` WebSocket pair."""
    from js import WebSocketPair

    client, server = WebSocketPair.new().object_values()
    return client, server


def accept_websocket(ctx: Any, server: Any, tags: Iterable[str]) -> None:
    """Accept ``server`` for hibernation, findable again by its tags."""
    from pyodide.ffi import to_js

    ctx.acceptWebSocket(server, to_js(list(tags)))


def set_auto_response(ctx: Any, request: str, response: str) -> None:
    """Answer ``request`` with ``response`` without waking the object (ping/pong)."""
    from js import WebSocketRequestResponsePair

    ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair.new(request, response))


def upgrade_response(client: Any) -> Any:
    """The ``101 Switching Protocols`` response that hands ``client`` to the caller."""
    from workers import Response

    return Response(None, status=101, web_socket=client)


def json_response(data: Any, status: int = 200) -> Any:
    from workers import Response

    return Response.from_json(data, status=status)
