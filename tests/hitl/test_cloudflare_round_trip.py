"""The AI SDK round trip with approvals and client tools, against the Cloudflare host.

The tests of :mod:`tests.hitl.test_http_round_trip` collected a second time, with
``make_server`` serving the Cloudflare host over its fakes behind uvicorn
(:mod:`tests.cloudflare.server`): every request goes through the Worker's ``fetch``, every
run and resume is a Workflow instance, every stream lives in the StreamManager Durable
Object. The same useChat exchanges must give the same answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from helix_agents.testing.cloudflare.shim import install

install()

from tests.cloudflare.server import CloudflareServer, start_cloudflare_server  # noqa: E402
from tests.hitl.test_http_round_trip import *  # noqa: E402, F403


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Any]]:
    servers: list[CloudflareServer] = []

    async def make(*agents: Any, **kwargs: Any) -> CloudflareServer:
        server = await start_cloudflare_server(*agents, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
    for server in servers:
        assert server.platform.requests > 0
        assert server.platform.workflows.instance_ids()
