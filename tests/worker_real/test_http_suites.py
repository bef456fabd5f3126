"""The HTTP API's end-to-end suites, run against the real Python Worker runtime.

These are the very tests that check the local host under uvicorn (``tests/http``), and the
Cloudflare host over the faked platform (``tests/cloudflare/test_http_parity.py``),
collected a third time with ``make_server`` serving real Workers (:mod:`.harness`):
Python 3.14 on Pyodide in local workerd, D1, Durable Objects and Workflows as wrangler runs
them. The same requests must give the same answers, streams and frames.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.http.agents import echo, talker
from tests.http.test_approvals import *  # noqa: F403
from tests.http.test_auth import *  # noqa: F403
from tests.http.test_bad_input import *  # noqa: F403
from tests.http.test_chat_stream import *  # noqa: F403
from tests.http.test_client_tools_over_http import *  # noqa: F403
from tests.http.test_control import *  # noqa: F403
from tests.http.test_cors import *  # noqa: F403
from tests.http.test_examples_over_http import *  # noqa: F403
from tests.http.test_fuzz import *  # noqa: F403
from tests.http.test_fuzz import Live
from tests.http.test_guard import *  # noqa: F403
from tests.http.test_openapi import *  # noqa: F403
from tests.http.test_reattach import *  # noqa: F403
from tests.http.test_subagents_over_http import *  # noqa: F403
from tests.http.test_turn_stream import *  # noqa: F403
from tests.http.test_usage_over_http import *  # noqa: F403
from tests.http.test_websocket import *  # noqa: F403

from .harness import LoggedErrors, RealServers, WorkerPool, config_of, root_env
from .relay import describe

# Each test keeps its own module's timeout (conftest.py).
pytestmark = pytest.mark.worker_real


@pytest.fixture
async def make_server(
    worker_pool: WorkerPool, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Any]]:
    servers = RealServers(worker_pool, request.node.nodeid)
    try:
        yield servers.make
    finally:
        await servers.close()


@pytest.fixture(scope="module")
def live(worker_pool: WorkerPool) -> Live:
    """test_fuzz's live server: the same agents and options, served at a Worker's root."""
    agents = (echo(), talker())
    config, _ = config_of(agents, {"max_body_bytes": 4096, "keep_alive": 0.5})
    worker = worker_pool.get(root_env(config), "test_fuzz::live")
    for agent in agents:
        worker_pool.relay.register(worker.slot, describe(agent))
    with httpx.Client(base_url=worker.url, timeout=30) as client:
        for sid in ("known", "other"):
            body = {"agentType": "echo", "message": "hi", "sessionId": sid}
            with client.stream("POST", "/chat", json=body) as res:
                res.read()
        doc = client.get("/openapi.json").json()
    return Live(worker.url, doc, LoggedErrors(worker))  # type: ignore[arg-type]
