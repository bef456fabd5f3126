"""The KV and object-storage conformance suites on the local host's twins (SQLite and the
file system under the data directory); the same checks run on real KV and R2 in
tests/worker_real/test_services_real.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.hosts.local.kv import SQLKeyValueStore
from helix_agents.hosts.local.objects import LocalObjectStore
from tests.conformance import kv_suite, objects_suite


class Clock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "state.db")
    yield database
    await database.close()


@pytest.mark.parametrize("name", sorted(kv_suite.CHECKS))
async def test_kv_conformance(db: SQLiteDatabase, name: str) -> None:
    clock = Clock()
    store = SQLKeyValueStore(db, "conformance", clock=clock)
    case = kv_suite.KVCase(
        store=store, prefix=f"conf/{name}/", advance=clock.advance, now=lambda: clock.ms / 1000
    )
    await kv_suite.CHECKS[name](case)


@pytest.mark.parametrize("name", sorted(objects_suite.CHECKS))
async def test_objects_conformance(db: SQLiteDatabase, tmp_path: Path, name: str) -> None:
    clock = Clock()
    store = LocalObjectStore(db, tmp_path / "objects", "conformance", clock=clock)
    case = objects_suite.ObjectsCase(store=store, prefix=f"conf/{name}/", now_ms=clock)
    await objects_suite.CHECKS[name](case)


async def test_namespaces_and_buckets_are_separate(db: SQLiteDatabase, tmp_path: Path) -> None:
    one, two = SQLKeyValueStore(db, "one"), SQLKeyValueStore(db, "two")
    await one.put("k", "1")
    assert await two.get("k") is None
    first = LocalObjectStore(db, tmp_path, "first")
    second = LocalObjectStore(db, tmp_path, "second")
    await first.put("k", b"1")
    assert await second.get("k") is None
    assert (await second.list()).objects == []


async def test_objects_survive_a_new_store_and_leave_no_stale_files(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    store = LocalObjectStore(db, tmp_path / "objects")
    for n in range(3):
        await store.put("same/key", f"version {n}")
    await store.put("other", b"x")
    await store.delete("other")
    again = LocalObjectStore(db, tmp_path / "objects")
    stored = await again.get("same/key")
    assert stored is not None
    assert stored.text() == "version 2"
    # One body on disk: replaced and deleted bodies are removed, no temp files remain.
    assert len(list((tmp_path / "objects" / "default").iterdir())) == 1


async def test_expired_entries_are_purged_by_writes(db: SQLiteDatabase) -> None:
    clock = Clock()
    store = SQLKeyValueStore(db, clock=clock)
    await store.put("a", "1", ttl=60)
    clock.advance(120)
    await store.put("b", "2")
    rows = await db.query("SELECT key FROM __helix_kv")
    assert [r["key"] for r in rows] == ["b"]
