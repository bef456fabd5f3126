"""The probe tier: the Workflows and Durable Object fakes held to the real engine.

One probe Worker (:mod:`.probe`) runs in local workerd for the whole session (started on
first use, ~5 s); each test runs its scenario there and on a fresh set of fakes in-process,
and compares the two (:mod:`.drivers`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from helix_agents.workerd import LocalWorker
from helix_agents.workerd.tooling import CACHE_ENV, NODE_MODULES_ENV, Tooling

from .drivers import FakeDriver, RealDriver
from .real import probe_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def probe_local_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorker]:
    defaults = {NODE_MODULES_ENV: ROOT / "node_modules", CACHE_ENV: ROOT / ".cache" / "helix"}
    added = [name for name in defaults if not os.environ.get(name)]
    for name in added:
        os.environ[name] = str(defaults[name])
    worker: LocalWorker | None = None
    try:
        missing = Tooling(Path(os.environ[NODE_MODULES_ENV]).resolve()).missing()
        if missing:
            pytest.skip(
                f"the Node tooling is not installed ({', '.join(missing)}): "
                "`make install-worker` installs it"
            )
        worker = probe_worker(tmp_path_factory.mktemp("probe"))
        worker.start()
        try:
            worker.wait_ready()
        except Exception:
            worker.kill()
            raise
        yield worker
    finally:
        if worker is not None:
            worker.kill()
        for name in added:
            os.environ.pop(name, None)


@pytest.fixture
async def real(probe_local_worker: LocalWorker) -> AsyncIterator[RealDriver]:
    driver = RealDriver(probe_local_worker)
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDriver]:
    driver = FakeDriver()
    try:
        yield driver
    finally:
        await driver.close()
