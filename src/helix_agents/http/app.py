"""``create_app``: the HTTP API as an ASGI application (Starlette).

The same app serves the local host (under uvicorn) and a Cloudflare Worker (through the
Workers SDK's ASGI adapter): it reaches runs only through the executor, so it holds no
host's internals. See ``docs/http-api.md`` for the routes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from ..errors import ConfigurationError, HelixError
from ..services import Services
from ..streaming.follow import DEFAULT_POLL
from ..streaming.ui import UIVersion
from .auth import (
    AUTH_ENV,
    AUTH_NONE,
    TOKEN_ENV,
    AuthHook,
    BearerTokenAuth,
    allow_anyone,
    refuse_unconfigured,
)
from .bodies import DEFAULT_MAX_BODY
from .branches import fork_session, get_state, list_checkpoints, put_state, rewind_session
from .chat import get_snapshot, post_chat, reattach
from .context import ApiContext, ApiSettings, ExecutorSource
from .control import abort, interrupt, resume, submit_tool_result
from .cors import ApiCORSMiddleware
from .errors import (
    UpgradeRequiredError,
    handle_helix_error,
    handle_http_exception,
    handle_unexpected,
)
from .guard import guarded_post
from .mcp import mcp_delete, mcp_get, mcp_post
from .meta import agents, chat_page, health, load_chat_page, openapi, sessions
from .openapi import openapi_document
from .pages import session_messages, session_runs
from .schedules import cancel_schedule, create_schedule, get_schedule, list_schedules
from .websocket import chat_websocket

__all__ = ["configured_auth", "create_app", "fail_closed_auth"]

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[Any]]


def configured_auth(
    auth: AuthHook | None = None,
    token: str | Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuthHook | None:
    """The authentication in force: the hook given, else a bearer token given, else one
    from ``HELIX_API_TOKEN``; None when requests are not authenticated."""
    if auth is not None and token is not None:
        raise ConfigurationError("give an authentication hook or a token, not both")
    if auth is not None:
        return auth
    if token is None:
        token = (os.environ if environ is None else environ).get(TOKEN_ENV) or None
    return BearerTokenAuth(token) if token is not None else None


def fail_closed_auth(
    auth: AuthHook | None = None,
    token: str | Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuthHook:
    """The authentication of a server that must not be open by accident (a Worker): the
    configured one (:func:`configured_auth`); else, with ``HELIX_AUTH=none`` in
    ``environ``, anyone (the explicit opt-out; ``auth=allow_anyone`` is the same in code);
    else a hook that refuses every request, naming both settings."""
    hook = configured_auth(auth, token, environ)
    if hook is not None:
        return hook
    mode = ((os.environ if environ is None else environ).get(AUTH_ENV) or "").strip()
    return allow_anyone if mode.lower() == AUTH_NONE else refuse_unconfigured


def create_app(
    source: ExecutorSource,
    *,
    auth: AuthHook | None = None,
    token: str | Mapping[str, str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    keep_alive: float = DEFAULT_POLL,
    ui_version: UIVersion = 6,
    chat_page_enabled: bool = True,
    lifespan: Lifespan | None = None,
    environ: Mapping[str, str] | None = None,
    cors_origins: Sequence[str] = (),
    resolve_model: Callable[[Any], Any] | None = None,
    services: Services | None = None,
) -> Starlette:
    """The HTTP API over an executor, or over anything with one (a host).

    ``auth`` is a hook from the connection to a user id (see :mod:`.auth`); ``token`` (or
    ``HELIX_API_TOKEN`` in ``environ``, default ``os.environ``) configures the default
    bearer-token check instead; with neither, requests are not authenticated.
    ``max_body_bytes`` bounds request bodies (413 beyond); ``keep_alive`` is the seconds of
    silence after which a stream gets a comment; ``ui_version`` picks the AI SDK chunk set
    (6, or 7 for ``reset-step``). ``lifespan`` runs around the app's life (the local host's
    start and close, under uvicorn). ``cors_origins`` lets browser apps on those origins
    call the API (``useChat`` on another port, say); none by default. ``resolve_model`` is
    the host's model resolution when it replaces models (a Worker's ``model_from_env``), so
    that ``/agents`` tells whether the offline demo model answers. ``services`` are the
    host's (its object storage keeps ``useChat`` file parts); by default the source's own
    (a ``LocalHost``'s).
    """
    if not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise ConfigurationError("max_body_bytes must be a positive integer")
    if not keep_alive > 0:
        raise ConfigurationError("keep_alive must be a positive number of seconds")
    hook = configured_auth(auth, token, environ)
    settings = ApiSettings(
        auth=hook or allow_anyone,
        max_body_bytes=max_body_bytes,
        keep_alive=float(keep_alive),
        ui_version=ui_version,
        cors_origins=tuple(cors_origins),
        resolve_model=resolve_model,
        services=services,
    )
    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/agents", agents, methods=["GET"]),
        Route("/sessions", sessions, methods=["GET"]),
        Route("/schedules", list_schedules, methods=["GET"]),
        Route("/schedules", guarded_post(create_schedule), methods=["POST"]),
        Route("/schedules/{scheduleId}", get_schedule, methods=["GET"]),
        Route("/schedules/{scheduleId}", cancel_schedule, methods=["DELETE"]),
        Route("/sessions/{session_id}/messages", session_messages, methods=["GET"]),
        Route("/sessions/{session_id}/runs", session_runs, methods=["GET"]),
        Route("/sessions/{session_id}/state", get_state, methods=["GET"]),
        Route("/sessions/{session_id}/state", guarded_post(put_state), methods=["PUT"]),
        Route("/sessions/{session_id}/checkpoints", list_checkpoints, methods=["GET"]),
        Route("/sessions/{session_id}/rewind", guarded_post(rewind_session), methods=["POST"]),
        Route("/sessions/{session_id}/fork", guarded_post(fork_session), methods=["POST"]),
        # POSTs: JSON bodies only, and no other web page's (http/guard.py).
        Route("/chat", guarded_post(post_chat), methods=["POST"]),
        Route("/chat/{session_id}", get_snapshot, methods=["GET"]),
        Route("/chat/{session_id}/stream", reattach, methods=["GET"]),
        Route(
            "/chat/{session_id}/submit-tool-result",
            guarded_post(submit_tool_result),
            methods=["POST"],
        ),
        Route("/chat/{session_id}/interrupt", guarded_post(interrupt), methods=["POST"]),
        Route("/chat/{session_id}/resume", guarded_post(resume), methods=["POST"]),
        Route("/chat/{session_id}/abort", guarded_post(abort), methods=["POST"]),
        WebSocketRoute("/chat/{session_id}/ws", chat_websocket),
        # The agents as MCP tools (http/mcp.py), under the same authentication.
        Route("/mcp", guarded_post(mcp_post), methods=["POST"]),
        Route("/mcp", mcp_get, methods=["GET"]),
        Route("/mcp", mcp_delete, methods=["DELETE"]),
        Route("/chat/{session_id}/ws", _upgrade_required, methods=["GET"]),
    ]
    if chat_page_enabled:
        routes.insert(0, Route("/", chat_page, methods=["GET"]))
    middleware = []
    if cors_origins:
        middleware.append(Middleware(ApiCORSMiddleware, origins=list(cors_origins)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HelixError: handle_helix_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    # Unknown paths are 404s, not redirects to a path with or without a trailing slash.
    app.router.redirect_slashes = False
    app.state.api = ApiContext(source, settings)
    # Built when first asked for: generating its schemas is too costly for a Worker's start.
    app.state.openapi = partial(
        openapi_document,
        authenticated=hook is not None and hook is not allow_anyone,
        chat_page=chat_page_enabled,
        version=_version(),
        cors=bool(cors_origins),
    )
    if chat_page_enabled:
        app.state.chat_page = load_chat_page()
    return app


async def _upgrade_required(request: Request) -> Response:
    """A plain GET on the WebSocket route: say what it needs (after the usual checks, so
    an unknown session is still a 404)."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    await api.session(request.path_params["session_id"], user)
    raise UpgradeRequiredError("this route is a WebSocket: send the upgrade handshake")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helix-agents")
    except PackageNotFoundError:
        return "0"
