"""Serve a faked Worker over real sockets: an ASGI app in front of :class:`FakeCloudflare`.

Each HTTP request becomes a ``workers.Request`` handed to the Worker's ``fetch`` (a new
``Default`` per request, as on the platform); the response streams back chunk by chunk. A
WebSocket handshake becomes a ``fetch`` with ``Upgrade: websocket``; when the Worker answers
``101`` with a socket (the Durable Object's, for ``/chat/{id}/ws``), frames are pumped
between the real client and that socket, closes included. Under uvicorn, real HTTP and
WebSocket clients can then drive the Cloudflare host exactly as they drive the local host.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .platform import FakeCloudflare
from .shim import workers_module

__all__ = ["WorkerASGI"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WorkerASGI:
    """The ASGI app of a faked Worker (see the module docstring)."""

    def __init__(self, platform: FakeCloudflare) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _request(self, scope: Scope, body: bytes | None) -> Any:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k.lower() == "host"), "localhost")
        scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
        path = scope.get("raw_path") or scope["path"].encode()
        url = f"{scheme}://{host}{path.decode('latin-1')}"
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        Request = workers_module().Request
        return Request(url, method=scope.get("method", "GET"), headers=headers, body=body)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method = scope.get("method", "GET")
        request = self._request(scope, body if body and method not in ("GET", "HEAD") else None)
        response = await self.platform.send(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
                ],
            }
        )
        stream = response.body
        if stream is None:
            await send({"type": "http.response.body", "body": b""})
            return

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            stream.cancelled = True  # the client left: the Worker's writes stop going anywhere

        watcher = asyncio.ensure_future(watch())
        try:
            async for chunk in stream:
                await send(
                    {"type": "http.response.body", "body": chunk.to_bytes(), "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            stream.cancelled = True
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        response = await self.platform.send(self._request(scope, None))
        client = response.webSocket
        if response.status != 101 or client is None:
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})

        async def downstream() -> None:
            while (data := await client.receive(timeout=None)) is not None:
                if isinstance(data, bytes):
                    await send({"type": "websocket.send", "bytes": data})
                else:
                    await send({"type": "websocket.send", "text": data})
            await send(
                {
                    "type": "websocket.close",
                    "code": client.close_code or 1000,
                    "reason": client.close_reason or "",
                }
            )

        async def upstream() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    client.close(message.get("code", 1000), "")
                    return
                data = message.get("text")
                client.send(data if data is not None else message.get("bytes") or b"")

        tasks = [asyncio.ensure_future(downstream()), asyncio.ensure_future(upstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if client.readyState != 3:
                client.close(1000, "")
