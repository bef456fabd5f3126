"""Sub-agents survive SIGKILL: kill the host while parents wait on their children, restart
it, and check that every parent and child finished, that no child was started twice, that
every wait was kept, and that no tool ran again after its result was saved."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from helix_agents.messages import AssistantMessage, ToolResultMessage, message_adapter

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
RUNS = 5


def _start(data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.subagents.crash_host", str(data), str(RUNS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_while_parents_wait_on_children(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("HELIX_CRASH_SEED", "20261123")))
    data = tmp_path / "crash"
    kills = 0
    for _ in range(12):
        proc = _start(data)
        time.sleep(rng.uniform(0.3, 1.2))
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0, err[-3000:]
            if "ALL DONE" in out:
                break
            continue
        _kill(proc)
        kills += 1
    proc = _start(data)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert "ALL DONE" in out, (out, err[-3000:])
    assert kills >= 3
    _verify(data)


def _messages(db: sqlite3.Connection, session_id: str) -> list[object]:
    rows = db.execute(
        "SELECT sequence, message FROM __agents_messages WHERE session_id = ? ORDER BY sequence",
        [session_id],
    ).fetchall()
    sequences = [r[0] for r in rows]
    assert sequences == list(range(len(sequences))), (session_id, sequences)
    return [message_adapter.validate_json(r[1]) for r in rows]


def _verify(data: Path) -> None:
    db = sqlite3.connect(data / "host" / "state.db")
    executions = Counter(
        line.split()[1] for line in (data / "effects.log").read_text().splitlines()
    )
    for i in range(RUNS):
        parent = f"lead-{i}"
        children = db.execute(
            "SELECT sub_session_id, status FROM __agents_sub_session_refs WHERE session_id = ?",
            [parent],
        ).fetchall()
        # One child per delegating call, however often the starting step re-ran.
        assert len(children) == 3, (parent, children)
        assert {status for _, status in children} == {"completed"}
        messages = _messages(db, parent)
        assert [type(m).__name__ for m in messages] == [
            "UserMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "ToolResultMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "AssistantMessage",
        ]
        final = messages[-1]
        assert isinstance(final, AssistantMessage)
        assert final.content.startswith("lead: worker: x-0#")
        for child, _ in children:
            state = db.execute(
                "SELECT status FROM __agents_states WHERE session_id = ?", [child]
            ).fetchone()
            assert state[0] == "completed"
            child_messages = _messages(db, child)
            results = [m for m in child_messages if isinstance(m, ToolResultMessage)]
            assert len(results) == 3
            for result in results:
                key = f"{child}/{result.tool_call_id}"
                _, _, persisted = str(result.content).partition("#")
                # The saved result came from the LAST execution of the call.
                assert int(persisted) == executions[key], (key, persisted, executions[key])
    assert len(executions) == RUNS * 3 * 3
