"""Fake WebSockets of the Workers runtime, with Durable Object hibernation.

``js.WebSocketPair.new()`` (through the shim) gives two connected :class:`FakeWebSocket`\\ s:
the server half stays in the Worker or the Durable Object, the client half goes back in the
``101`` response, and a test talks through it (:meth:`FakeWebSocket.receive`,
:meth:`FakeWebSocket.send`, :meth:`FakeWebSocket.close`).

A server half accepted with ``ctx.acceptWebSocket(ws, tags)`` belongs to its Durable Object
*and outlives the Python object*: messages from the client wake the object (a new instance
over the same storage, if the old one was evicted) and call its ``webSocketMessage`` /
``webSocketClose`` handlers; a message equal to the object's auto-response request is
answered by the runtime without waking anything. Attachments must be structured-clonable
(a ``str``, a number, or what ``to_js`` made) and at most 2,048 bytes (the platform allows
more; the runtime keeps to this).

A Worker that opens a socket to a Durable Object (``stub.fetch`` with ``Upgrade:
websocket``) holds the *client* half and calls ``accept()`` on it: messages that arrived
before are held until then, and from then on every message and the close reach the
listeners added with ``addEventListener`` as ``message`` (``event.data``) and ``close``
(``event.code``, ``event.reason``, ``event.wasClean``) events, each dispatched in a later
turn of the event loop, in order, as JavaScript dispatches events. A connection that drops
without a close frame (the object was replaced) closes with code 1006.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from .jsvalues import JsArray, JsObject, js_error

__all__ = ["FakeWebSocket", "WebSocketPair", "WebSocketRequestResponsePair"]

MAX_ATTACHMENT = 2048
_CLOSED = object()


class WebSocketRequestResponsePair:
    """``new WebSocketRequestResponsePair(request, response)``."""

    def __init__(self, request: str, response: str) -> None:
        self.request = request
        self.response = response

    @classmethod
    def new(cls, request: str, response: str) -> WebSocketRequestResponsePair:
        return cls(request, response)


class _Host:
    """Where a hibernatable socket's events go (set by the Durable Object fake)."""

    def deliver_message(self, ws: FakeWebSocket, message: Any) -> Awaitable[None]:
        raise NotImplementedError

    def deliver_close(self, ws: FakeWebSocket, code: int, reason: str) -> Awaitable[None]:
        raise NotImplementedError

    def auto_response(self) -> WebSocketRequestResponsePair | None:
        return None


class FakeWebSocket:
    """One end of a WebSocket pair."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.peer: FakeWebSocket | None = None
        self.readyState = 1
        self.accepted = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.host: _Host | None = None
        self.auto_responses = 0
        #: Errors the Durable Object's handlers raised for this socket's events.
        self.handler_errors: list[Exception] = []
        #: Errors this end's event listeners raised (JavaScript would report them).
        self.listener_errors: list[Exception] = []
        self._attachment: Any = None
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._delivery: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<FakeWebSocket {self.role} readyState={self.readyState}>"

    # -- the JS API ------------------------------------------------------------------------

    def accept(self) -> None:
        if self.host is not None or self.accepted:
            raise js_error("TypeError", "The WebSocket has already been accepted.")
        self.accepted = True
        if self.role == "client":
            # A socket a Worker holds: what arrived before accept() was held until now.
            while not self._inbox.empty():
                item = self._inbox.get_nowait()
                if item is _CLOSED:
                    self._emit_close()
                    break
                self._emit("message", JsObject(data=item))

    def send(self, data: Any) -> None:
        if self.readyState != 1 or self.peer is None:
            raise js_error("TypeError", "Can't call WebSocket send() after close().")
        if self.role == "server" and not (self.accepted or self.host is not None):
            raise js_error(
                "TypeError", "You must call one of accept() or state.acceptWebSocket() first."
            )
        if not isinstance(data, str | bytes):
            raise js_error("TypeError", f"WebSocket.send() takes a string or bytes, not {data!r}")
        self.peer._arrive(data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._drop(code, reason)

    def serializeAttachment(self, value: Any) -> None:
        if not (value is None or isinstance(value, str | int | float | bool | JsObject | JsArray)):
            # A Python object reaches JS as a proxy, which cannot be cloned.
            raise js_error("DataCloneError", "[object Object] could not be cloned.")
        size = len(json.dumps(value).encode())
        # STRICTER: 2,048 bytes, the limit Cloudflare's docs gave (and the host keeps to);
        # the local runtime takes more.
        if size > MAX_ATTACHMENT:
            raise js_error(
                "Error", f"the attachment is {size} bytes; the limit is {MAX_ATTACHMENT} bytes"
            )
        self._attachment = value

    def deserializeAttachment(self) -> Any:
        return self._attachment

    def addEventListener(self, kind: str, listener: Callable[[Any], Any]) -> None:
        self._listeners.setdefault(kind, []).append(listener)

    def removeEventListener(self, kind: str, listener: Callable[[Any], Any]) -> None:
        listeners = self._listeners.get(kind, [])
        if listener in listeners:
            listeners.remove(listener)

    # -- what a test uses (on the client half) ---------------------------------------------

    async def receive(self, timeout: float | None = 10.0) -> str | bytes | None:
        """The next message, or None once the socket is closed and drained."""
        item = await asyncio.wait_for(self._inbox.get(), timeout)
        if item is _CLOSED:
            self._inbox.put_nowait(_CLOSED)
            return None
        value: str | bytes = item
        return value

    async def receive_json(self, timeout: float = 10.0) -> Any:
        text = await self.receive(timeout)
        return None if text is None else json.loads(text)

    async def receive_all(self, timeout: float = 10.0) -> list[Any]:
        """Every JSON frame until the socket closes."""
        frames = []
        while (item := await self.receive_json(timeout)) is not None:
            frames.append(item)
        return frames

    def drain(self) -> list[Any]:
        """Every message already received and not read yet (JSON frames parsed), at once."""
        out: list[Any] = []
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is _CLOSED:
                self._inbox.put_nowait(_CLOSED)
                break
            out.append(json.loads(item) if isinstance(item, str) and item[:1] == "{" else item)
        return out

    async def settled(self) -> None:
        """Until the last message this end sent has been handled by the other side."""
        peer = self.peer
        while peer is not None and peer._delivery is not None and not peer._delivery.done():
            await asyncio.shield(peer._delivery)

    # -- the wire --------------------------------------------------------------------------

    def _arrive(self, data: Any) -> None:
        if self.readyState == 3:
            return
        if self.role == "client":
            if self.accepted:
                self._emit("message", JsObject(data=data))
            else:
                self._inbox.put_nowait(data)
            return
        host = self.host
        if host is not None:
            pair = host.auto_response()
            if pair is not None and data == pair.request and self.peer is not None:
                # Answered by the runtime: the Durable Object is not woken.
                self.auto_responses += 1
                self.peer._arrive(pair.response)
                return
            self._chain(lambda: host.deliver_message(self, data))
            return
        for listener in self._listeners.get("message", []):
            listener(JsObject(data=data))

    def _closed_by_peer(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        if self.role == "client":
            self.readyState = 3
            if self.accepted:
                self._emit_close()
            else:
                self._inbox.put_nowait(_CLOSED)
            return
        # The server half stays "closing" until its handler answers (or the runtime does).
        self.readyState = 2
        host = self.host
        if host is not None:
            self._chain(lambda: host.deliver_close(self, code, reason))
        else:
            self.readyState = 3
            for listener in self._listeners.get("close", []):
                listener(JsObject(code=code, reason=reason, wasClean=True))

    def _drop(self, code: int, reason: str) -> None:
        """Close this end and tell the peer (``close``, or a connection lost at this end
        without a handshake: the fake makes no difference between the two)."""
        if self.readyState == 3:
            return
        self.readyState = 3
        self.close_code, self.close_reason = code, reason
        peer = self.peer
        if peer is not None and peer.readyState != 3:
            peer._closed_by_peer(code, reason)

    def _emit(self, kind: str, event: Any) -> None:
        asyncio.get_running_loop().call_soon(self._fire, kind, event)

    def _emit_close(self) -> None:
        code = self.close_code if self.close_code is not None else 1005
        event = JsObject(code=code, reason=self.close_reason or "", wasClean=code != 1006)
        self._emit("close", event)

    def _fire(self, kind: str, event: Any) -> None:
        for listener in list(self._listeners.get(kind, [])):
            try:
                listener(event)
            except Exception as exc:
                self.listener_errors.append(exc)

    def _chain(self, deliver: Callable[[], Awaitable[None]]) -> None:
        """Deliver in order: each event after the previous one was handled."""
        previous = self._delivery

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await deliver()
            except Exception as exc:  # the handler failed: the runtime logs it, we keep it
                self.handler_errors.append(exc)

        self._delivery = asyncio.ensure_future(run())


class WebSocketPair:
    """``new WebSocketPair()``: ``object_values()`` (or iteration) gives client, server."""

    def __init__(self) -> None:
        self.client = FakeWebSocket("client")
        self.server = FakeWebSocket("server")
        self.client.peer, self.server.peer = self.server, self.client

    @classmethod
    def new(cls) -> WebSocketPair:
        return cls()

    def object_values(self) -> JsArray:
        return JsArray([self.client, self.server])

    def __iter__(self) -> Any:
        return iter((self.client, self.server))
