"""What is particular to the local host's SQLite driver."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helix_agents.db.sqlite import (
    LOCAL_PAGE_SIZE,
    LOCAL_WAL_PAGES,
    SQLiteDatabase,
    translate_sqlite_error,
)
from helix_agents.errors import DatabaseError, DatabaseLimitError
from helix_agents.ports import Database, Statement


@pytest.fixture
async def db(tmp_path: Path) -> SQLiteDatabase:
    database = SQLiteDatabase(tmp_path / "local.sqlite")
    yield database
    await database.close()


async def test_it_is_a_database(db: SQLiteDatabase) -> None:
    assert isinstance(db, Database)
    assert "local.sqlite" in repr(db)


async def test_the_connection_is_set_up_for_a_server(db: SQLiteDatabase, tmp_path: Path) -> None:
    # Another connection sees the file in WAL mode; foreign keys are enforced on ours.
    other = sqlite3.connect(tmp_path / "local.sqlite")
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
    # Its pages are small and its log is checkpointed every LOCAL_WAL_PAGES pages.
    assert db.connection.execute("PRAGMA page_size").fetchone()[0] == LOCAL_PAGE_SIZE
    assert db.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == LOCAL_WAL_PAGES
    await db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await db.execute("CREATE TABLE child (p INTEGER REFERENCES parent (id))")
    with pytest.raises(DatabaseError, match="FOREIGN KEY constraint failed"):
        await db.execute("INSERT INTO child VALUES (1)")


async def test_a_row_over_2_mb_is_refused(db: SQLiteDatabase) -> None:
    await db.execute("CREATE TABLE t (a TEXT, b TEXT)")
    with pytest.raises(DatabaseLimitError, match="too big"):
        await db.execute("INSERT INTO t VALUES (?, ?)", ["a" * 1_200_000, "b" * 1_200_000])
    await db.execute("INSERT INTO t VALUES (?, ?)", ["a" * 900_000, "b" * 900_000])
    with pytest.raises(DatabaseLimitError):  # a value grown past 2 MB by SQL itself
        await db.execute("UPDATE t SET a = a || b || b")


async def test_our_own_transactions_do_not_open_a_door(db: SQLiteDatabase) -> None:
    # The driver's BEGIN/COMMIT are cached statements; a caller's identical text is still
    # refused, before and after a batch.
    await db.execute("CREATE TABLE t (a)")
    await db.batch([Statement("INSERT INTO t VALUES (1)")])
    for sql in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
        with pytest.raises(DatabaseError, match="To execute a transaction"):
            await db.execute(sql)
    await db.batch([Statement("INSERT INTO t VALUES (2)")])
    assert await db.query("SELECT count(*) AS n FROM t") == [{"n": 2}]


async def test_each_statement_commits_on_its_own(db: SQLiteDatabase, tmp_path: Path) -> None:
    await db.execute("CREATE TABLE t (a)")
    await db.execute("INSERT INTO t VALUES (1)")
    other = SQLiteDatabase(tmp_path / "local.sqlite")
    try:
        assert await other.query("SELECT a FROM t") == [{"a": 1}]
    finally:
        await other.close()


async def test_several_connections_share_the_file(db: SQLiteDatabase, tmp_path: Path) -> None:
    await db.execute("CREATE TABLE t (a)")
    others = [SQLiteDatabase(tmp_path / "local.sqlite") for _ in range(3)]
    try:
        for index, other in enumerate(others):
            await other.batch([Statement("INSERT INTO t VALUES (?)", [index])])
        assert await db.query("SELECT count(*) AS n FROM t") == [{"n": 3}]
    finally:
        for other in others:
            await other.close()


async def test_a_closed_database_refuses_calls(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "x.sqlite")
    await db.close()
    await db.close()
    with pytest.raises(DatabaseError, match="closed"):
        await db.query("SELECT 1")


def test_an_unopenable_path_is_a_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="cannot open"):
        SQLiteDatabase(tmp_path / "missing-dir" / "x.sqlite")


async def test_in_memory_databases_work() -> None:
    db = SQLiteDatabase(":memory:")
    try:
        assert await db.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        await db.close()


def test_sqlite_errors_translate() -> None:
    assert isinstance(
        translate_sqlite_error(sqlite3.OperationalError("too many SQL variables")),
        DatabaseLimitError,
    )
    plain = translate_sqlite_error(sqlite3.OperationalError("no such table: x"))
    assert type(plain) is DatabaseError
    assert str(plain) == "no such table: x"
