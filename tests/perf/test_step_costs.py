"""What a durable agent step costs the local host's SQLite files, pinned (counts, not time).

``benchmarks/step_costs.py`` counts, per agent step (a model step and a tool step), the
statements, write transactions and bytes of the write-ahead log of each file; docs/
benchmarks.md has the figures, before and after. These bounds keep what was gained: a probe
of the stream answered from memory, an append as one ``UPDATE ... RETURNING`` and one
``INSERT``, one file for the store, the stream log and the journal, a step's claim and
chunks held for its own write (one commit per step), a step's journal row carrying the
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
    # One file: the store, the stream log and the engine's journal share state.db.
    assert set(per_step) == {"state.db", "all"}
    state = per_step["state.db"]
    # One commit per step: a step's claim (with the previous step's result) and its chunks
    # are held until the step's own write to the store, which writes them first.
    assert state["transactions"] == 2
    # Model step: the store's one read, then one statement: the journal's upsert, the
    # stream's guard, move and INSERT and the store's write run inside the trigger of one
    # INSERT (db/packing.py); the tool step the same without the read. (A PRAGMA
    # data_version, held off here, notices other processes' writes now and then.)
    assert state["statements"] == 3
    # Bytes appended to the write-ahead log (three files, 4 KiB pages and two journal
    # writes per step: about 155 KiB; three files of 1 KiB pages: 38 to 51 KiB).
    assert state["bytes"] <= 56 * 1024  # 40 to 48 KiB: page splits vary
