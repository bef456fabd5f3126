"""Fixtures more than one test folder uses, defined once (tests/conftest.py imports them).

- ``make_host``: ``await make_host(*agents, **local_host_kwargs)``, a started local host in
  the test's ``tmp_path``, closed at the end of the test;
- ``make_server``: ``await make_server(*agents, **create_app_kwargs)``, the local host under
  uvicorn on 127.0.0.1 (tests/http's harness), stopped at the end of the test.

A folder that needs another shape (tests/aisdk's server for one SDK version, the fake
Cloudflare's) defines a fixture of the same name in its own conftest, which wins there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from helix_agents import Agent
    from helix_agents.hosts.local import LocalHost
    from tests.http.harness import Server

__all__ = ["make_host", "make_server"]


@pytest.fixture
async def make_host(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    from helix_agents import AgentRegistry
    from helix_agents.hosts.local import LocalHost

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
    from tests.http.harness import start_server

    servers: list[Server] = []

    async def make(*agents: Any, **kwargs: Any) -> Server:
        server = await start_server(tmp_path / f"host{len(servers)}", *agents, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
