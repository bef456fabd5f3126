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

from tests.cloudflare.server import cloudflare_servers  # noqa: E402
from tests.hitl.test_http_round_trip import *  # noqa: E402, F403


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Any]]:
    async with cloudflare_servers() as (make, servers):
        yield make
    for server in servers:
        assert server.platform.requests > 0
        assert server.platform.workflows.instance_ids()
