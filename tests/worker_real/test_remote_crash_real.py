"""A remote sub-agent survives a SIGKILL of the real Worker that runs its parent: the
Worker's ``remote_boss`` follows the ``researcher`` of a local host (a real socket, in this
test's process) when the whole workerd process group is killed. Started again on the same
state, the Workflow instance replays the delegation step, which asks the remote for the
child's status and follows it on: the remote turn is never started a second time, and the
parent completes with the remote's output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helix_agents import Agent
from helix_agents.testing import FunctionModel
from helix_agents.workerd.launch import local_worker
from tests.http.harness import start_server
from tests.support.crashing import stored_messages
from tests.worker_real.app import CONFIG_VAR, RELAY_VAR
from tests.worker_real.remote_agents import REMOTE_BOSS, REMOTE_VAR

from .crashing import BROKEN, CrashingWorker, Recorder, d1_database
from .harness import APP, WorkerPool

pytestmark = [pytest.mark.worker_real, pytest.mark.crash, pytest.mark.timeout(600)]


@pytest.fixture
def recorder(worker_pool: WorkerPool) -> Iterator[Recorder]:
    # worker_pool: the Node tooling is there (else the tier skips); the pool stays unused.
    recorder = Recorder()
    yield recorder
    recorder.close()


def researcher(gate: asyncio.Event) -> Agent:
    async def stream(messages: list[Any], info: Any) -> Any:
        yield "reading "
        await gate.wait()
        yield f"found: {info.last_user_message}"

    return Agent(name="researcher", model=FunctionModel(stream_function=stream))


def remote_runs(db_path: Path, child: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(
            "SELECT run_id, status FROM __agents_runs WHERE session_id = ? ORDER BY run_id",
            [child],
        ).fetchall()
    finally:
        db.close()


def _active(db_path: Path, parent: str) -> str | None:
    if not db_path.exists():
        return None
    db = sqlite3.connect(db_path)
    try:
        row = db.execute(
            "SELECT session_id FROM __agents_runs WHERE session_id LIKE ? AND status = 'active'",
            [f"{parent}-remote-%"],
        ).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


async def _active_child(db_path: Path, parent: str) -> str:
    for _ in range(1200):
        child = _active(db_path, parent)
        if child is not None:
            return child
        await asyncio.sleep(0.05)
    raise AssertionError("the remote child never ran")


async def _post(url: str, body: dict[str, Any]) -> None:
    """Start the parent's turn; the stream breaks when the Worker is killed."""
    with contextlib.suppress(*BROKEN):
        async with (
            httpx.AsyncClient(base_url=url, timeout=120) as client,
            client.stream("POST", "/chat", json=body) as response,
        ):
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                pass


async def test_the_worker_killed_while_it_follows_the_remote(
    tmp_path: Path, recorder: Recorder
) -> None:
    gate = asyncio.Event()
    remote = await start_server(tmp_path / "remote", researcher(gate))
    remote_db = tmp_path / "remote" / "state.db"
    worker = CrashingWorker(tmp_path / "w", recorder, [REMOTE_BOSS])
    config = json.dumps({"agents": [REMOTE_BOSS], "http": {}}, sort_keys=True)
    worker.worker = local_worker(
        app=APP,
        state_dir=worker.state_dir,
        environ={},
        extra_vars={
            RELAY_VAR: recorder.base,
            CONFIG_VAR: config,
            "HELIX_AUTH": "none",
            REMOTE_VAR: remote.url,
        },
        open_without_token=False,
    )
    try:
        await worker.start(wake=False)
        body = {"agentType": REMOTE_BOSS, "message": "otters", "sessionId": "wk1"}
        posting = asyncio.ensure_future(_post(worker.url, body))
        child = await _active_child(remote_db, "wk1")
        await asyncio.sleep(0.5)  # the step follows the remote stream now
        await worker.kill()
        await posting
        await worker.start()  # wakes the instance: the delegation step replays
        await asyncio.sleep(1.0)
        gate.set()
        async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
            for _ in range(600):
                snapshot = (await client.get("/chat/wk1")).json()
                if snapshot["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
        assert snapshot["status"] == "completed", snapshot
        assert snapshot["output"] == "report: success=reading found: otters"
        # The remote turn ran once: one run, one user message, however the step replayed.
        assert remote_runs(remote_db, child) == [(f"{child}--t1", "completed")]
        remote_store = sqlite3.connect(remote_db)
        try:
            kinds = [type(m).__name__ for m in stored_messages(remote_store, child)]
        finally:
            remote_store.close()
        assert kinds == ["UserMessage", "AssistantMessage"]
        await worker.stop()
        d1 = d1_database(worker.state_dir)
        refs = d1.execute(
            "SELECT sub_session_id, status, remote_json FROM __agents_sub_session_refs "
            "WHERE session_id = 'wk1'"
        ).fetchall()
        d1.close()
        assert [(r["sub_session_id"], r["status"]) for r in refs] == [(child, "completed")]
        assert json.loads(refs[0]["remote_json"])["url"] == remote.url
    finally:
        worker.worker.kill()
        await remote.stop()
