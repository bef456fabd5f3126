"""What keeps other web pages out: JSON-only POSTs, the ``Origin`` of POSTs and WebSockets,
and (on the local host) the ``Host`` a request names.

A browser lets any page send a "simple" cross-site request without asking the server
first: a ``text/plain``, form or bodyless POST, and any WebSocket. So, on both hosts:

- a POST that declares a body type must declare JSON (``application/json`` or
  ``application/*+json``), and a POST with a body must declare one: 415
  ``unsupported_media_type`` otherwise. A POST with neither a body nor a ``Content-Type``
  (``curl -X POST .../interrupt``, the chat page's buttons) is accepted: the steering
  routes' bodies are optional;
- a POST or WebSocket whose ``Origin`` is neither the server's own (the ``Host`` it was
  sent to) nor one the CORS policy allows is refused: 403 ``origin_refused`` (for a
  WebSocket, the error frame and close 4403). Requests without ``Origin`` (curl, SDKs,
  servers) are not browsers' cross-site requests and pass.

The local host also checks ``Host`` (:class:`HostCheck`): a page of ``evil.example`` whose
name the attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with itself, so
only the name it sends tells it apart: 421 ``misdirected_request`` unless the name is a
loopback one, the address the server is bound to, or one listed in ``HELIX_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..streaming.ws_protocol import close_code, error_frame
from .errors import (
    ApiError,
    MisdirectedRequestError,
    OriginRefusedError,
    UnsupportedMediaTypeError,
    helix_error_response,
)

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "HostCheck",
    "allowed_hosts_from",
    "check_json_post",
    "check_origin",
    "guarded_post",
]

#: Comma-separated extra host names the local host answers for (``*``: any).
ALLOWED_HOSTS_ENV: Final = "HELIX_ALLOWED_HOSTS"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (IPv6 in brackets) as (lowercase host without brackets, port)."""
    value = value.strip().lower()
    if not value:
        return None
    try:
        parts = urlsplit("//" + value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.path or parts.username is not None:
        return None
    return host, port


def _same_origin(origin: str, host_header: str | None) -> bool:
    """Is ``origin`` (``scheme://host[:port]``) the one a page of this server has, as the
    request's ``Host`` names the server? (Ports are compared with the origin's scheme's
    default filled in; a TLS proxy in front changes the scheme, not the name.)"""
    if host_header is None:
        return False
    try:
        parts = urlsplit(origin.strip().lower())
        origin_host, origin_port = parts.hostname, parts.port
    except ValueError:
        return False
    default = _DEFAULT_PORTS.get(parts.scheme)
    target = _split_host(host_header)
    if not origin_host or default is None or target is None:
        return False
    return (origin_host, origin_port or default) == (target[0], target[1] or default)


def check_origin(conn: HTTPConnection, cors_origins: Sequence[str]) -> None:
    """Refuse (403 ``origin_refused``) a request whose ``Origin`` is neither this
    server's own nor allowed by the CORS policy; one without ``Origin`` passes."""
    origin = conn.headers.get("origin")
    if origin is None:
        return
    if _same_origin(origin, conn.headers.get("host")):
        return
    if "*" in cors_origins or origin in cors_origins:
        return
    what = "WebSocket" if conn.scope.get("type") == "websocket" else "POST request"
    raise OriginRefusedError(
        f"cross-origin {what} refused: origin {origin!r} is not this server's and is not "
        "allowed by its CORS policy (HELIX_CORS_ORIGINS / cors_origins)"
    )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, sub = media.partition("/")
    return kind == "application" and (sub == "json" or sub.endswith("+json"))


def check_json_post(headers: Headers) -> None:
    """Refuse (415) a POST whose body is not declared as JSON (see the module docstring)."""
    content_type = headers.get("content-type")
    if content_type is not None:
        if not _is_json(content_type):
            raise UnsupportedMediaTypeError(
                f"the body must be JSON: send 'Content-Type: application/json', not "
                f"{content_type[:80]!r}"
            )
        return
    length = (headers.get("content-length") or "0").strip()
    if headers.get("transfer-encoding") is not None or length not in ("", "0"):
        raise UnsupportedMediaTypeError(
            "the body must be JSON: send 'Content-Type: application/json' with it"
        )


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded_post(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` behind the checks of a POST: its ``Origin``, then its content type."""

    async def guarded(request: Request) -> Response:
        check_origin(request, request.app.state.api.settings.cors_origins)
        check_json_post(request.headers)
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "endpoint")
    guarded.__doc__ = endpoint.__doc__
    return guarded


# -- the local host's Host check -------------------------------------------------------------


def allowed_hosts_from(environ: Mapping[str, str]) -> list[str]:
    """The names :data:`ALLOWED_HOSTS_ENV` lists in ``environ``."""
    return [
        h.strip().lower() for h in (environ.get(ALLOWED_HOSTS_ENV) or "").split(",") if h.strip()
    ]


def _loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostCheck:
    """Answer only requests whose ``Host`` names this server: a loopback name or the
    address it is bound to (``scope["server"]``), on the port it listens on; or a name
    in ``allowed`` (any port; ``*`` turns the check off). Others get 421 (a WebSocket:
    the error frame, then close 4421), before the app sees them."""

    def __init__(self, app: ASGIApp, allowed: Collection[str] = ()) -> None:
        self.app = app
        self.allowed = {name.lower().strip("[]") for name in allowed}

    def refusal(self, scope: Scope) -> ApiError | None:
        if "*" in self.allowed:
            return None
        server = scope.get("server") or (None, None)
        bound_host, bound_port = server[0], server[1]
        header = Headers(scope=scope).get("host")
        target = _split_host(header) if header is not None else None
        if target is not None:
            name, port = target
            if name in self.allowed:
                return None
            default = _DEFAULT_PORTS.get(scope.get("scheme", "http"), 80)
            local = _loopback_name(name) or (bound_host is not None and name == bound_host)
            if local and (bound_port is None or (port or default) == bound_port):
                return None
        shown = f"{bound_host}:{bound_port}" if bound_host else "its own address"
        return MisdirectedRequestError(
            f"this server does not answer for Host {header!r}: use a loopback address "
            f"(http://127.0.0.1:{bound_port}/ or http://localhost:{bound_port}/) or "
            f"{shown}, or list the name in {ALLOWED_HOSTS_ENV}"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await helix_error_response(refused)(scope, receive, send)
        else:
            await _refuse_websocket(refused, receive, send)


async def _refuse_websocket(error: ApiError, receive: Receive, send: Send) -> None:
    """As the WebSocket route refuses: accept, one error frame, close ``4000 + status``."""
    message: Any = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": error_frame(error.code, str(error))})
    await send({"type": "websocket.close", "code": close_code(error.status)})
