"""Sub-agents survive SIGKILL: kill the host while parents wait on their children, restart
it, and check that every parent and child finished, that no child was started twice, that
every wait was kept, and that no tool ran again after its result was saved."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from helix_agents.messages import AssistantMessage, ToolResultMessage
from tests.support.crashing import kill_at_random, run_to_end, stored_messages

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

RUNS = 5


def test_sigkill_while_parents_wait_on_children(tmp_path: Path) -> None:
    data = tmp_path / "crash"
    module = "tests.subagents.crash_host"
    kills = kill_at_random(module, data, RUNS, seed=20261123, attempts=12, window=(0.3, 1.2))
    run_to_end(module, data, RUNS)
    assert kills >= 3, "the test should have killed the host several times"
    _verify(data)


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
        messages = stored_messages(db, parent)
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
            child_messages = stored_messages(db, child)
            results = [m for m in child_messages if isinstance(m, ToolResultMessage)]
            assert len(results) == 3
            for result in results:
                key = f"{child}/{result.tool_call_id}"
                _, _, persisted = str(result.content).partition("#")
                # The saved result came from the LAST execution of the call.
                assert int(persisted) == executions[key], (key, persisted, executions[key])
    assert len(executions) == RUNS * 3 * 3
