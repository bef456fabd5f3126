"""Long sessions on the real Python Worker (local workerd, offline): the scenario of
tests/history/test_windowed_http.py over the Worker's HTTP API, on D1 and the agent
Workflow: a windowed agent's model steps read only their window (the step's one read with
its window query, on D1), its call ids stay unique, and the history, the snapshot and the
runs are read a page at a time."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.history.windowed import scenario, windowed_agent
from tests.worker_real.app import mount_path

from .harness import WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


async def test_a_windowed_long_session_on_the_real_worker(worker_pool: WorkerPool) -> None:
    config, _ = config_of((windowed_agent(),), {})
    real = worker_pool.get(root_env(config), "test_long_sessions_real")
    since = real.log_length()
    async with httpx.AsyncClient(base_url=real.url + mount_path(config.app), timeout=60) as http:
        await scenario(http, prefix=f"l{uuid.uuid4().hex[:8]}-")
    assert real.error_lines(since) == []
