"""The fake ``workers`` module: the workers-runtime-sdk as Python code meets it, on CPython.

It provides what the Cloudflare host imports, with the SDK's behaviour
(as its source in the workers-runtime-sdk package has it; the worker-real tier runs the real one):

- ``WorkerEntrypoint``, ``DurableObject``, ``WorkflowEntrypoint`` set ``self.ctx`` and
  ``self.env``; a Workflow subclass's ``run`` is wrapped as the SDK wraps it (the event is
  converted from JS, the step is the SDK's step wrapper, the result goes through
  ``python_to_rpc``);
- ``Request`` and ``Response`` over the fake JS ``Request``/``Response``
  (:mod:`.jsruntime`): ``headers`` as an ``http.client.HTTPMessage`` mapping, ``body`` as a
  JS ``ReadableStream``, ``Response.json(...)`` both static and on an instance, a ``101``
  response carrying a ``web_socket``;
- ``fetch`` for outbound requests (tests set what answers with :func:`set_fetch_handler`),
  ``wait_until`` (tracked, so a test can wait for background work), ``python_to_rpc`` and
  ``python_from_rpc``.

``workers.asgi`` and ``workers.gateway`` are the SDK's own files, loaded unchanged by
:mod:`.shim`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import http.client
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPMethod, HTTPStatus
from typing import Any, Protocol

from .jsruntime import JsBytes, JsHeaders, JsReadableStream, JsRequest, JsResponse, headers_of
from .jsvalues import from_rpc, to_rpc
from .sdk_step import WorkflowStepWrapper

__all__ = [
    "Context",
    "DurableObject",
    "Request",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "fetch",
    "python_from_rpc",
    "python_to_rpc",
    "set_fetch_handler",
    "wait_until",
]

python_to_rpc = to_rpc
python_from_rpc = from_rpc

#: Background work of the current invocation (``ctx.waitUntil`` / ``wait_until``).
pending: contextvars.ContextVar[list[asyncio.Future[Any]] | None] = contextvars.ContextVar(
    "helix_fake_wait_until", default=None
)
_orphans: set[asyncio.Future[Any]] = set()

FetchHandler = Callable[["Request"], Awaitable["Response"]]
_fetch_handler: FetchHandler | None = None


class Context(Protocol):
    def waitUntil(self, other: Awaitable[Any]) -> None: ...


def wait_until(awaitable: Any) -> None:
    """Keep the invocation alive until ``awaitable`` is done."""
    future = asyncio.ensure_future(awaitable._obj if hasattr(awaitable, "_obj") else awaitable)
    tracked = pending.get()
    if tracked is not None:
        tracked.append(future)
    else:
        _orphans.add(future)
        future.add_done_callback(_orphans.discard)


waitUntil = wait_until


class HTTPMessageMapping(http.client.HTTPMessage, Mapping[str, str]):  # type: ignore[misc]
    """The SDK's header view: an ``HTTPMessage`` that is also a mapping."""


def http_message(headers: JsHeaders) -> HTTPMessageMapping:
    message = HTTPMessageMapping()
    for value in headers.getSetCookie():
        message.add_header("Set-Cookie", value.strip())
    for name, value in headers:
        if name != "set-cookie":
            message.add_header(name, value.strip())
    return message


class Request:
    """``workers.Request`` over a JS ``Request``."""

    def __init__(self, input: Any, **options: Any) -> None:
        if isinstance(input, JsRequest):
            if options:
                raise ValueError("Expected no options when constructing Request from a js.Request")
            self._js = input
            return
        if isinstance(options.get("method"), HTTPMethod):
            options["method"] = options["method"].value
        if "headers" in options and options["headers"] is not None:
            options["headers"] = headers_of(options["headers"])
        source = input._js if isinstance(input, Request) else input
        self._js = JsRequest(source, **{k: v for k, v in options.items() if v is not None})

    def __repr__(self) -> str:
        return f"Request(method={self._js.method!r}, url={self._js.url!r})"

    @property
    def js_object(self) -> JsRequest:
        return self._js

    @property
    def url(self) -> str:
        return self._js.url

    @property
    def method(self) -> HTTPMethod:
        return HTTPMethod[self._js.method]

    @property
    def headers(self) -> HTTPMessageMapping:
        return http_message(self._js.headers)

    @property
    def body(self) -> JsReadableStream | None:
        return self._js.body

    @property
    def body_used(self) -> bool:
        return self._js.bodyUsed

    @property
    def cf(self) -> Any:
        return None

    async def text(self) -> str:
        return await self._js.text()

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(await self.text(), **kwargs)

    async def bytes(self) -> bytes:
        return (await self._js.arrayBuffer()).to_bytes()

    def clone(self) -> Request:
        return Request(self._js.clone())


class _JsonMethod:
    """``Response.json``: a static constructor on the class, the body parser on an instance."""

    def __get__(self, obj: Any, cls: type[Response]) -> Any:
        if obj is None:
            return cls.from_json
        return obj._parse_json


class Response:
    """``workers.Response`` over a JS ``Response``."""

    json = _JsonMethod()

    def __init__(
        self,
        body: Any = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: Any = None,
        web_socket: Any = None,
    ) -> None:
        if isinstance(body, JsResponse):
            if status is not None or status_text or headers is not None:
                raise ValueError(
                    "Expected no options when constructing Response from a js.Response"
                )
            self.js_response = body
            return
        if not (body is None or isinstance(body, str | bytes | JsReadableStream | JsBytes)):
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        init: dict[str, Any] = {}
        if status is not None:
            init["status"] = int(status)
        if status_text:
            init["statusText"] = status_text
        if headers is not None:
            init["headers"] = headers_of(headers)
        if web_socket is not None:
            init["webSocket"] = web_socket
        self.js_response = JsResponse(body.to_bytes() if isinstance(body, JsBytes) else body, init)

    @staticmethod
    def from_json(
        data: Any,
        status: HTTPStatus | int = HTTPStatus.OK,
        status_text: str = "",
        headers: Any = None,
    ) -> Response:
        js_headers = headers_of(headers) if headers is not None else JsHeaders()
        if not js_headers.has("content-type"):
            js_headers.set("content-type", "application/json")
        return Response(
            json.dumps(data), status=status, status_text=status_text, headers=js_headers
        )

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        return Response(None, status=status, headers={"location": url})

    @property
    def js_object(self) -> JsResponse:
        return self.js_response

    @property
    def status(self) -> int:
        return self.js_response.status

    @property
    def ok(self) -> bool:
        return self.js_response.ok

    @property
    def headers(self) -> HTTPMessageMapping:
        return http_message(self.js_response.headers)

    @property
    def body(self) -> JsReadableStream | None:
        return self.js_response.body

    @property
    def web_socket(self) -> Any:
        return self.js_response.webSocket

    async def text(self) -> str:
        return await self.js_response.text()

    async def bytes(self) -> bytes:
        return (await self.js_response.arrayBuffer()).to_bytes()

    async def _parse_json(self) -> Any:
        return await self.js_response.parse_json()


FetchResponse = Response


def set_fetch_handler(handler: FetchHandler | None) -> None:
    """What answers ``workers.fetch`` (an async function of a ``Request``)."""
    global _fetch_handler
    _fetch_handler = handler


async def fetch(resource: Any, **options: Any) -> Response:
    fetcher = options.pop("fetcher", None)
    if fetcher is not None:
        result = await fetcher(resource, **options)
        return result if isinstance(result, Response) else Response(result)
    request = resource if isinstance(resource, Request) else Request(resource, **options)
    if _fetch_handler is None:
        from .jsvalues import js_error

        raise OSError(str(js_error("TypeError", "Network connection lost.")))
    return await _fetch_handler(request)


class WorkerEntrypoint:
    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if run is None:
            return

        @functools.wraps(run)
        async def wrapped_run(self: Any, event: Any = None, step: Any = None, /, *a: Any) -> Any:
            if event is not None:
                event = from_rpc(event)
            if step is not None:
                step = WorkflowStepWrapper(step)
            result = run(self, event, step, *a)
            if inspect.iscoroutine(result):
                result = await result
            if result is None:
                return None
            return to_rpc(result)

        cls.run = wrapped_run  # type: ignore[attr-defined]


def handler(func: Callable[..., Any]) -> Callable[..., Any]:
    return func
