"""What a durable agent step costs the local host's SQLite files, pinned (counts, not time).

``benchmarks/step_costs.py`` counts, per agent step (a model step and a tool step), the
statements, write transactions and bytes of the write-ahead log of each file; docs/
benchmarks.md has the figures, before and after. These bounds keep what was gained: a probe
of the stream answered from memory, an append as one ``UPDATE ... RETURNING`` and one
``INSERT``, a step's chunks held for one commit, a step's journal row carrying the
previous step's result, and 1 KiB pages.
"""

from __future__ import annotations

import asyncio

import pytest
from benchmarks import step_costs

from helix_agents.hosts.local import engine_journal
from helix_agents.hosts.local import streams as local_streams


@pytest.fixture
def per_step(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, float]]:
    # The held results go out with the next step's claim; the timer that writes them when
    # nothing else comes would, on a slow machine, sometimes come first (a statement more).
    monkeypatch.setattr(engine_journal, "HOLD_SECONDS", 5.0)
    monkeypatch.setattr(local_streams, "HOLD_SECONDS", 5.0)  # the same for held chunks
    # The stream manager's check for other processes' commits (a PRAGMA data_version at
    # most every 10 ms of wall time) would count more often the slower the machine runs.
    kwdefaults = local_streams.LocalStreamManager.__init__.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setitem(kwdefaults, "sync_interval", 5.0)
    return asyncio.run(step_costs.measure((4, 24)))


def test_an_agent_step_costs_few_statements_commits_and_bytes(
    per_step: dict[str, dict[str, float]],
) -> None:
    state, streams, engine = per_step["state.db"], per_step["streams.db"], per_step["engine.db"]
    # The store: one read and one write per model step, one write per tool step.
    assert state["statements"] == 3
    assert state["transactions"] == 2
    # The stream: one commit per step (what a step wrote is held until the step's write to
    # the store commits it first), each BEGIN, UPDATE ... RETURNING, INSERT, COMMIT; the
    # tool step's probe costs nothing. (A PRAGMA data_version, held off here, notices other
    # processes' writes now and then.)
    assert streams["transactions"] == 2
    assert streams["statements"] == 8
    # The journal: one statement per step, the claim carrying the previous result.
    assert engine["statements"] == 2
    assert engine["transactions"] == 2
    # Bytes appended to the three write-ahead logs (4 KiB pages and two journal writes per
    # step: about 155 KiB).
    assert per_step["all"]["bytes"] <= 64 * 1024  # 38 to 51 KiB: page splits vary
