"""Fakes of the JavaScript web APIs a Python Worker reaches through ``js``: ``Headers``,
``URL``, ``Request``, ``Response``, ``ReadableStream``, ``TransformStream``, and Pyodide's
buffer proxies.

They exist so that the SDK's own ASGI adapter (``workers/asgi.py``, loaded unchanged by
:mod:`.shim`) and our host code run on CPython. Streams are queues of byte chunks; a
``TransformStream`` holds a few chunks before ``write`` waits for the reader, as the real
one applies backpressure. Reading a body gives chunks with ``to_bytes()``, as Pyodide hands
over a ``Uint8Array``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .jsvalues import JsArray, JsObject, js_error

__all__ = [
    "JsBytes",
    "JsHeaders",
    "JsReadableStream",
    "JsRequest",
    "JsResponse",
    "JsTransformStream",
    "JsURL",
    "create_proxy",
]

_END = object()


class JsBytes:
    """A ``Uint8Array`` as Python sees it."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def to_bytes(self) -> bytes:
        return self._data

    def slice(self) -> JsBytes:
        return JsBytes(self._data)

    @property
    def length(self) -> int:
        return len(self._data)


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode()
    to_bytes = getattr(chunk, "to_bytes", None)
    if callable(to_bytes):
        return bytes(to_bytes())
    raise js_error("TypeError", f"a stream chunk must be bytes, not {type(chunk).__name__}")


class JsHeaders:
    """``Headers``: case-insensitive, iterates ``[name, value]`` with lower-case names."""

    def __init__(self, init: Any = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        if isinstance(init, JsHeaders):
            pairs: Iterable[Any] = init._items
        elif isinstance(init, Mapping):
            pairs = init.items()
        else:
            pairs = init
        for name, value in pairs:
            self.append(str(name), str(value))

    @classmethod
    def new(cls, init: Any = None) -> JsHeaders:
        return cls(init)

    def append(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def set(self, name: str, value: str) -> None:
        self.delete(name)
        self.append(name, value)

    def delete(self, name: str) -> None:
        self._items = [(k, v) for k, v in self._items if k != name.lower()]

    def get(self, name: str) -> str | None:
        values = [v for k, v in self._items if k == name.lower()]
        return ", ".join(values) if values else None

    def has(self, name: str) -> bool:
        return any(k == name.lower() for k, _ in self._items)

    def getSetCookie(self) -> JsArray:
        return JsArray(v for k, v in self._items if k == "set-cookie")

    def __iter__(self) -> Any:
        merged: dict[str, str] = {}
        for name, value in self._items:
            if name == "set-cookie":
                continue
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        pairs = [JsArray([k, v]) for k, v in sorted(merged.items())]
        pairs += [JsArray(["set-cookie", v]) for v in self.getSetCookie()]
        return iter(pairs)

    def items(self) -> list[tuple[str, str]]:
        return [(pair[0], pair[1]) for pair in self]


class JsURL:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise js_error("TypeError", f"Invalid URL: {url}")
        self.href = url
        self.protocol = parts.scheme + ":"
        self.host = parts.netloc
        self.hostname = parts.hostname or ""
        self.pathname = parts.path or "/"
        self.search = f"?{parts.query}" if parts.query else ""

    @classmethod
    def new(cls, url: str) -> JsURL:
        return cls(url)


class JsReadableStream:
    """A stream of byte chunks: ``getReader().read()`` or ``async for chunk in stream``."""

    def __init__(self, chunks: Iterable[bytes] | None = None, *, capacity: int = 0) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(capacity)
        self.locked = False
        self.cancelled = False
        self._ended = False
        if chunks is not None:
            for chunk in chunks:
                self._queue.put_nowait(bytes(chunk))
            self._queue.put_nowait(_END)

    @classmethod
    def of(cls, body: bytes) -> JsReadableStream:
        return cls([body] if body else [])

    async def _put(self, chunk: Any) -> None:
        if self.cancelled:
            raise js_error("TypeError", "This WritableStream has been closed (the reader left).")
        await self._queue.put(chunk)

    async def _close(self) -> None:
        await self._queue.put(_END)

    def getReader(self) -> _Reader:
        if self.locked:
            raise js_error("TypeError", "ReadableStream is locked to a reader")
        self.locked = True
        return _Reader(self)

    async def _next(self) -> bytes | None:
        if self.cancelled or self._ended:
            return None
        item = await self._queue.get()
        if item is _END:
            self._ended = True
            return None
        value: bytes = item
        return value

    def __aiter__(self) -> Any:
        return self._iterate()

    async def _iterate(self) -> Any:
        while (chunk := await self._next()) is not None:
            yield JsBytes(chunk)

    async def read_all(self) -> bytes:
        out = bytearray()
        while (chunk := await self._next()) is not None:
            out += chunk
        return bytes(out)


class _Reader:
    def __init__(self, stream: JsReadableStream) -> None:
        self._stream = stream

    async def read(self) -> JsObject:
        chunk = await self._stream._next()
        if chunk is None:
            return JsObject(done=True, value=None)
        return JsObject(done=False, value=JsBytes(chunk))

    async def cancel(self, reason: Any = None) -> None:
        self._stream.cancelled = True

    def releaseLock(self) -> None:
        self._stream.locked = False


class _Writer:
    def __init__(self, stream: JsReadableStream) -> None:
        self._stream = stream
        self.closed = False

    async def write(self, chunk: Any) -> None:
        if self.closed:
            raise js_error("TypeError", "This WritableStream has been closed.")
        await self._stream._put(_as_bytes(chunk))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._stream._close()

    def releaseLock(self) -> None:
        pass


class _Writable:
    def __init__(self, stream: JsReadableStream) -> None:
        self._stream = stream

    def getWriter(self) -> _Writer:
        return _Writer(self._stream)


class JsTransformStream:
    """An identity ``TransformStream``: what is written comes out of ``readable``."""

    def __init__(self, capacity: int = 16) -> None:
        self.readable = JsReadableStream(capacity=capacity)
        self.writable = _Writable(self.readable)

    @classmethod
    def new(cls) -> JsTransformStream:
        return cls()


def _body_stream(body: Any) -> JsReadableStream | None:
    if body is None:
        return None
    if isinstance(body, JsReadableStream):
        return body
    if isinstance(body, str):
        return JsReadableStream.of(body.encode())
    return JsReadableStream.of(_as_bytes(body))


class _Body:
    body: JsReadableStream | None
    bodyUsed: bool = False

    async def arrayBuffer(self) -> JsBytes:
        return JsBytes(await self._read())

    async def text(self) -> str:
        return (await self._read()).decode("utf-8", "replace")

    async def parse_json(self) -> Any:
        """The body as JSON (``await response.json()`` in JS)."""
        return json.loads(await self._read())

    async def _read(self) -> bytes:
        if self.bodyUsed:
            raise js_error("TypeError", "Body has already been used.")
        self.bodyUsed = True
        return b"" if self.body is None else await self.body.read_all()


class JsResponse(_Body):
    def __init__(self, body: Any = None, init: Any = None, **kwargs: Any) -> None:
        options = dict(init or {})
        options.update(kwargs)
        self.status = int(options.get("status") or 200)
        self.statusText = str(options.get("statusText") or "")
        self.headers = JsHeaders(options.get("headers"))
        self.webSocket = options.get("webSocket")
        if self.status == 101 and self.webSocket is None:
            raise js_error(
                "RangeError",
                "Responses may only be constructed with status 101 when they carry a webSocket.",
            )
        self.body = _body_stream(body)
        if isinstance(body, str) and not self.headers.has("content-type"):
            self.headers.set("content-type", "text/plain;charset=UTF-8")
        self.url = ""

    @classmethod
    def new(cls, body: Any = None, init: Any = None, **kwargs: Any) -> JsResponse:
        return cls(body, init, **kwargs)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @classmethod
    def json(cls, data: Any, init: Any = None) -> JsResponse:
        """``Response.json(data, init)`` (static; read a body with :meth:`parse_json`)."""
        response = cls(json.dumps(data), init)
        response.headers.set("content-type", "application/json")
        return response


class JsRequest(_Body):
    url: str
    method: str
    headers: JsHeaders

    def __init__(self, url: str | JsRequest, init: Any = None, **kwargs: Any) -> None:
        options = dict(init or {})
        options.update(kwargs)
        if isinstance(url, JsRequest):
            other = url
            url = other.url
            options.setdefault("method", other.method)
            options.setdefault("headers", other.headers)
            options.setdefault("body", other.body)
        JsURL(url)  # validates
        self.url = url
        self.method = str(options.get("method") or "GET").upper()
        self.headers = JsHeaders(options.get("headers"))
        body = options.get("body")
        if body is not None and self.method in ("GET", "HEAD"):
            raise js_error("TypeError", "Request with GET/HEAD method cannot have body.")
        self.body = _body_stream(body)
        self.cf = None

    @classmethod
    def new(cls, url: str | JsRequest, init: Any = None, **kwargs: Any) -> JsRequest:
        return cls(url, init, **kwargs)

    def clone(self) -> JsRequest:
        return JsRequest(self.url, method=self.method, headers=self.headers)


class _Buffer:
    def __init__(self, data: bytes) -> None:
        self.data = JsBytes(data)

    def release(self) -> None:
        pass


class _Proxy:
    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def getBuffer(self) -> _Buffer:
        return _Buffer(_as_bytes(self._obj))

    def destroy(self) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._obj(*args, **kwargs)


def create_proxy(obj: Any, **_: Any) -> Any:
    """``pyodide.ffi.create_proxy``: a handle on a Python object (bytes expose a buffer)."""
    return _Proxy(obj)


def headers_of(value: Any) -> JsHeaders:
    """Any header container as ``Headers``."""
    if isinstance(value, JsHeaders):
        return value
    if isinstance(value, list):
        return JsHeaders(value)
    if isinstance(value, Mapping):
        return JsHeaders(value.items())
    if hasattr(value, "items"):
        return JsHeaders(value.items())
    raise TypeError("Received unexpected type for headers argument")
