"""A windowed agent's long session over the local host's HTTP API (the same scenario runs on
the real Worker: tests/worker_real/test_long_sessions_real.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.history.windowed import scenario, windowed_agent

pytestmark = pytest.mark.timeout(120)


async def test_windowed_session_over_http(make_server: Any) -> None:
    server = await make_server(windowed_agent())
    async with server.client() as http:
        await scenario(http, prefix="w-")
