"""The Cloudflare host served over real sockets, for the HTTP flows both hosts share.

:func:`start_cloudflare_server` has the interface of ``tests.http.harness.start_server``
(``url``, ``ws_url``, ``client()``, ``host.executor``, ``stop()``), but behind uvicorn sits
the faked platform (:class:`FakeCloudflare` through :class:`WorkerASGI`) running a Worker
made by :class:`CloudflareApp`: every request goes through the Worker's ``fetch`` and the
SDK's ASGI adapter, runs are Workflow instances, streams live in the StreamManager Durable
Object and WebSockets land on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from helix_agents import Agent, AgentRegistry
from helix_agents.core.stream_writer import FlushPolicy
from helix_agents.hosts.cloudflare import CloudflareApp
from helix_agents.hosts.cloudflare.flush import CLOUDFLARE_FLUSH_POLICY
from helix_agents.testing.cloudflare.asgi import WorkerASGI
from helix_agents.testing.cloudflare.platform import FakeCloudflare
from tests.http.harness import LoopbackClients, serve_on_loopback, stop_serving


@dataclass
class CloudflareHostView:
    """What the shared tests reach of a host: its executor."""

    app: CloudflareApp
    platform: FakeCloudflare

    @property
    def executor(self) -> Any:
        return self.app.runtime(self.platform.env).executor

    @property
    def store(self) -> Any:
        return self.executor.store

    @property
    def streams(self) -> StreamsView:
        return StreamsView(self.executor.streams, self.platform)


class StreamsView:
    """The host's stream manager; ``close()`` is what a shutting-down local host does to
    its readers, here an outage of the Durable Objects (every call fails from then on)."""

    def __init__(self, streams: Any, platform: FakeCloudflare) -> None:
        self._streams = streams
        self._platform = platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._streams, name)

    async def close(self) -> None:
        await self._platform.durable_objects.outage()


@dataclass
class CloudflareServer(LoopbackClients):
    host: CloudflareHostView
    app: CloudflareApp
    platform: FakeCloudflare
    url: str
    uvicorn: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await stop_serving(self.uvicorn, self.task)
        await self.platform.close()


async def start_cloudflare_server(
    *agents: Agent,
    keep_alive: float = 15.0,
    flush_policy: FlushPolicy = CLOUDFLARE_FLUSH_POLICY,
    vars: dict[str, str] | None = None,
    **app_kwargs: Any,
) -> CloudflareServer:
    environ = dict(app_kwargs.pop("environ", None) or {})
    # A Worker with no token refuses every API request unless it opts out explicitly: these
    # Workers opt out (a token, where a test configures one, still wins).
    environ.setdefault("HELIX_AUTH", "none")
    app = CloudflareApp(
        AgentRegistry(agents),
        flush_policy=flush_policy,
        keep_alive=keep_alive,
        environ=environ,
        **app_kwargs,
    )
    platform = FakeCloudflare(app, vars=vars)
    url, server, task = await serve_on_loopback(WorkerASGI(platform))
    return CloudflareServer(CloudflareHostView(app, platform), app, platform, url, server, task)


@contextlib.asynccontextmanager
async def cloudflare_servers() -> AsyncIterator[
    tuple[Callable[..., Awaitable[CloudflareServer]], list[CloudflareServer]]
]:
    """A ``make_server`` for the suites that run against the Cloudflare host (as
    :func:`start_cloudflare_server`), and the servers it made: stopped on the way out, for
    the caller to check what they did."""
    servers: list[CloudflareServer] = []

    async def make(*agents: Any, **kwargs: Any) -> CloudflareServer:
        server = await start_cloudflare_server(*agents, **kwargs)
        servers.append(server)
        return server

    try:
        yield make, servers
    finally:
        for server in reversed(servers):
            await server.stop()
