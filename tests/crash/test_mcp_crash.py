"""Durability with an MCP server's tool: SIGKILL the host at random moments (its stdio MCP
server loses its client with it), restart it, check every run. The same claims as
test_crash.py: every run finishes; no tool call whose result was saved ever runs again;
each call's effect, keyed by the call, is applied."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from helix_agents.messages import AssistantMessage, ToolResultMessage
from tests.crash.mcp_host import STEPS
from tests.support.crashing import kill_then_finish, stored_messages

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

RUNS = 4


def test_sigkill_with_an_mcp_tool_in_flight(tmp_path: Path) -> None:
    data = tmp_path / "crash"
    # The host starts in about a second, its server process in under one more, and then a
    # run's eight steps take 0.4 s each: kills in this window land in and between calls, and
    # each moves the runs on by 1.5 s at most, so the first two always land.
    kills = kill_then_finish(
        "tests.crash.mcp_host",
        data,
        RUNS,
        seed=20261203,
        attempts=8,
        window=(1.0, 3.0),
        kills_at_least=2,
    )
    executions = Counter(
        line.split()[1] for line in (data / "effects.log").read_text().splitlines()
    )
    db = sqlite3.connect(data / "host" / "state.db")
    labels = [label for step in STEPS for label in step]
    for i in range(RUNS):
        messages = stored_messages(db, f"mcp-{i}")
        calls = [c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
        results = {m.tool_call_id: m for m in messages if isinstance(m, ToolResultMessage)}
        assert [c.arguments["label"] for c in calls] == labels, f"mcp-{i}"
        assert sorted(results) == sorted(c.id for c in calls)
        for call in calls:
            result = results[call.id]
            assert result.status == "success", result
            text = str(result.content)
            label, _, persisted = text.partition("#")
            assert label.endswith(call.arguments["label"]), text
            # The saved result came from the last execution: nothing ran after it was saved.
            key = call.arguments["key"]
            assert int(persisted.strip("'\"}")) == executions[key], (key, text, executions[key])
        final = messages[-1]
        assert isinstance(final, AssistantMessage)
        assert final.content.startswith("recorded: ")
    # Every call's effect was applied: at least once; repeats only for calls in flight.
    assert len(executions) == RUNS * len(labels)
    print(f"{kills} kills, {sum(executions.values()) - len(executions)} calls run again")
