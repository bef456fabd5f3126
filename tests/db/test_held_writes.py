"""SQLiteDatabase's held writes: what a file's other writers hold goes out with its next
transaction, in order, all or nothing (the local host's one state file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import DatabaseError
from helix_agents.ports.database import Statement
from tests.db.holder import Holder as HeldRows


def held_rows(db: SQLiteDatabase) -> HeldRows:
    """A holder of rows for ``held``."""
    return HeldRows(db, "INSERT INTO held (v) VALUES (?)")


@pytest.fixture
async def db(tmp_path: Path) -> SQLiteDatabase:
    database = SQLiteDatabase(tmp_path / "state.db")
    await database.execute("CREATE TABLE held (v TEXT)")
    await database.execute("CREATE TABLE own (v TEXT UNIQUE)")
    return database


def _statements(db: SQLiteDatabase) -> list[str]:
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    return seen


async def test_a_write_takes_the_held_rows_first_in_one_transaction(db: SQLiteDatabase) -> None:
    holder = held_rows(db)
    holder.rows = ["a", "b"]
    seen = _statements(db)
    await db.execute("INSERT INTO own (v) VALUES (?)", ["mine"])
    # The first time a text comes, the file is asked whether it writes a view (which would
    # run in one statement with the held rows: tests/db/test_packing.py); a table is not.
    assert seen.pop(0).startswith("SELECT 1 FROM sqlite_master")
    assert [s.split(" ")[0] for s in seen] == ["BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"]
    assert holder.events == ["write", "committed"]
    assert await db.query("SELECT v FROM held") == [{"v": "a"}, {"v": "b"}]
    # Nothing held: one statement in autocommit mode.
    seen.clear()
    await db.execute("INSERT INTO own (v) VALUES (?)", ["again"])
    assert [s.split(" ")[0] for s in seen] == ["INSERT"]


async def test_a_failed_write_rolls_the_held_rows_back_and_keeps_them(db: SQLiteDatabase) -> None:
    holder = held_rows(db)
    await db.execute("INSERT INTO own (v) VALUES (?)", ["taken"])
    holder.rows = ["kept"]
    with pytest.raises(DatabaseError, match="UNIQUE"):
        await db.execute("INSERT INTO own (v) VALUES (?)", ["taken"])
    assert holder.events == ["write", "rolled back"]
    assert await db.query("SELECT v FROM held") == []
    assert holder.rows == ["kept"]  # still held: the next transaction writes them
    db.flush()  # what is held alone: one statement
    assert holder.events[2:] == ["pack", "committed"]
    assert await db.query("SELECT v FROM held") == [{"v": "kept"}]
    assert not holder.rows


async def test_a_batch_of_reads_writes_nothing_held(db: SQLiteDatabase) -> None:
    holder = held_rows(db)
    holder.rows = ["later"]
    rows = await db.batch(
        [
            Statement("SELECT count(*) AS n FROM own", []),
            Statement("WITH x AS (SELECT 1 AS one) SELECT one FROM x", []),
        ]
    )
    assert rows == [[{"n": 0}], [{"one": 1}]]
    assert holder.events == []  # reads need nothing held, and a full disk must not fail them
    assert holder.rows == ["later"]


async def test_a_batch_that_looks_like_reads_but_writes_goes_out_as_a_write(
    db: SQLiteDatabase,
) -> None:
    holder = held_rows(db)
    holder.rows = ["first"]
    await db.batch([Statement("WITH x AS (SELECT 'w' AS v) INSERT INTO own (v) SELECT v FROM x")])
    assert holder.events == ["write", "committed"]
    assert await db.query("SELECT v FROM own") == [{"v": "w"}]
    assert await db.query("SELECT v FROM held") == [{"v": "first"}]
    # The connection is writable again afterwards.
    await db.execute("INSERT INTO own (v) VALUES ('x')")


async def test_a_nested_transaction_joins_the_open_one(db: SQLiteDatabase) -> None:
    conn = db.connection

    def inner() -> None:
        conn.execute("INSERT INTO own (v) VALUES ('inner')")
        raise RuntimeError("undo all")

    def outer() -> None:
        conn.execute("INSERT INTO own (v) VALUES ('outer')")
        db.transaction(inner)

    with pytest.raises(RuntimeError):
        db.transaction(outer)
    assert await db.query("SELECT v FROM own") == []
    assert isinstance(conn, sqlite3.Connection)
    assert not conn.in_transaction
