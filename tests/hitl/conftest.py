"""Fixtures for the human-in-the-loop tests: real local hosts in a temporary directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, AgentRegistry
from helix_agents.hosts.local.host import LocalHost


@pytest.fixture
async def make_host(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    hosts: list[LocalHost] = []

    async def make(*agents: Agent, **kwargs: Any) -> LocalHost:
        host = LocalHost(AgentRegistry(agents), tmp_path / f"data{len(hosts)}", **kwargs)
        hosts.append(host)
        return await host.start()

    yield make
    for host in hosts:
        await host.close()


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_server(*agents, **create_app_kwargs)``: the local host under uvicorn on
    127.0.0.1 (tests/http's harness), stopped at the end of the test."""
    from tests.http.harness import Server, start_server

    servers: list[Server] = []

    async def make(*agents: Any, **kwargs: Any) -> Server:
        server = await start_server(tmp_path / f"http{len(servers)}", *agents, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
