from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from .harness import Server, start_server


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_server(*agents, **create_app_kwargs)``: a started server, stopped at
    the end of the test."""
    servers: list[Server] = []

    async def make(*agents: Any, **kwargs: Any) -> Server:
        server = await start_server(tmp_path / f"host{len(servers)}", *agents, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
