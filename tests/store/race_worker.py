"""One contender of the multi-process race in ``test_processes.py``.

``python -m tests.store.race_worker DB SESSION RUN_ID GO_FILE``: opens the SQLite file, waits
for ``GO_FILE`` to appear (so every process starts together), tries to start its run, and
prints ``won`` or ``conflict``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import ConflictError
from helix_agents.messages import UserMessage
from helix_agents.store import StateStore


def wait_for(go: Path) -> bool:
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


async def contend(db: SQLiteDatabase, session_id: str, run_id: str) -> str:
    store = StateStore(db)
    try:
        await store.start_run(session_id, run_id, 1, messages=[(0, UserMessage(content=run_id))])
    except ConflictError:
        return "conflict"
    return "won"


def main(path: str, session_id: str, run_id: str, go: str) -> str:
    db = SQLiteDatabase(path)  # opened before the signal: only the race itself is raced
    try:
        if not wait_for(Path(go)):
            return "timeout"
        return asyncio.run(contend(db, session_id, run_id))
    finally:
        asyncio.run(db.close())


if __name__ == "__main__":
    print(main(*sys.argv[1:5]))
