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
