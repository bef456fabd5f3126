"""The few raw JavaScript APIs the Cloudflare host calls, in one place.

Everything else goes through the ``workers`` SDK, which converts values for us. These do
not: ``WebSocketPair``, the tags of ``acceptWebSocket`` (a JS array, made with ``to_js``),
the hibernation auto-response, the upgrade response, and the Worker's side of a socket it
opened itself (the response's ``webSocket``, its event listeners as proxies that must be
freed). ``js`` and ``pyodide`` are
imported inside the functions, so this module imports on CPython; tests run it against the
fake modules of :mod:`helix_agents.testing.cloudflare`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "SocketListeners",
    "accept_websocket",
    "json_response",
    "rejected",
    "response_websocket",
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


def rejected(message: str) -> Any:
    """What a Workflow's ``run`` returns to reject with a plain JS ``Error(message)``: a
    Python exception would reach JS as a ``PythonError`` whose message is its traceback.

    It is a thenable (``{then}``) that rejects: JS adopts a thenable that an async
    function resolves with, so ``run``'s own promise rejects with that error. (A returned
    Promise would not do: the SDK refuses to send an awaitable over RPC.) The SDK's RPC
    conversion hands on an object's ``js_object`` as it is, so the thenable is wrapped in
    one.
    """
    from js import Error, Object
    from pyodide.ffi import create_once_callable, to_js

    error = Error.new(message)

    def then(resolve: Any, reject: Any) -> None:
        reject(error)

    thenable = to_js({"then": create_once_callable(then)}, dict_converter=Object.fromEntries)
    return _JsValue(thenable)


class _JsValue:
    """A JS value the Workers SDK's RPC conversion passes on unconverted."""

    def __init__(self, js_object: Any) -> None:
        self.js_object = js_object


def json_response(data: Any, status: int = 200) -> Any:
    from workers import Response

    return Response.from_json(data, status=status)


def response_websocket(response: Any) -> Any | None:
    """The socket of a ``101`` answer to a ``fetch`` with ``Upgrade: websocket`` (the JS
    ``response.webSocket``), or None when the answer carries none."""
    raw = getattr(response, "js_object", response)
    ws = getattr(raw, "webSocket", None)
    return None if _is_null(ws) else ws


class SocketListeners:
    """``message``, ``close`` and ``error`` listeners on a socket the Worker accepted.

    ``on_message`` gets each frame's text; ``on_close`` the close code and reason (an
    ``error`` event counts as an abnormal close, 1006). The listeners are proxies of Python
    callables that JavaScript holds: :meth:`detach` removes and frees them (a proxy left
    behind would keep them alive for the isolate's life).
    """

    def __init__(
        self,
        ws: Any,
        on_message: Callable[[str], None],
        on_close: Callable[[int, str], None],
    ) -> None:
        from pyodide.ffi import create_proxy

        def message(event: Any) -> None:
            data = event.data
            if not isinstance(data, str):
                data = _bytes(data).decode("utf-8", "replace")
            on_message(data)

        def close(event: Any) -> None:
            reason = event.reason
            on_close(int(event.code), "" if _is_null(reason) else str(reason))

        def error(event: Any) -> None:
            on_close(1006, "error")

        self._ws = ws
        self._proxies = [
            (kind, create_proxy(handler))
            for kind, handler in (("message", message), ("close", close), ("error", error))
        ]
        for kind, proxy in self._proxies:
            ws.addEventListener(kind, proxy)

    def detach(self) -> None:
        proxies, self._proxies = self._proxies, []
        for kind, proxy in proxies:
            try:
                self._ws.removeEventListener(kind, proxy)
            finally:
                proxy.destroy()


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    import pyodide.ffi

    # Pyodide before 0.27 has no jsnull (null is None there).
    jsnull = getattr(pyodide.ffi, "jsnull", None)
    return jsnull is not None and value is jsnull


def _bytes(data: Any) -> bytes:
    to_bytes = getattr(data, "to_bytes", None)
    if callable(to_bytes):
        return bytes(to_bytes())
    return bytes(data)
