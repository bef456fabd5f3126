"""The HTTP API, the same on both hosts: ``create_app(executor_or_host)`` is an ASGI app.

Modules, one job each:

- :mod:`.app` — ``create_app``: the routes, the error handlers, the configuration;
- :mod:`.chat` — ``POST /chat``, reattaching to a run's stream, the session snapshot;
- :mod:`.control` — interrupt, resume, abort, tool results from the client;
- :mod:`.websocket` — a run's chunks over a WebSocket (the local host's socket);
- :mod:`.ws_admission` — who may open that WebSocket and which run it follows (both hosts);
- :mod:`.meta` — ``/agents``, ``/health``, ``/openapi.json`` and the chat page;
- :mod:`.auth` — the authentication hook and the default bearer token;
- :mod:`.guard` — JSON-only POSTs, the ``Origin`` of POSTs and WebSockets, ``Host`` (local);
- :mod:`.bodies` — request bodies: size limits, JSON, the accepted shapes;
- :mod:`.errors` — the API's errors and the one table from errors to statuses;
- :mod:`.snapshot`, :mod:`.ui_messages` — stored messages as AI SDK UI messages;
- :mod:`.sse_response` — the streaming response a client may leave at any moment;
- :mod:`.openapi` — the OpenAPI 3.1 document;
- :mod:`.serve` — ``helix dev``: the local host under uvicorn (local only).
"""

from .app import configured_auth, create_app
from .auth import AuthHook, BearerTokenAuth, allow_anyone
from .errors import ApiError, AuthenticationError, PermissionDeniedError

__all__ = [
    "ApiError",
    "AuthHook",
    "AuthenticationError",
    "BearerTokenAuth",
    "PermissionDeniedError",
    "allow_anyone",
    "configured_auth",
    "create_app",
]
