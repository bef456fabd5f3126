"""A Worker is closed by default: with neither a token nor an explicit opt-out, every API
request is refused with a 503 that names both settings; ``/health`` stays open. Driven
through the Worker's real ``fetch`` on the faked platform, over real sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from helix_agents import AgentRegistry
from helix_agents.hosts.cloudflare import CloudflareApp
from helix_agents.http.auth import allow_anyone
from helix_agents.testing.cloudflare.asgi import WorkerASGI
from helix_agents.testing.cloudflare.platform import FakeCloudflare
from tests.http.agents import echo
from tests.http.harness import serve_on_loopback, stop_serving

from .entry_helpers import load_entry

pytestmark = pytest.mark.timeout(60)

#: Every route a client uses, and whether it stays open.
ROUTES = [
    ("GET", "/agents"),
    ("POST", "/chat"),
    ("GET", "/chat/s1"),
    ("GET", "/chat/s1/stream"),
    ("POST", "/chat/s1/interrupt"),
    ("POST", "/chat/s1/resume"),
    ("POST", "/chat/s1/abort"),
    ("POST", "/chat/s1/submit-tool-result"),
    ("GET", "/chat/s1/ws"),
]


@asynccontextmanager
async def worker(entry: Any, vars: dict[str, str]) -> AsyncIterator[str]:
    platform = FakeCloudflare(entry, vars=vars)
    url, server, task = await serve_on_loopback(WorkerASGI(platform))
    try:
        yield url
    finally:
        await stop_serving(server, task)
        await platform.close()


def assert_refused(res: httpx.Response) -> None:
    assert res.status_code == 503, res.text
    assert res.headers["content-type"] == "application/json"
    error = res.json()["error"]
    assert error["code"] == "auth_not_configured"
    assert "HELIX_API_TOKEN" in error["message"]
    assert 'HELIX_AUTH = "none"' in error["message"]
    assert "www-authenticate" not in res.headers  # no credential would help


def chat_body(session: str) -> dict[str, Any]:
    return {"agentType": "echo", "message": "hi", "sessionId": session}


Make = Callable[[], Any]


@pytest.mark.parametrize(
    "make_entry",
    [
        lambda: CloudflareApp(AgentRegistry([echo()])),
        load_entry,  # the shipped src/entry.py
    ],
    ids=["app", "shipped-entry"],
)
async def test_a_worker_without_token_or_opt_out_refuses_everything(make_entry: Make) -> None:
    async with worker(make_entry(), {}) as url, httpx.AsyncClient(base_url=url) as client:
        for method, path in ROUTES:
            body = chat_body("s1") if path == "/chat" else None
            assert_refused(await client.request(method, path, json=body))
        # With a token, too: there is none to check it against.
        assert_refused(await client.get("/agents", headers={"authorization": "Bearer x"}))
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        async with connect(url.replace("http", "ws", 1) + "/chat/s1/ws") as ws:
            frame = json.loads(await ws.recv())
            await ws.wait_closed()
        assert frame["error"]["code"] == "auth_not_configured"
        assert ws.close_code == 4503


async def test_the_opt_outs_and_the_token() -> None:
    app = CloudflareApp(AgentRegistry([echo()]))
    async with worker(app, {"HELIX_AUTH": "none"}) as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/agents")).status_code == 200
        async with c.stream("POST", "/chat", json=chat_body("open")) as res:
            assert res.status_code == 200
    # Only "none" opts out.
    app = CloudflareApp(AgentRegistry([echo()]))
    async with worker(app, {"HELIX_AUTH": "yes"}) as url, httpx.AsyncClient(base_url=url) as c:
        assert_refused(await c.get("/agents"))
    # In code: auth=allow_anyone.
    app = CloudflareApp(AgentRegistry([echo()]), auth=allow_anyone)
    async with worker(app, {}) as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/agents")).status_code == 200
        doc = (await c.get("/openapi.json")).json()
        assert "securitySchemes" not in doc["components"]
    # A token wins over the opt-out.
    app = CloudflareApp(AgentRegistry([echo()]))
    vars = {"HELIX_AUTH": "none", "HELIX_API_TOKEN": "tok"}
    async with worker(app, vars) as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/agents")).status_code == 401
        assert (await c.get("/agents", headers={"authorization": "Bearer tok"})).status_code == 200
