"""One clock: every component that was not handed a clock of its own reads
``helix_agents.clock``, so a test moves them all at once with ``use_clock``."""

from __future__ import annotations

from pathlib import Path

from helix_agents.clock import now_ms, use_clock, wall_clock_ms
from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.hosts.local.engine_clock import Timers
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.store import StateStore

AT = 1_700_000_000_123.5


async def test_every_default_clock_follows_use_clock(tmp_path: Path) -> None:
    with use_clock(lambda: AT):
        assert now_ms() == AT
        assert wall_clock_ms() == int(AT)
        assert Timers().clock() == AT  # the local engine's deadlines
        assert StateStore(SQLiteDatabase(tmp_path / "db.sqlite")).clock() == int(AT)
        manager = LocalStreamManager(tmp_path / "streams.db")
        try:
            info = await manager.create("s1")  # the chunk log's timestamps
            assert info.created_at == int(AT)
        finally:
            await manager.close()
    assert abs(wall_clock_ms() - now_ms()) < 1000
    assert wall_clock_ms() > int(AT)  # the system clock again


def test_use_clock_nests_and_restores() -> None:
    with use_clock(lambda: 1.0):
        with use_clock(lambda: 2.0):
            assert wall_clock_ms() == 2
        assert wall_clock_ms() == 1
