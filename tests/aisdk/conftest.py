from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import page  # noqa: F401  (headless Chromium, as tests/browser)

from .harness import PAIRS, NodeDriver, Server, build_page, missing, start_server


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The useChat page bundled for each SDK pair (esbuild, at test time)."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("aisdk-pages")
    return {version: build_page(version, root / f"v{version}") for version in PAIRS}


@pytest.fixture(params=sorted(PAIRS), ids=[f"ai{v}" for v in sorted(PAIRS)])
def version(request: pytest.FixtureRequest) -> int:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    value: int = request.param
    return value


@pytest.fixture
async def make_server(
    tmp_path: Path, version: int, pages: dict[int, Path]
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_server(*agents)``: the API for SDK ``version`` and its page, stopped at
    the end of the test."""
    servers: list[Server] = []

    async def make(*agents: Any) -> Server:
        server = await start_server(tmp_path / f"host{len(servers)}", version, pages, *agents)
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def node(version: int) -> AsyncIterator[NodeDriver]:
    driver = await NodeDriver(version).start()
    try:
        yield driver
    finally:
        await driver.stop()
