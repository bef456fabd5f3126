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
from ...streaming.ws_protocol import CLOSE_NORMAL, INACTIVE_FRAME
from . import ffi

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
    """Admit the upgrade as the local route does (the same function), then hand it to the
    Durable Object."""
    from ...http.ws_admission import admit_upgrade, refusal

    app = runtime.http_app
    try:
        admitted = await admit_upgrade(app, str(request.url), request.headers.items(), session_id)
    except HelixError as exc:
        return _answer_and_close(*refusal(exc))
    if admitted.run_id is None:
        return _answer_and_close(INACTIVE_FRAME, CLOSE_NORMAL)
    run_id = admitted.run_id
    url = (
        f"https://stream-manager/ws?stream={quote(run_id)}&from={admitted.cursor}"
        f"&v={admitted.ui_version}"
    )
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
