"""The HTTP API's end-to-end flows, run against the Cloudflare host.

These are the very tests that check the local host under uvicorn (``tests/http``),
collected here a second time with ``make_server`` serving the Cloudflare host instead
(:mod:`tests.cloudflare.server`): the same requests, over real sockets, must give the same
answers, streams and frames. That is the proof that a client cannot tell the hosts apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.cloudflare.server import cloudflare_servers
from tests.http.test_approvals import *  # noqa: F403
from tests.http.test_auth import *  # noqa: F403
from tests.http.test_bad_input import *  # noqa: F403
from tests.http.test_chat_stream import *  # noqa: F403
from tests.http.test_client_tools_over_http import *  # noqa: F403
from tests.http.test_control import *  # noqa: F403
from tests.http.test_cors import *  # noqa: F403
from tests.http.test_examples_over_http import *  # noqa: F403
from tests.http.test_guard import *  # noqa: F403
from tests.http.test_reattach import *  # noqa: F403
from tests.http.test_subagents_over_http import *  # noqa: F403
from tests.http.test_turn_stream import *  # noqa: F403
from tests.http.test_usage_over_http import *  # noqa: F403
from tests.http.test_websocket import *  # noqa: F403


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Any]]:
    async with cloudflare_servers() as (make, servers):
        yield make
    # Every request went through the Worker's fetch, and every run through Workflows.
    for server in servers:
        assert server.platform.requests > 0
        if server.platform.workflows.instance_ids():
            assert server.platform.durable_objects.total_calls > 0
