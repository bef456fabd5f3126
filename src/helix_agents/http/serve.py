"""``helix dev``: the local host behind the HTTP API, under uvicorn.

The host starts when the server starts (the ASGI lifespan) and closes when it stops, so an
unfinished run picks up where it was on the next start. Without an API token the server
listens only on a loopback address: anyone who can reach it could run agents.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from ..agent import AgentRegistry
from ..errors import HelixError
from ..hosts.local.host import LocalHost
from .app import configured_auth, create_app
from .auth import TOKEN_ENV, AuthHook
from .cors import CORS_ENV, origins_from

__all__ = ["CORS_ENV", "is_loopback", "serve"]

#: Seconds uvicorn waits for open streams when asked to stop, before closing them.
_GRACEFUL_SHUTDOWN = 2


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    registry: AgentRegistry,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    data_dir: str | os.PathLike[str] = ".helix",
    token: str | None = None,
    auth: AuthHook | None = None,
    log_level: str = "info",
) -> int:
    """Serve the API and the chat page until interrupted; the process exit code."""
    hook = configured_auth(auth, token)
    if hook is None and not is_loopback(host):
        print(
            f"helix: refusing to listen on {host} without an API token: anyone who can reach "
            f"it could run your agents. Set {TOKEN_ENV} (clients then send 'Authorization: "
            "Bearer <token>'), or listen on 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    if not 0 <= port <= 65535:
        print(f"helix: --port must be between 0 and 65535, not {port}", file=sys.stderr)
        return 2
    origins = origins_from(os.environ)
    local = LocalHost(registry, Path(data_dir))
    app = HostLifespan(create_app(local, auth=hook, cors_origins=origins), local)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN,
    )
    shown = host if ":" not in host else f"[{host}]"
    print(
        f"helix dev: http://{shown}:{port}/  agents: {', '.join(registry.names) or 'none'}  "
        f"data: {data_dir}  auth: {'bearer token' if hook else 'none (loopback only)'}",
        file=sys.stderr,
    )
    try:
        uvicorn.Server(config).run()
    except SystemExit as exc:  # uvicorn's way of saying it could not start (bind, lifespan)
        return 1 if app.failed else (exc.code if isinstance(exc.code, int) else 1)
    return 1 if app.failed else 0


class HostLifespan:
    """Start the host on the lifespan's startup and close it on its shutdown.

    A host that cannot start (its data directory is in use, say) fails the startup with its
    own message, and uvicorn exits, instead of serving requests it cannot answer.
    """

    def __init__(self, app: ASGIApp, host: LocalHost) -> None:
        self.app = app
        self.host = host
        self.failed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        message: Any = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            await self.host.start()
        except HelixError as exc:
            self.failed = True
            await send({"type": "lifespan.startup.failed", "message": f"helix: {exc}"})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await self.host.close()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": f"helix: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})
