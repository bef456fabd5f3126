"""The Worker's ``fetch``: the HTTP API, with WebSocket upgrades sent to the Durable Object.

Every request first makes sure the D1 schema is there (:meth:`.runtime.CloudflareRuntime.ensure_schema`).
Then:

- ``GET /chat/{sessionId}/ws`` with ``Upgrade: websocket`` is checked here exactly as the
  local route checks it (authentication, the session's owner, an active run; the same
  error frames and close codes), and forwarded to the session's StreamManager Durable
  Object, which accepts the socket for hibernation and follows the run from the cursor the
  client asked for (``?from=``, ``Last-Event-ID`` or ``X-Resume-From-Sequence``);
- everything else is the HTTP API's Starlette app, served through the SDK's ASGI adapter
  (``workers.asgi``), which streams responses as they are written, so SSE works; an SSE
  response follows its run over one WebSocket to the Durable Object (:mod:`.stream_follow`).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlsplit

from ...errors import HelixError
from . import ffi
from .stream_sockets import error_frame, frame

if TYPE_CHECKING:
    from .runtime import CloudflareRuntime

__all__ = ["handle_fetch", "handle_websocket"]

logger = logging.getLogger("helix_agents.cloudflare")

_WS_PATH: Final = re.compile(r"^/chat/([^/]+)/ws$")


async def handle_fetch(runtime: CloudflareRuntime, request: Any, env: Any) -> Any:
    """The Worker's answer to ``request`` (see the module docstring)."""
    try:
        await runtime.ensure_schema()
    except HelixError as exc:
        logger.error("the D1 schema could not be checked: %s", exc)
        return ffi.json_response(
            {"error": {"code": "unavailable", "message": "the database is not reachable"}}, 503
        )
    path = urlsplit(str(request.url)).path
    match = _WS_PATH.match(path)
    if match is not None and (request.headers.get("upgrade") or "").lower() == "websocket":
        return await handle_websocket(runtime, request, unquote(match[1]))
    from workers import asgi

    try:
        return await asgi.fetch(runtime.http_app, request, env)
    except Exception:
        logger.exception("the HTTP app failed before it answered %s %s", request.method, path)
        return ffi.json_response(
            {"error": {"code": "internal_error", "message": "internal error"}}, 500
        )


async def handle_websocket(runtime: CloudflareRuntime, request: Any, session_id: str) -> Any:
    """Check the upgrade as the local route does, then hand it to the Durable Object."""
    from starlette.requests import HTTPConnection

    from ...http.errors import ApiError, status_for
    from ...http.guard import check_origin
    from ...http.websocket import run_to_follow
    from ...ids import validate_session_id
    from ...streaming.sse import resume_cursor

    app = runtime.http_app
    api = app.state.api
    conn = HTTPConnection(_websocket_scope(request, app, session_id))
    try:
        check_origin(conn, api.settings.cors_origins)
        user = await api.user(conn)
        validate_session_id(session_id)
        given = resume_cursor(conn.headers, conn.query_params)
        await api.session(session_id, user)
        # The same choice of run as the local route's: the active one, or the latest one
        # for a client whose cursor missed its end.
        run_id = await run_to_follow(api, session_id, given)
    except HelixError as exc:
        status = status_for(exc)
        if status >= 500 and not isinstance(exc, ApiError):
            logger.error("a WebSocket upgrade failed: %s", exc)
            return _answer_and_close(error_frame("internal_error", "internal error"), 1011)
        return _answer_and_close(error_frame(exc.code, str(exc)), 4000 + status)
    if run_id is None:
        return _answer_and_close(frame({"done": True, "active": False}), 1000)
    version = api.settings.ui_version
    url = f"https://stream-manager/ws?stream={quote(run_id)}&from={given or 0}&v={version}"
    stub = runtime.streams.stub(run_id)
    return await stub.fetch(url, headers={"Upgrade": "websocket"})


def _answer_and_close(text: str, code: int) -> Any:
    """Accept the socket, send one frame and close: a browser cannot read a refused
    handshake, so the reason travels as a frame, as on the local host."""
    client, server = ffi.websocket_pair()
    server.accept()
    server.send(text)
    server.close(code, "")
    return ffi.upgrade_response(client)


def _websocket_scope(request: Any, app: Any, session_id: str) -> dict[str, Any]:
    parts = urlsplit(str(request.url))
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
    ]
    return {
        "type": "websocket",
        "scheme": "wss" if parts.scheme == "https" else "ws",
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": headers,
        "path_params": {"session_id": session_id},
        "app": app,
    }
