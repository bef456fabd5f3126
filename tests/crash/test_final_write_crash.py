"""SIGKILL at the run's last write: after the commit that ended the run, before (or just
after) the one write that carries the tail of the response and the stream's end.

A reader that had followed the stream up to the kill reattaches after the restart from its
last sequence (as ``useChat`` does with ``Last-Event-ID``); another replays the whole stream
afterwards. Both must end up with the message the database holds, its text exactly once,
and the stream must end exactly once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helix_agents import AgentRegistry
from helix_agents.hosts.local import LocalHost
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.http.snapshot import build_snapshot
from tests.crash.final_write_host import AGENT, SESSION, WORDS
from tests.support.crashing import run_to_end, start
from tests.support.ui_message import UIMessageAssembler

pytestmark = [pytest.mark.crash, pytest.mark.timeout(120)]

MODULE = "tests.crash.final_write_host"
STREAM = f"{SESSION}--t1"


@pytest.mark.parametrize("mode", ["before", "after"])
async def test_sigkill_at_the_last_write(tmp_path: Path, mode: str) -> None:
    data = tmp_path / "crash"
    proc = start(MODULE, data, 0, extra=[mode])
    proc.communicate(timeout=60)
    assert proc.returncode == -9, "the host should have killed itself at the last write"
    assert (data / "killed").read_text() == mode

    # What a reader following the run had seen when the process died.
    streams = LocalStreamManager(data / "host" / "state.db")
    try:
        seen = (await streams.read(STREAM, after=0, limit=10_000)).chunks
        info = await streams.info(STREAM)
    finally:
        await streams.close()
    assert info is not None
    assert info.status == ("ended" if mode == "after" else "active")
    live = UIMessageAssembler()
    live.feed(seen)
    assert seen
    assert seen[-1].seq == info.last_seq

    assert "ALL DONE completed" in run_to_end(MODULE, data, 0, extra=[mode])

    async with LocalHost(AgentRegistry([AGENT]), data / "host") as host:
        rest = (await host.streams.read(STREAM, after=seen[-1].seq, limit=10_000)).chunks
        everything = (await host.streams.read(STREAM, after=0, limit=10_000)).chunks
        final = await host.streams.info(STREAM)
        state = await host.store.load_session(SESSION)
        assert state is not None
        stored = (await build_snapshot(host.executor, state))["messages"][-1]
    live.feed(rest)
    replay = UIMessageAssembler()
    replay.feed(everything)
    assert stored["parts"][-1] == {"type": "text", "text": "".join(WORDS), "state": "done"}
    assert live.message == stored
    assert replay.message == stored
    assert (live.finishes, replay.finishes) == (1, 1)
    assert final is not None
    assert final.status == "ended"
    # Lost before it landed: the retry told the reader to drop the dead attempt's text
    # (which it had shown) and streamed the response again; landed: nothing more came.
    assert live.resets == (1 if mode == "before" else 0)
    if mode == "after":
        assert rest == []
    else:
        assert rest[0].chunk.type == "step-reset"
    with sqlite3.connect(data / "host" / "state.db") as db:
        (ends,) = db.execute(
            "SELECT count(*) FROM __helix_stream_chunks WHERE stream_id = ? AND kind = 'run-end'",
            [STREAM],
        ).fetchone()
    assert ends == 1
