"""Schedules made over HTTP fire once per due time when the host is SIGKILLed around the
due times (the process serving HTTP, killed and restarted by the test), and when it dies at
the two exact moments that matter: after a due time is claimed, and after its run is
recorded but before the run's instance exists."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.crashing import ROOT

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]


def start(data: Path, crash_at: str = "") -> subprocess.Popen[str]:
    (data / "port").unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash.schedule_host", str(data), crash_at],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def url_of(data: Path, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while not (data / "port").exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return f"http://127.0.0.1:{(data / 'port').read_text()}"


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def make(url: str, body: dict[str, Any]) -> dict[str, Any]:
    res = httpx.post(f"{url}/schedules", json=body, timeout=30)
    assert res.status_code == 201, res.text
    return dict(res.json())


def settled(data: Path, expected: int) -> bool:
    db = sqlite3.connect(data / "host" / "state.db")
    try:
        firings = db.execute(
            "SELECT count(*) FROM __helix_schedule_firings WHERE status = 'started'"
        ).fetchone()[0]
        active = db.execute(
            "SELECT count(*) FROM __agents_runs WHERE status = 'active'"
        ).fetchone()[0]
        return bool(firings >= expected and active == 0)
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def run_until_settled(data: Path, expected: int, timeout: float = 90) -> None:
    proc = start(data)
    try:
        url_of(data, proc)
        deadline = time.monotonic() + timeout
        while not settled(data, expected):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the schedules did not all fire"
            time.sleep(0.1)
        time.sleep(1.0)  # anything that would fire twice has had time to
    finally:
        kill(proc)


def verify(data: Path, schedules: list[dict[str, Any]]) -> None:
    db = sqlite3.connect(data / "host" / "state.db")
    db.row_factory = sqlite3.Row
    turns = Counter(
        line.split()[1] for line in (data / "effects.log").read_text().splitlines() if line
    )
    for schedule in schedules:
        sid, due = schedule["scheduleId"], schedule["nextDueMs"]
        firings = db.execute(
            "SELECT * FROM __helix_schedule_firings WHERE schedule_id = ?", [sid]
        ).fetchall()
        assert len(firings) == 1, (sid, [dict(f) for f in firings])
        firing = firings[0]
        assert firing["status"] == "started"
        assert firing["due_ms"] == due
        assert firing["fired_at"] >= due  # never early
        row = db.execute(
            "SELECT status, fire_count FROM __helix_schedules WHERE schedule_id = ?", [sid]
        ).fetchone()
        assert (row["status"], row["fire_count"]) == ("done", 1)
        session = firing["session_id"]
        runs = db.execute(
            "SELECT run_id, status FROM __agents_runs WHERE session_id = ?", [session]
        ).fetchall()
        assert [(r["run_id"], r["status"]) for r in runs] == [(firing["run_id"], "completed")], (
            session
        )
        users = [
            json.loads(r["message"])
            for r in db.execute(
                "SELECT message FROM __agents_messages WHERE session_id = ? ORDER BY sequence",
                [session],
            )
            if json.loads(r["message"])["role"] == "user"
        ]
        assert [u["id"] for u in users] == [f"schedule:{sid}:{due}"]
        # The turn's model ran (a crash may re-run a model step, not the turn): at least once.
        assert turns[f"schedule:{sid}:{due}"] >= 1


def test_sigkill_around_the_due_times(tmp_path: Path) -> None:
    data = tmp_path / "sched"
    data.mkdir()
    rng = random.Random(int(os.environ.get("HELIX_CRASH_SEED", "20261203")))
    proc = start(data)
    url = url_of(data, proc)
    schedules = [
        make(url, {"agent": "echo", "message": f"job {i}", "delaySeconds": 1.5 + 1.2 * i})
        for i in range(8)
    ]
    last_due = max(s["nextDueMs"] for s in schedules)
    kills = 0
    try:
        # Kill the host again and again while the due times pass, at random moments.
        while time.time() * 1000 < last_due + 1500 or kills < 4:
            time.sleep(rng.uniform(0.2, 1.5))
            kill(proc)
            kills += 1
            proc = start(data)
            url_of(data, proc)
    finally:
        kill(proc)
    assert kills >= 4
    run_until_settled(data, len(schedules))
    verify(data, schedules)


@pytest.mark.parametrize("crash_at", ["after-claim", "before-launch"])
def test_a_crash_at_the_firing_neither_skips_nor_duplicates(tmp_path: Path, crash_at: str) -> None:
    data = tmp_path / crash_at
    data.mkdir()
    proc = start(data, crash_at)
    url = url_of(data, proc)
    schedule = make(url, {"agent": "echo", "message": "once", "delaySeconds": 0.5})
    assert proc.wait(timeout=30) == 137  # it died at that exact moment
    assert (data / f"crashed-{crash_at}").exists()
    run_until_settled(data, 1)
    verify(data, [schedule])
