"""A data directory of an earlier version (three SQLite files) upgrades in place.

The earlier layout is built with the standalone engine and stream manager, which still
take files of their own: an instance stopped mid-run in ``engine.db`` and a stream with
chunks in ``streams.db``. The host joins both into ``state.db``, resumes the instance from
its journal (the completed step is not run again) and serves the stream's chunks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from helix_agents.chunks import TextDeltaChunk
from helix_agents.hosts.local import LocalHost
from helix_agents.hosts.local.engine import LocalEngine
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.hosts.local.upgrade import join_split_files
from helix_agents.ports.step import Step


async def test_an_earlier_data_directory_is_joined_into_state_db(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ran: list[str] = []

    async def flow(event: dict[str, Any], step: Step) -> Any:
        async def first(ctx: Any) -> str:
            ran.append("first")
            return "one"

        async def second(ctx: Any) -> str:
            ran.append("second")
            return "two"

        return [await step.do("first", first), await step.do("second", second)]

    # The earlier layout: the journal of an instance that completed its first step.
    old = LocalEngine(data / "engine.db")
    old.register("flow", flow)
    await old.workflow("flow").create("i-1", {})  # created, not started
    old.journal.insert_step("i-1", _done_row(), 1)
    old.journal.set_status("i-1", "running", 1)
    await old.close()
    streams = LocalStreamManager(data / "streams.db")
    await streams.create("st-1")
    await streams.write("st-1", [TextDeltaChunk(part_id="t", delta="hello")])
    await streams.close()

    host = LocalHost([], data, sweep_interval=None)
    await host.start()
    try:
        assert not (data / "engine.db").exists()
        assert (data / "engine.db.joined").exists()
        assert (data / "streams.db.joined").exists()
        host.engine.register("flow", flow)
        await host.engine.start()
        status = await host.engine.wait("i-1", timeout=10)
        assert status.status == "complete"
        assert status.output == ["one", "two"]
        assert ran == ["second"]  # the step completed in the earlier version is not run again
        read = await host.streams.read("st-1")
        assert [c.chunk.delta for c in read.chunks] == ["hello"]  # type: ignore[attr-defined]
    finally:
        await host.close()
    # Once joined, nothing is left to join.
    assert join_split_files(data, data / "state.db") == []
    with sqlite3.connect(data / "state.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"engine_steps", "__helix_stream_chunks", "__agents_messages"} <= names


def _done_row() -> Any:
    from helix_agents.hosts.local.engine_journal import StepRow

    return StepRow("first", 0, "do", "complete", '"one"', 1, None, None)
