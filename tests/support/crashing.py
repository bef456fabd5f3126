"""Kill a host process at random moments, again and again, then let it finish: the harness
of the crash tests (tests/crash, tests/hitl, tests/subagents).

The host is a module run as ``python -m MODULE DATA RUNS`` that starts its runs if they are
not started yet, lets the local host finish them (resuming whatever a killed predecessor
left), prints ``ALL DONE <statuses>`` and exits 0.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helix_agents.messages import Message, message_adapter

ROOT = Path(__file__).resolve().parents[2]


def start(
    module: str, data: Path, runs: int, *, extra: Sequence[str] = ()
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, str(data), str(runs), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_at_random(
    module: str,
    data: Path,
    runs: int,
    *,
    seed: int,
    attempts: int,
    window: tuple[float, float],
) -> int:
    """Start the host and SIGKILL it after a random delay in ``window`` seconds, up to
    ``attempts`` times (fewer if it finishes first). Returns how many kills landed.
    ``HELIX_CRASH_SEED`` overrides ``seed`` to explore other moments."""
    rng = random.Random(int(os.environ.get("HELIX_CRASH_SEED", str(seed))))
    kills = 0
    for _ in range(attempts):
        proc = start(module, data, runs)
        time.sleep(rng.uniform(*window))
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0, err[-3000:]
            if "ALL DONE" in out:
                break
            continue
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    return kills


def run_to_end(
    module: str, data: Path, runs: int, *, timeout: float = 240, extra: Sequence[str] = ()
) -> str:
    """Start the host once more and let it finish; its standard output."""
    proc = start(module, data, runs, extra=extra)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    assert "ALL DONE" in out, (out, err[-3000:])
    return out


def kill_then_finish(
    module: str, data: Path, runs: int, *, kills_at_least: int, **moments: Any
) -> int:
    """:func:`kill_at_random` (``moments``: its seed, attempts and window), then
    :func:`run_to_end`, which must find every run completed; the kills that landed (at least
    ``kills_at_least``)."""
    kills = kill_at_random(module, data, runs, **moments)
    out = run_to_end(module, data, runs)
    assert "ALL DONE completed" in out, out
    assert kills >= kills_at_least, f"the test should have killed the host: {kills} kills"
    return kills


def stored_messages(db: sqlite3.Connection, session_id: str) -> list[Message]:
    """The session's stored messages in order, after checking that their sequences are
    dense: no gap, no duplicate (UNIQUE would refuse one, but the shape is checked too)."""
    rows = db.execute(
        "SELECT sequence, message FROM __agents_messages WHERE session_id = ? ORDER BY sequence",
        [session_id],
    ).fetchall()
    sequences = [row[0] for row in rows]
    assert sequences == list(range(len(sequences))), (session_id, sequences)
    return [message_adapter.validate_json(row[1]) for row in rows]
