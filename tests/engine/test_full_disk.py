"""The local engine on a full disk: runs pause and carry on, nothing is lost or run twice.

The disk is made full for real SQLite (``tests.support.full_disk``: the file capped at its
pages and their free space filled, so writes fail with SQLITE_FULL), either under the
engine's own journal or under the database a step writes to.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from helix_agents.db.sqlite import translate_sqlite_error
from helix_agents.errors import StorageUnavailableError
from helix_agents.hosts.local.engine import LocalEngine
from helix_agents.ports.step import Step, StepContext
from tests.support.full_disk import fill, free

#: Retries that would fail the step at the first real error: a full disk must not count.
NO_RETRY: Any = {"retries": {"limit": 0, "delay": 1, "backoff": "constant"}}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LocalEngine]:
    engine = LocalEngine(tmp_path / "engine.db", storage_retry=(0.02, 0.1))
    engine.storage.quiet = 0.05
    try:
        yield engine
    finally:
        await engine.close()


class Store:
    """A SQLite file a step writes to, which the test can make full."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("CREATE TABLE rows (name TEXT PRIMARY KEY, body BLOB)")

    def insert(self, name: str) -> None:
        try:
            self.conn.execute("INSERT INTO rows VALUES (?, zeroblob(5000))", (name,))
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, "rows.db") from exc

    def names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM rows ORDER BY name")]


async def as_step(fn: Any, *args: Any) -> Any:
    return fn(*args)


def journal(engine: LocalEngine, sql: str) -> list[tuple[Any, ...]]:
    return engine.journal.raw(sql)


async def test_a_step_whose_own_write_hits_a_full_disk_pauses_and_finishes_once_there_is_room(
    engine: LocalEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "rows.db")
    calls: dict[str, int] = {}

    async def write(name: str, ctx: StepContext) -> str:
        calls[name] = calls.get(name, 0) + 1
        store.insert(name)
        return name

    async def flow(event: dict[str, Any], step: Step) -> Any:
        first = await step.do("first", lambda ctx: write("first", ctx), NO_RETRY)
        second = await step.do("second", lambda ctx: write("second", ctx), NO_RETRY)
        return [first, second]

    engine.register("flow", flow)
    await engine.start()
    caplog.set_level(logging.INFO, logger="helix_agents.storage")
    store.insert("ballast-before")
    fill(store.conn)
    await engine.workflow("flow").create("w-1", {})
    # The first step fails on the disk again and again: paused, not failed.
    for _ in range(200):
        if engine.storage.failures >= 4:
            break
        await asyncio.sleep(0.01)
    assert engine.storage.failures >= 4
    assert (await engine.status("w-1")).status == "running"
    assert engine.storage.unavailable
    assert engine.storage.paused == {"w-1"}
    outage = engine.storage.status()
    assert outage is not None
    assert outage["reason"] == "disk full"
    # Nothing of the outage is in the journal: no error, no retry counted against limit 0.
    assert journal(engine, "SELECT status FROM engine_steps") == [("running",)]

    free(store.conn)
    status = await engine.wait("w-1", timeout=10)
    assert status.status == "complete"
    assert status.output == ["first", "second"]
    assert store.names() == ["ballast-before", "first", "second"]
    assert calls["second"] == 1  # steps after the outage ran once
    assert journal(engine, "SELECT name, status FROM engine_steps ORDER BY ordinal") == [
        ("first", "complete"),
        ("second", "complete"),
    ]
    assert engine.storage.status() is None
    assert not engine.storage.paused
    # One line when it started, one when it ended, whatever the number of failures.
    lines = [r.getMessage() for r in caplog.records if r.name == "helix_agents.storage"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("storage unavailable: disk full writing rows.db")
    assert "paused" in lines[0]
    assert "nothing is lost" in lines[0]
    assert lines[1].startswith("storage available again after")


async def test_a_full_journal_holds_a_completed_result_until_there_is_room_for_it(
    engine: LocalEngine,
) -> None:
    ran: dict[str, int] = {}
    gate = asyncio.Event()

    async def body(name: str) -> str:
        ran[name] = ran.get(name, 0) + 1
        if name == "b" and ran[name] == 1:
            fill(engine.journal._db)  # the disk fills while b runs: b's result cannot be kept
            gate.set()
        return name * 5000  # needs room of its own (small rows may fit in a page's slack)

    async def flow(event: dict[str, Any], step: Step) -> Any:
        out = [await step.do("a", lambda ctx: body("a"), NO_RETRY)]
        out.append(await step.do("b", lambda ctx: body("b"), NO_RETRY))
        out.append(await step.do("c", lambda ctx: body("c"), NO_RETRY))
        return out

    engine.register("flow", flow)
    await engine.start()
    await engine.workflow("flow").create("j-1", {})
    await gate.wait()
    for _ in range(200):
        if engine.storage.failures >= 3:
            break
        await asyncio.sleep(0.01)
    assert engine.storage.failures >= 3
    assert (await engine.status("j-1")).status == "running"
    # b's result waits for room: b does not run again. (c's claim waits for the file's
    # next transaction, like b's result, so c may have run before the outage was known.)
    assert ran["a"] == ran["b"] == 1
    assert ran.get("c", 0) <= 1

    free(engine.journal._db)
    status = await engine.wait("j-1", timeout=10)
    assert status.status == "complete"
    assert status.output == [n * 5000 for n in "abc"]
    # Each step ran once: a before the outage, b during it (its result kept until there
    # was room for it), c after.
    assert ran == {"a": 1, "b": 1, "c": 1}
    attempts = dict(journal(engine, "SELECT name, attempts FROM engine_steps"))
    assert attempts == {"a": 1, "b": 1, "c": 1}


async def test_a_concurrent_step_in_flight_ends_before_the_replay_and_is_not_run_twice(
    engine: LocalEngine, tmp_path: Path
) -> None:
    store = Store(tmp_path / "rows.db")
    running: set[str] = set()
    overlaps: list[str] = []
    ran: dict[str, int] = {}
    slow_started = asyncio.Event()

    async def body(name: str, ctx: StepContext) -> str:
        if name in running:
            overlaps.append(name)
        running.add(name)
        ran[name] = ran.get(name, 0) + 1
        try:
            if name == "slow":
                slow_started.set()
                await asyncio.sleep(0.3)
            else:
                await slow_started.wait()
                store.insert(f"{name}-{ran[name]}")
            return name
        finally:
            running.discard(name)

    async def flow(event: dict[str, Any], step: Step) -> Any:
        both = await asyncio.gather(
            step.do("slow", lambda ctx: body("slow", ctx), NO_RETRY),
            step.do("writer", lambda ctx: body("writer", ctx), NO_RETRY),
            step.sleep("nap", "1 hour"),  # durable: cancelled by the pause, resumed after
        )
        return both[:2]

    engine.register("flow", flow)
    await engine.start()
    fill(store.conn)
    await engine.workflow("flow").create("c-1", {})
    await asyncio.sleep(0.1)
    assert engine.storage.unavailable
    assert ran.get("slow") == 1
    # The slow step outlives its sibling's failure; the instance is replayed only after it
    # ended (and was journaled), so it never runs twice nor alongside itself.
    await asyncio.sleep(0.4)
    free(store.conn)
    for _ in range(300):
        if journal(engine, "SELECT status FROM engine_steps WHERE name = 'writer'") == [
            ("complete",)
        ]:
            break
        await asyncio.sleep(0.01)
    assert ran["slow"] == 1
    assert not overlaps
    steps = dict(journal(engine, "SELECT name, status FROM engine_steps"))
    assert steps == {"slow": "complete", "writer": "complete", "nap": "waiting"}
    assert (await engine.status("c-1")).status in ("running", "waiting")


async def test_a_workflow_that_swallows_the_failure_is_still_paused_not_finished(
    engine: LocalEngine, tmp_path: Path
) -> None:
    store = Store(tmp_path / "rows.db")

    async def flow(event: dict[str, Any], step: Step) -> Any:
        try:
            await step.do("write", lambda ctx: as_step(store.insert, "w"), NO_RETRY)
        except Exception as exc:  # as the agent loop does: it would record a failure
            message = str(exc)
            await step.do("record failure", lambda ctx: as_step(str, message), NO_RETRY)
            return "failed"
        return "written"

    engine.register("flow", flow)
    await engine.start()
    fill(store.conn)
    await engine.workflow("flow").create("s-1", {})
    for _ in range(200):
        if engine.storage.failures >= 3:
            break
        await asyncio.sleep(0.01)
    assert (await engine.status("s-1")).status == "running"
    assert journal(engine, "SELECT name FROM engine_steps") == [("write",)]
    free(store.conn)
    assert (await engine.wait("s-1", timeout=10)).output == "written"


def test_storage_errors_are_told_from_other_database_errors(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    fill(conn)
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("INSERT INTO t VALUES (zeroblob(5000))")
    error = translate_sqlite_error(info.value, "x.db")
    assert isinstance(error, StorageUnavailableError)
    assert error.reason == "disk full"
    assert str(error).startswith("storage unavailable: disk full writing x.db")
    with pytest.raises(sqlite3.OperationalError) as other:
        conn.execute("INSERT INTO nope VALUES (1)")
    assert not isinstance(translate_sqlite_error(other.value), StorageUnavailableError)


def test_the_monitor_ends_an_outage_only_after_writes_went_through_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from helix_agents.hosts.local.storage import StorageMonitor, file_probe

    now = [100.0]
    probes: list[bool] = []

    def probe() -> None:  # the host's own probe, on a directory with room
        probes.append(True)
        file_probe(tmp_path)

    monitor = StorageMonitor(quiet=2.0, probe=probe, clock=lambda: now[0], wall=lambda: 1.0)
    caplog.set_level(logging.INFO, logger="helix_agents.storage")
    full = StorageUnavailableError("storage unavailable: disk full writing x", reason="disk full")
    monitor.pause("i-1", full)
    now[0] += 0.5
    monitor.failure(full, "a request")
    assert monitor.status() == {
        "reason": "disk full",
        "message": "storage unavailable: disk full",
        "detail": "storage unavailable: disk full writing x",
        "since": 1000,
        "failures": 2,
    }
    now[0] += 1.0
    assert monitor.status() is not None
    assert not probes  # a paused instance is the better witness: no probe meanwhile
    monitor.progressed("i-1")  # its step went through, but a failure was 1 s ago
    assert monitor.unavailable
    now[0] += 1.5
    assert monitor.status() is None  # quiet for 2.5 s since the last failure, with a success
    assert not (tmp_path / ".storage-probe").exists()
    lines = [r.getMessage() for r in caplog.records if r.name == "helix_agents.storage"]
    assert len(lines) == 2, lines
    assert "storage available again after 3.0 s (2 failed writes)" in lines[1]
    # With no run paused, the probe decides (a real write next to the databases).
    monitor.failure(full, "a request")
    now[0] += 2.0
    assert monitor.status() is None
    assert probes == [True, True]
