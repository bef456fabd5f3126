"""Typed state and checkpoints on the real Python Worker (local workerd, offline): the
scenario of tests/state/test_state_http.py over the Worker's HTTP API, on D1 (the
checkpoints' trigger of migration 0004) and the agent Workflow: tools update the typed
state with their steps, a human edits it between runs, a session is rewound and forked,
and both continue as new Workflow runs."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.state.notes import notes_agent, scenario
from tests.worker_real.app import mount_path

from .harness import WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


async def test_state_checkpoints_rewind_fork_on_the_real_worker(worker_pool: WorkerPool) -> None:
    config, _ = config_of((notes_agent(),), {})
    real = worker_pool.get(root_env(config), "test_branches_real")
    since = real.log_length()
    async with httpx.AsyncClient(base_url=real.url + mount_path(config.app), timeout=60) as http:
        await scenario(http, prefix=f"b{uuid.uuid4().hex[:8]}-")
    assert real.error_lines(since) == []
