"""Sub-agents, companions, approvals, client tools and usage on the Cloudflare host.

The executor-level tests of :mod:`tests.subagents` and :mod:`tests.hitl` collected a
second time with ``make_host`` building the Cloudflare host over its fakes: runs and
resumes are Workflow instances (``step.do``, ``wait_for_event`` and ``send_event`` on the
fake Workflows engine), state is in the fake D1, streams in the StreamManager Durable
Object. Tests that need the local host itself (its periodic sweep, a restart) stay local.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from helix_agents.testing.cloudflare.shim import install

install()

from helix_agents import Agent, AgentRegistry  # noqa: E402
from helix_agents.hosts.cloudflare import CloudflareApp  # noqa: E402
from helix_agents.testing.cloudflare.platform import FakeCloudflare  # noqa: E402
from tests.hitl.test_approvals import *  # noqa: E402, F403
from tests.hitl.test_client_tools import *  # noqa: E402, F403
from tests.subagents.test_companions import *  # noqa: E402, F403
from tests.subagents.test_subagents import *  # noqa: E402, F403
from tests.subagents.test_usage import *  # noqa: E402, F403


@dataclass
class CloudflareHost:
    """What the shared tests use of a host, over the Cloudflare host's runtime."""

    app: CloudflareApp
    platform: FakeCloudflare

    @property
    def executor(self) -> Any:
        return self.app.runtime(self.platform.env).executor

    @property
    def store(self) -> Any:
        return self.executor.store

    @property
    def streams(self) -> Any:
        return self.executor.streams

    @property
    def db(self) -> Any:
        return self.store.db

    @property
    def registry(self) -> AgentRegistry:
        return self.executor.registry  # type: ignore[no-any-return]


@pytest.fixture
async def make_host() -> AsyncIterator[Callable[..., Any]]:
    hosts: list[CloudflareHost] = []

    async def make(*agents: Agent, **kwargs: Any) -> CloudflareHost:
        app = CloudflareApp(AgentRegistry(agents), environ={"HELIX_AUTH": "none"})
        host = CloudflareHost(app, FakeCloudflare(app))
        hosts.append(host)
        await app.runtime(host.platform.env).ensure_schema()
        return host

    yield make
    for host in hosts:
        await host.platform.close()
