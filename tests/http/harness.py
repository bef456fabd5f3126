"""A real server for the HTTP tests: the local host and the app under uvicorn, listening on
a free port of 127.0.0.1, in the test's own event loop (so tests can gate a model with an
asyncio.Event), driven by real clients over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from helix_agents import Agent, AgentRegistry
from helix_agents.hosts.local.host import LocalHost
from helix_agents.http import create_app


class LoopbackClients:
    """``client()`` and ``ws_url`` for a server reachable at ``self.url``."""

    url: str

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("timeout", httpx.Timeout(30.0))
        return httpx.AsyncClient(base_url=self.url, **kwargs)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]


async def serve_on_loopback(app: Any) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` under uvicorn on a free port of 127.0.0.1 in this event loop; returns
    the base URL, the server and its task once it listens."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    # Signals belong to pytest, not to the server under test.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server, task


async def stop_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass
class Server(LoopbackClients):
    host: LocalHost
    app: Any
    url: str
    uvicorn: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await stop_serving(self.uvicorn, self.task)
        await self.host.close()


async def start_server(
    data_dir: Path, *agents: Agent, keep_alive: float = 15.0, **app_kwargs: Any
) -> Server:
    host = await LocalHost(AgentRegistry(agents), data_dir).start()
    app_kwargs.setdefault("environ", {})
    app = create_app(host, keep_alive=keep_alive, **app_kwargs)
    url, server, task = await serve_on_loopback(app)
    return Server(host, app, url, server, task)


# -- reading the SSE wire format ---------------------------------------------------------------


@dataclass
class Event:
    id: int | None
    data: Any  # the parsed JSON, or the string "[DONE]"

    @property
    def type(self) -> str | None:
        return self.data.get("type") if isinstance(self.data, dict) else None


@dataclass
class Wire:
    """Everything one SSE response carried, in order."""

    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1].data == "[DONE]"

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [e.data for e in self.events if isinstance(e.data, dict)]


def parse_event(block: str) -> Event | str:
    """One SSE event block (without the blank line): an Event, or a comment's text."""
    event_id: int | None = None
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            return line[1:].strip()
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            event_id = int(value)
        elif name == "data":
            data.append(value)
    text = "\n".join(data)
    return Event(event_id, "[DONE]" if text == "[DONE]" else json.loads(text))


async def sse_blocks(response: httpx.Response) -> AsyncIterator[Event | str]:
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield parse_event(block)


async def read_wire(response: httpx.Response) -> Wire:
    wire = Wire()
    async for item in sse_blocks(response):
        if isinstance(item, str):
            wire.comments.append(item)
        else:
            wire.events.append(item)
    return wire


def assistant_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c.get("type") == "text-delta")
