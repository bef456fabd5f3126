"""A run on the local host while another connection writes the same file: a stop written
there (what a second process's executor writes) is honoured mid-stream. The run's held
chunks were numbered from the stream manager's picture of the row, which that write made
old; the guard of the step's one statement sees it and the chunks go the general way
(db/packing.py). The live reader, a replay and the stored message still agree."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sql_trace import traced_statements
from tests.support.ui_message import UIMessageAssembler, stored_and_replayed

from helix_agents import Agent
from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.hosts.local.host import LocalHost
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.store import StateStore
from helix_agents.testing import FunctionModel

pytestmark = pytest.mark.timeout(60)

WORDS = [f"w{i} " for i in range(40)]


async def slow_words(messages: list[Any], info: Any) -> AsyncIterator[str]:
    for word in WORDS:
        await asyncio.sleep(0.01)  # the writer flushes (and holds) between words
        yield word


@pytest.mark.parametrize("looks", [True, False], ids=["manager-looks", "guard-only"])
async def test_an_interrupt_written_by_another_connection_is_honoured(
    tmp_path: Path, looks: bool
) -> None:
    agent = Agent(name="a", model=FunctionModel(stream_function=slow_words))
    async with LocalHost([agent], tmp_path) as host:
        if not looks:
            # The manager never looks for other writers (PRAGMA data_version): only the
            # guard of the step's statement can tell that the row moved.
            host.streams._sync_interval = float("inf")
        statements = traced_statements(host.db.connection)
        other = SQLiteDatabase(host.data_dir / "state.db")
        streams = LocalStreamManager(other)
        try:
            handle = await host.executor.execute("a", "go")
            live = UIMessageAssembler()
            deltas = 0
            async for item in handle.stream():
                live.feed([item])
                deltas += item.chunk.type == "text-delta"
                if deltas == 5:
                    # What Executor.interrupt writes, from another connection.
                    await StateStore(other).request_interrupt(handle.session_id, "elsewhere")
                    await streams.request_stop(handle.stream_id, "interrupt")
            result = await handle.result()
        finally:
            await streams.close()
            await other.close()
        assert result.status.value == "interrupted"
        stored, replay = await stored_and_replayed(host, handle.session_id, handle.stream_id)
        assert live.message == stored
        assert replay.message == stored
        text = "".join(p.get("text", "") for p in stored["parts"] if p["type"] == "text")
        assert text.startswith("w0 w1 w2 w3 w4 ")
        assert text != "".join(WORDS)  # cut short
        # Held chunks went out packed; with the manager blind, the pack after the other
        # connection's write failed its guard and the same chunks went the general way.
        assert any(sql.startswith("INSERT INTO __helix_pack_") for sql in statements)
        refused = [
            first.startswith("INSERT INTO __helix_pack_") and then.startswith("BEGIN")
            for first, then in itertools.pairwise(statements)
        ]
        if not looks:
            assert any(refused)
