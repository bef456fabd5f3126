"""Schedules on the real Python Worker (local workerd, offline): made over HTTP, fired by
the agent Workflow's durable sleep, once per due time, also when the whole Worker is
SIGKILLed around a due time and started again on the same persisted state.

After the restart the test wakes what the kill interrupted, as ``test_crash_real.py`` does
(see :class:`.crashing.CrashingWorker`): the local Workflows engine leaves interrupted
instances until paused and resumed, where production's resumes them by itself.

Checked over HTTP (the schedule's firings, the session's snapshot) and in the Worker's D1
once it is stopped (one firing row per due time, one run per firing, one user message
carrying the firing's id).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from helix_agents.workerd import AppSpec
from helix_agents.workerd.launch import local_worker

from .crashing import CrashingWorker, Recorder, d1_database
from .harness import ROOT, WorkerPool

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(600)]

#: A Worker of its own: the schedule agents and a cron job declared in code.
SCHEDULE_APP = AppSpec("tests.worker_real.schedule_app:app", ROOT, with_testing=True)


@pytest.fixture
def recorder() -> Any:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
async def worker(tmp_path: Path, recorder: Recorder, worker_pool: WorkerPool) -> Any:
    made = CrashingWorker(tmp_path / "w", recorder, ["echo"])
    yield made
    made.worker.kill()


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    res = await client.post("/schedules", json={"agent": "echo", **body})
    assert res.status_code == 201, res.text
    return dict(res.json())


async def fired(
    client: httpx.AsyncClient, schedule_id: str, timeout: float = 120
) -> dict[str, Any]:
    """The schedule's firing once it started its run, and that run once it ended."""
    deadline = time.monotonic() + timeout
    while True:
        detail = (await client.get(f"/schedules/{schedule_id}")).json()
        firings = [f for f in detail["firings"] if f["status"] != "claimed"]
        if firings:
            break
        assert time.monotonic() < deadline, detail
        await asyncio.sleep(0.2)
    firing = firings[0]
    assert firing["status"] == "started", firing
    while (await client.get(f"/chat/{firing['sessionId']}")).json()["status"] == "active":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    return dict(firing)


def verify_once(state_dir: Path, schedules: list[dict[str, Any]]) -> None:
    db = d1_database(state_dir)
    try:
        for schedule in schedules:
            sid, due = schedule["scheduleId"], schedule["nextDueMs"]
            rows = db.execute(
                "SELECT * FROM __helix_schedule_firings WHERE schedule_id = ?", [sid]
            ).fetchall()
            assert [(r["due_ms"], r["status"]) for r in rows] == [(due, "started")], sid
            assert rows[0]["fired_at"] >= due
            session = rows[0]["session_id"]
            runs = db.execute(
                "SELECT run_id, status FROM __agents_runs WHERE session_id = ?", [session]
            ).fetchall()
            assert [(r["run_id"], r["status"]) for r in runs] == [(rows[0]["run_id"], "completed")]
            users = db.execute(
                "SELECT count(*) FROM __agents_messages WHERE session_id = ? AND "
                "json_extract(message, '$.role') = 'user' AND json_extract(message, '$.id') = ?",
                [session, f"schedule:{sid}:{due}"],
            ).fetchone()[0]
            assert users == 1
    finally:
        db.close()


async def test_a_schedule_made_over_http_fires_once_on_time(worker: CrashingWorker) -> None:
    await worker.start()
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        schedule = await make(client, message="ping", delaySeconds=3)
        due = schedule["nextDueMs"]
        firing = await fired(client, schedule["scheduleId"])
        assert firing["dueMs"] == due
        lateness = firing["firedAt"] - due
        assert 0 <= lateness < 5_000, lateness  # on time (a loaded machine: a few seconds)
        snapshot = (await client.get(f"/chat/{firing['sessionId']}")).json()
        assert snapshot["status"] == "completed"
        detail = (await client.get(f"/schedules/{schedule['scheduleId']}")).json()
        assert detail["schedule"]["status"] == "done"
        assert len(detail["firings"]) == 1
        cancelled = await make(client, message="never", delaySeconds=4)
        res = await client.delete(f"/schedules/{cancelled['scheduleId']}")
        assert res.json()["status"] == "cancelled"
        await asyncio.sleep(6)
        detail = (await client.get(f"/schedules/{cancelled['scheduleId']}")).json()
        assert detail["firings"] == []
    await worker.stop()
    verify_once(worker.state_dir, [schedule])


async def test_a_killed_worker_fires_each_due_time_once(worker: CrashingWorker) -> None:
    await worker.start()
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        around = await make(client, message="around the kill", delaySeconds=2)
        during = await make(client, message="while down", delaySeconds=5)
    # Killed around the first due time: before, while or just after it fires. The second
    # comes due while the Worker is down.
    await asyncio.sleep(max(0.0, (around["nextDueMs"] - time.time() * 1000) / 1000) + 0.1)
    await worker.kill()
    await asyncio.sleep(max(0.0, (during["nextDueMs"] - time.time() * 1000) / 1000) + 0.5)
    # As in test_crash_real.py: the local Workflows engine leaves the instances a kill
    # interrupted (a sleeping firing among them) until they are paused and resumed, which
    # start() does through the explorer API (production's engine resumes them by itself),
    # and it fires the cron trigger (the sweep) once.
    await worker.start()
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        for schedule in (around, during):
            firing = await fired(client, schedule["scheduleId"])
            assert firing["firedAt"] >= schedule["nextDueMs"]
        await asyncio.sleep(3)  # a second firing would have had time to happen
    await worker.stop()
    verify_once(worker.state_dir, [around, during])


async def test_declared_jobs_and_followups_on_the_worker(
    tmp_path: Path, worker_pool: WorkerPool
) -> None:
    worker = local_worker(
        app=SCHEDULE_APP,
        state_dir=tmp_path / "s",
        environ={},
        extra_vars={"HELIX_AUTH": "none"},
        open_without_token=False,
    )
    await asyncio.to_thread(worker.start)
    try:
        await asyncio.to_thread(worker.wait_ready)
        async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
            # The job declared in code exists from the first request on.
            listed = (await client.get("/schedules")).json()["schedules"]
            assert [(s["scheduleId"], s["kind"], s["cron"]) for s in listed] == [
                ("cron-minutely", "cron", "* * * * *")
            ]
            # An agent schedules its own follow-up with its tool: one second later, the
            # follow-up's message arrives in the same session and the agent answers it.
            async with client.stream(
                "POST",
                "/chat",
                json={"agentType": "reminder", "message": "remind me", "sessionId": "r1"},
            ) as res:
                assert res.status_code == 200
                await res.aread()
            deadline = time.monotonic() + 120
            while True:
                snap = (await client.get("/chat/r1")).json()
                texts = [
                    p.get("text")
                    for m in snap["messages"]
                    for p in m["parts"]
                    if p.get("type") == "text"
                ]
                if snap["status"] == "completed" and "got: time to check" in texts:
                    break
                assert time.monotonic() < deadline, snap
                await asyncio.sleep(0.3)
            users = [m for m in snap["messages"] if m["role"] == "user"]
            assert len(users) == 2
            listed = (await client.get("/schedules")).json()["schedules"]
            assert len(listed) == 2  # the job and the follow-up
            # The declared job fires at the next minute, once.
            firing = await fired(client, "cron-minutely", timeout=150)
            assert firing["dueMs"] % 60_000 == 0
            assert firing["firedAt"] >= firing["dueMs"]
    finally:
        await asyncio.to_thread(worker.kill)
