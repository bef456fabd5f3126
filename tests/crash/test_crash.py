"""Durability: SIGKILL the host process at random moments, restart it, check every run.

The claims under test (docs/loop.md): after any number of kills and restarts every run
finishes; no message is lost or duplicated; no tool call whose result was saved ever runs
again; and each tool call's effect is applied (keyed by its call id) exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from helix_agents import Agent
from helix_agents.hosts.local import LocalHost
from helix_agents.http.snapshot import build_snapshot
from helix_agents.messages import AssistantMessage, ToolResultMessage, UserMessage
from helix_agents.streaming.ui import event_id
from helix_agents.testing import FunctionModel
from tests.support.crashing import kill_at_random, run_to_end, stored_messages
from tests.support.ui_message import UIMessageAssembler

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

RUNS = 8


def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    data = tmp_path / "crash"
    module = "tests.crash.crash_host"
    kills = kill_at_random(module, data, RUNS, seed=20261121, attempts=12, window=(0.25, 1.2))
    out = run_to_end(module, data, RUNS)
    assert "ALL DONE completed" in out, out
    assert kills >= 3, "the test should have killed the host several times"
    _verify(data)
    asyncio.run(_verify_streams(data))


def _verify(data: Path) -> None:
    db = sqlite3.connect(data / "host" / "state.db")
    db.row_factory = sqlite3.Row
    log_lines = (data / "effects.log").read_text().splitlines()
    executions = Counter(line.split()[1] for line in log_lines)

    for i in range(RUNS):
        session_id = f"crash-{i}"
        state = db.execute(
            "SELECT status FROM __agents_states WHERE session_id = ?", [session_id]
        ).fetchone()
        assert state["status"] == "completed", session_id
        messages = stored_messages(db, session_id)
        kinds = [type(m).__name__ for m in messages]
        assert kinds == [
            "UserMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "ToolResultMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "ToolResultMessage",
            "AssistantMessage",
        ], (session_id, kinds)
        assert isinstance(messages[0], UserMessage)
        assert messages[0].content == f"job {i}"
        calls = [c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
        results = {m.tool_call_id: m for m in messages if isinstance(m, ToolResultMessage)}
        assert sorted(results) == sorted(c.id for c in calls)
        for call in calls:
            result = results[call.id]
            assert result.status == "success"
            label, _, persisted = str(result.content).partition("#")
            assert label == call.arguments["label"]
            # The saved result came from the LAST execution: nothing ran after it was saved.
            key = f"{session_id}/{call.id}"
            assert int(persisted) == executions[key], (key, persisted, executions[key])
        final = messages[-1]
        assert isinstance(final, AssistantMessage)
        assert final.content.startswith("working on it in step 5 finished: a#")
        # The stream of the run ends once, with the completed status.
        streams = sqlite3.connect(data / "host" / "state.db")
        ends = streams.execute(
            "SELECT count(*) FROM __helix_stream_chunks WHERE stream_id = ? AND kind = 'run-end'",
            [f"{session_id}--t1"],
        ).fetchone()[0]
        assert ends == 1
    # Each call's effect, keyed by its id, was applied: at least once, and the in-flight
    # re-executions (killed mid-tool, before the result was saved) are the only repeats.
    assert len(executions) == RUNS * 5


async def _verify_streams(data: Path) -> None:
    """The kills left resets in the streams (a model step killed while it streamed runs
    again as a new attempt): a reader replaying a run from its start, or coming back with
    the id of any event of that replay, still rebuilds the stored message, every tool
    output included."""
    # Every run is over: the host only reads (the agent is there for its name).
    agent = Agent(name="worker", model=FunctionModel(lambda messages, info: "unused"))
    async with LocalHost([agent], data / "host", sweep_interval=None) as host:
        for i in range(RUNS):
            state = await host.store.load_session(f"crash-{i}")
            assert state is not None
            stored = (await build_snapshot(host.executor, state))["messages"][-1]
            outputs = [p for p in stored["parts"] if p["type"] == "tool-record"]
            assert [p["state"] for p in outputs] == ["output-available"] * 5, stored
            chunks = (await host.streams.read(f"crash-{i}--t1", after=0, limit=10_000)).chunks
            replay = UIMessageAssembler()
            trace = []
            for item in chunks:
                ui = replay.encoder.encode(item)
                if ui is not None:
                    replay.apply(ui)
                    trace.append((event_id(item), ui))
            assert replay.message == stored, f"crash-{i}"
            for n, (cursor, _) in enumerate(trace):
                reader = UIMessageAssembler(after=cursor)
                for _, ui in trace[: n + 1]:
                    reader.apply(ui)
                reader.feed([item for item in chunks if item.seq > cursor])
                assert reader.message == stored, (f"crash-{i}", cursor)
