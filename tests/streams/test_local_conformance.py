"""The StreamManager conformance suite against the local manager, in four set-ups."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.ports.streams import StreamManager
from tests.conformance.streams_suite import StreamManagerSuite


class LocalHarness:
    """Managers over one SQLite file. ``tail_size=2`` sends almost every read to SQLite
    instead of the in-memory tail; ``connection`` hands the manager an open connection;
    ``shared-file`` a :class:`SQLiteDatabase`, as the local host does, whose flushes write
    held chunks in one statement (db/packing.py)."""

    persistent = True

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.open_managers: list[LocalStreamManager] = []
        self.connections: list[sqlite3.Connection] = []
        self.databases: list[SQLiteDatabase] = []

    async def open(self) -> StreamManager:
        if self.kind == "connection":
            conn = sqlite3.connect(self.path, isolation_level=None)
            self.connections.append(conn)
            manager = LocalStreamManager(conn)
        elif self.kind == "shared-file":
            database = SQLiteDatabase(self.path)
            self.databases.append(database)
            manager = LocalStreamManager(database)
        elif self.kind == "tiny-tail":
            manager = LocalStreamManager(self.path, tail_size=2)
        else:
            manager = LocalStreamManager(self.path)
        self.open_managers.append(manager)
        return manager

    async def close(self, streams: StreamManager) -> None:
        assert isinstance(streams, LocalStreamManager)
        await streams.close()

    async def close_all(self) -> None:
        for manager in self.open_managers:
            await manager.close()
        for conn in self.connections:
            conn.close()
        for database in self.databases:
            await database.close()


class TestLocalStreamManager(StreamManagerSuite):
    @pytest.fixture(params=["file", "tiny-tail", "connection", "shared-file"])
    async def harness(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AsyncIterator[LocalHarness]:
        harness = LocalHarness(tmp_path / "streams.db", request.param)
        yield harness
        await harness.close_all()
