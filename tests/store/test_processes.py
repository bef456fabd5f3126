"""The single-writer guard across OS processes sharing one SQLite file (the local host, a
``helix`` command and a test can all open it)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.store import StateStore, migrate
from tests.store._helpers import new_session

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = 6


async def contender(path: Path, run_id: str, go: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.race_worker",
        str(path),
        "race",
        run_id,
        str(go),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_processes_racing_to_start_a_run_leave_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    db = SQLiteDatabase(path)
    try:
        await migrate(db)
        store = StateStore(db)
        await store.create_session(new_session("race"))
        go = tmp_path / "go"
        processes = [await contender(path, f"race--t{n}", go) for n in range(1, CONTENDERS + 1)]
        go.touch()
        outcomes = []
        for process in processes:
            out, err = await asyncio.wait_for(process.communicate(), timeout=120)
            assert process.returncode == 0, err.decode()
            outcomes.append(out.decode().strip())
        assert sorted(outcomes) == ["conflict"] * (CONTENDERS - 1) + ["won"]
        runs = await store.list_runs("race")
        assert len(runs) == 1
        winner = runs[0].run_id
        assert outcomes[int(winner.rsplit("t", 1)[1]) - 1] == "won"
        messages = [message for _, message in await store.load_messages("race")]
        assert messages == [messages[0]]
        assert messages[0].model_dump()["content"] == winner
    finally:
        await db.close()
