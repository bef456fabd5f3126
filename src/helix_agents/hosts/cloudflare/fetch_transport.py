"""An httpx transport over the Workers ``fetch``, so the OpenAI-compatible adapter runs in a
Worker.

httpx's own async transport opens sockets, which a Worker cannot (and whether anything of
it works under Pyodide is unconfirmed); ``fetch`` is the Worker's way out. The response
body is read chunk by chunk from the JS ``ReadableStream`` as the provider sends it, so a
streamed completion (SSE) reaches the model adapter event by event, not buffered.

Details that matter:

- the runtime decompresses ``gzip``/``br`` bodies itself but keeps the
  ``content-encoding`` header; we drop it (and ``content-length``, which no longer
  matches), or httpx would decode the body a second time;
- ``accept-encoding`` is left to the runtime, and ``host``/``content-length`` are its to
  set;
- httpx's timeouts apply: ``connect`` (and ``pool``) bound the wait for the response's
  headers, ``read`` each read of the body; they raise httpx's own timeout errors, and a
  failed ``fetch`` raises ``httpx.ConnectError``, which the adapter already retries.

``fetch`` defaults to ``workers.fetch`` (imported on first use); tests pass a fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

import httpx

__all__ = ["FetchFn", "WorkersFetchTransport"]

FetchFn = Callable[..., Awaitable[Any]]

_DROP_REQUEST: Final = frozenset({"host", "content-length", "accept-encoding", "connection"})
_DROP_RESPONSE: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _workers_fetch() -> FetchFn:
    from workers import fetch

    function: FetchFn = fetch
    return function


class WorkersFetchTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=WorkersFetchTransport())`` inside a Worker."""

    def __init__(self, fetch: FetchFn | None = None) -> None:
        self._fetch = fetch

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fetch = self._fetch or _workers_fetch()
        timeouts = request.extensions.get("timeout") or {}
        body = await request.aread()
        headers: dict[str, str] = {}
        for name, value in request.headers.multi_items():
            key = name.lower()
            if key in _DROP_REQUEST:
                continue
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        options: dict[str, Any] = {"method": request.method, "headers": headers}
        if body:
            options["body"] = body
        wait = _first(timeouts.get("connect"), timeouts.get("pool"))
        try:
            response = await asyncio.wait_for(fetch(str(request.url), **options), wait)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no response from {request.url.host} within {wait} seconds", request=request
            ) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise httpx.ConnectError(f"fetch failed: {exc}", request=request) from exc
        return httpx.Response(
            int(response.status),
            headers=[
                (k, v)
                for k, v in _header_items(response.headers)
                if k.lower() not in _DROP_RESPONSE
            ],
            stream=_BodyStream(getattr(response, "body", None), timeouts.get("read"), request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


class _BodyStream(httpx.AsyncByteStream):
    """A JS ``ReadableStream`` as httpx's body stream, read as the chunks arrive."""

    def __init__(self, body: Any, read_timeout: float | None, request: httpx.Request) -> None:
        self._body = body if body is not None and hasattr(body, "getReader") else None
        self._timeout = read_timeout
        self._request = request
        self._reader: Any = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._body is None:
            return
        self._reader = self._body.getReader()
        while True:
            try:
                result = await asyncio.wait_for(self._reader.read(), self._timeout)
            except TimeoutError:
                raise httpx.ReadTimeout(
                    f"no data for {self._timeout} seconds", request=self._request
                ) from None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise httpx.ReadError(
                    f"the response body broke: {exc}", request=self._request
                ) from exc
            if result.done:
                return
            chunk = _chunk_bytes(result.value)
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                await reader.cancel()
            except Exception:  # the body already ended or broke: nothing to release
                pass


def _chunk_bytes(value: Any) -> bytes:
    to_bytes = getattr(value, "to_bytes", None)
    if callable(to_bytes):
        return bytes(to_bytes())
    if value is None:
        return b""
    return bytes(value)


def _header_items(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(pair[0]), str(pair[1])) for pair in headers]


def _first(*values: Any) -> float | None:
    for value in values:
        if value is not None:
            return float(value)
    return None
