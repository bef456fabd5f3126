"""``helix dev``: the local host behind the HTTP API, under uvicorn.

The host starts when the server starts (the ASGI lifespan) and closes when it stops, so an
unfinished run picks up where it was on the next start. Without an API token the server
listens only on a loopback address: anyone who can reach it could run agents. Requests must
name the server in ``Host`` (no DNS rebinding, :class:`~.guard.HostCheck`) and arrive within
read timeouts (:class:`TimedH11Protocol`); tokens in query strings stay out of the logs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Final

import h11
import uvicorn
from pydantic_core import to_json
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..agent import AgentRegistry
from ..errors import HelixError
from ..hosts.local.host import DEV_QUEUE_CONSUMER, LocalHost
from .address import publish, withdraw
from .app import configured_auth, create_app
from .auth import TOKEN_ENV, TOKEN_QUERY, AuthHook
from .cors import CORS_ENV, origins_from
from .errors import error_body
from .guard import HostCheck, allowed_hosts_from

__all__ = [
    "BODY_TIMEOUT",
    "CORS_ENV",
    "HEADER_TIMEOUT",
    "is_loopback",
    "redact_tokens",
    "serve",
    "server_config",
]

#: Seconds uvicorn waits for open streams when asked to stop, before closing them.
_GRACEFUL_SHUTDOWN = 2
#: Seconds a client has to send a request's head: from its connection, or from the first
#: byte of its next request on a kept-alive connection.
HEADER_TIMEOUT: Final = 10.0
#: Seconds it then has to send the request's body (at most ``max_body_bytes``, 1 MiB).
BODY_TIMEOUT: Final = 30.0


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
    local = LocalHost(registry, Path(data_dir), queue_consumer=DEV_QUEUE_CONSUMER)
    api = create_app(local, auth=hook, cors_origins=origins)
    # Only requests naming this server (loopback, the bound address, HELIX_ALLOWED_HOSTS):
    # a DNS-rebound name is refused (http/guard.py).
    app = HostLifespan(HostCheck(api, allowed_hosts_from(os.environ)), local)
    config = server_config(app, host=host, port=port, log_level=log_level, lifespan="on")
    shown = host if ":" not in host else f"[{host}]"
    print(
        f"helix dev: http://{shown}:{port}/  agents: {', '.join(registry.names) or 'none'}  "
        f"data: {data_dir}  auth: {'bearer token' if hook else 'none (loopback only)'}",
        file=sys.stderr,
    )
    server = _PublishingServer(config, Path(data_dir))
    try:
        server.run()
    except SystemExit as exc:  # uvicorn's way of saying it could not start (bind, lifespan)
        return 1 if app.failed else (exc.code if isinstance(exc.code, int) else 1)
    finally:
        if server.url is not None:
            withdraw(Path(data_dir), server.url)
    return 1 if app.failed else 0


class _PublishingServer(uvicorn.Server):
    """Once it listens (the host started first, holding the data dir's lock), write its URL
    into the data dir: the ``helix`` commands on the same dir talk to it (http/address.py)."""

    def __init__(self, config: uvicorn.Config, data_dir: Path) -> None:
        super().__init__(config)
        self.data_dir = data_dir
        self.url: str | None = None

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers or not self.servers[0].sockets:
            return
        address = self.servers[0].sockets[0].getsockname()
        host, port = str(address[0]), int(address[1])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        publish(self.data_dir, self.url)


def server_config(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    log_level: str = "info",
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for ``helix dev``: HTTP/1.1 over h11 with read timeouts (a
    request must arrive within ``header_timeout`` + ``body_timeout`` seconds, or the
    connection gets a 408 and is closed: uvicorn itself waits for ever), and tokens in
    query strings redacted from its logs."""
    options.setdefault("timeout_graceful_shutdown", _GRACEFUL_SHUTDOWN)
    protocol = type(
        "TimedH11Protocol",
        (TimedH11Protocol,),
        {"header_timeout": float(header_timeout), "body_timeout": float(body_timeout)},
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, http=protocol, **options
    )
    # uvicorn configured its loggers just now; the filter stays on them.
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in logger.filters):
            logger.addFilter(_RedactTokens())
    return config


_TOKEN_PARAM = re.compile(
    r"((?:^|[?&;])" + TOKEN_QUERY.replace("_", "(?:_|%5f)") + r"=)[^&;\s\"]*", re.IGNORECASE
)


def redact_tokens(text: str) -> str:
    """``text`` with the value of every ``access_token=`` query parameter hidden."""
    return _TOKEN_PARAM.sub(r"\1[redacted]", text)


class _RedactTokens(logging.Filter):
    """uvicorn logs each request's path with its query string (the access log, and
    WebSocket handshakes): a token sent as ``?access_token=`` must not land there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        return True


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with the read timeouts it lacks: a connection that does not
    send a whole request head within ``header_timeout`` seconds (from the connection, or
    from the first byte of the next request), or then its body within ``body_timeout``,
    gets a 408 and is closed. Nothing limits a response (a stream may last for hours), nor
    an idle kept-alive connection (uvicorn closes those after ``timeout_keep_alive``)."""

    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._upgraded = False
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._read_timer is None and self.conn.their_state is h11.IDLE:
            self._arm(self.header_timeout)  # the next request on a kept-alive connection
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self._upgraded:
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if not self._reading_body:
                self._reading_body = True
                self._arm(self.body_timeout)
        elif state is h11.IDLE:
            self._reading_body = False
            if self._read_timer is None and self.conn.trailing_data[0]:
                self._arm(self.header_timeout)  # a pipelined request, partly here
        else:  # the request is in (DONE), or the connection is ending
            self._reading_body = False
            self._disarm()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._upgraded = True
        self._disarm()
        super().handle_websocket_upgrade(event)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        what = "body" if self._reading_body else "head"
        limit = self.body_timeout if self._reading_body else self.header_timeout
        # No response under way (IDLE: none yet; SEND_RESPONSE: its head not sent).
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = to_json(
                error_body(
                    "request_timeout",
                    f"the request's {what} did not arrive within {limit:g} s",
                )
            )
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body) + body
            )
        self.transport.close()


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
