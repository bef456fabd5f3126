"""The real Worker is closed by default: with neither ``HELIX_API_TOKEN`` nor
``HELIX_AUTH=none`` in its env, every API request gets a 503 naming both settings (the
WebSocket an error frame and close 4503); ``/health`` stays open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from helix_agents.workerd import LocalWorker
from helix_agents.workerd.launch import local_worker
from tests.cloudflare.test_fail_closed import ROUTES, assert_refused

from .harness import APP, WorkerPool

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


@pytest.fixture
def closed_worker(worker_pool: WorkerPool, tmp_path: Path) -> Iterator[LocalWorker]:
    """The suites' app (``HELIX_TEST_CONFIG`` unset: no agents) on a Worker whose env has
    no token and no opt-out: the harness's own Workers all opt out."""
    worker = local_worker(
        app=APP, state_dir=tmp_path / "closed", environ={}, open_without_token=False
    )
    dev_vars = (
        (worker.site / ".dev.vars").read_text() if (worker.site / ".dev.vars").exists() else ""
    )
    assert "HELIX_AUTH" not in dev_vars
    assert "HELIX_API_TOKEN" not in dev_vars
    worker.start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.kill()


async def test_a_worker_without_token_or_opt_out_refuses_everything(
    closed_worker: LocalWorker,
) -> None:
    url = closed_worker.url
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        health = await client.get("/health")
        assert health.status_code == 200, health.text
        for method, path in ROUTES:
            body = {"message": "hi", "sessionId": "s1"} if path == "/chat" else None
            assert_refused(await client.request(method, path, json=body))
        assert_refused(await client.get("/agents", headers={"authorization": "Bearer x"}))
        async with connect(url.replace("http", "ws", 1) + "/chat/s1/ws") as ws:
            frame = json.loads(await ws.recv())
            await ws.wait_closed()
        assert frame["error"]["code"] == "auth_not_configured"
        assert ws.close_code == 4503
    log = closed_worker.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]  # refused, not failed
