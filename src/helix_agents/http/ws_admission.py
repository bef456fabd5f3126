"""Who may open ``GET /chat/{sessionId}/ws``, and which run they follow: written once, called
by the local host's route (:mod:`.websocket`) and by the Worker before it hands a socket to
its Durable Object (:mod:`helix_agents.hosts.cloudflare.worker`).

In order: the ``Origin`` (a page of another origin is refused unless the CORS policy allows
it, :func:`.guard.check_origin`), the caller (the authentication hook: a bearer token, or
``?access_token=`` since browser WebSockets cannot set headers), the session id, the resume
cursor (``Last-Event-ID``, ``X-Resume-From-Sequence`` or ``?from=``), the session (another
user's does not exist for them), and the run: the active one, or, for a client whose cursor
missed the end of the latest run, that run.

A refusal is a :class:`~helix_agents.errors.HelixError`; :func:`refusal` turns it into the
error frame and close code of the protocol (:mod:`helix_agents.streaming.ws_protocol`). The
Worker, which holds no Starlette connection, calls :func:`admit_upgrade` with the request's
URL and headers, so that it imports nothing of Starlette itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import HTTPConnection

from ..errors import HelixError
from ..ids import validate_session_id
from ..streaming.sse import resume_cursor
from ..streaming.ui import UIVersion
from ..streaming.ws_protocol import CLOSE_ERROR, close_code, error_frame
from .context import ApiContext
from .errors import ApiError, status_for
from .guard import check_origin

__all__ = ["Admission", "admit", "admit_upgrade", "refusal", "run_to_follow"]

logger = logging.getLogger("helix_agents.http")


@dataclass(frozen=True)
class Admission:
    """An admitted socket: the run it follows (None: no run to follow, the client gets
    ``{"done": true, "active": false}``) from after ``cursor``, in ``ui_version``."""

    session_id: str
    run_id: str | None
    cursor: int
    ui_version: UIVersion


async def admit(api: ApiContext, conn: HTTPConnection, session_id: str) -> Admission:
    """Check a WebSocket's opening (see the module docstring); HelixError if refused."""
    check_origin(conn, api.settings.cors_origins)
    user = await api.user(conn)
    validate_session_id(session_id)
    given = resume_cursor(conn.headers, conn.query_params)
    await api.session(session_id, user)
    run_id = await run_to_follow(api, session_id, given)
    return Admission(session_id, run_id, given or 0, api.settings.ui_version)


async def admit_upgrade(
    app: Any, url: str, headers: Iterable[tuple[str, str]], session_id: str
) -> Admission:
    """:func:`admit` for an upgrade request known by its URL and headers (the Worker's),
    against ``app``, the Starlette app whose API it is (its ``state.api``)."""
    parts = urlsplit(url)
    scope = {
        "type": "websocket",
        "scheme": "wss" if parts.scheme == "https" else "ws",
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "path_params": {"session_id": session_id},
        "app": app,
    }
    return await admit(app.state.api, HTTPConnection(scope), session_id)


async def run_to_follow(api: ApiContext, session_id: str, cursor: int | None) -> str | None:
    """The active run; or, for a client with a cursor that missed the end of the latest
    run, that run (as on the SSE route); else None."""
    store, streams = api.executor.store, api.executor.streams
    run = await store.active_run(session_id)
    if run is not None:
        return run.run_id
    if cursor is None:
        return None
    latest = await store.latest_run(session_id)
    info = await streams.info(latest.run_id) if latest is not None else None
    if latest is None or info is None or cursor >= info.last_seq:
        return None
    return latest.run_id


def refusal(exc: HelixError) -> tuple[str, int]:
    """The error frame and close code for a refused socket. A server-side failure is
    logged and says no more than ``internal_error`` (1011)."""
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, ApiError):
        logger.error("a WebSocket could not be opened: %s", exc, exc_info=exc)
        return error_frame("internal_error", "internal error"), CLOSE_ERROR
    return error_frame(exc.code, str(exc)), close_code(status)
