"""Held writes and a write whose result nobody reads run as ONE statement: the INSERT into
a temporary view whose trigger holds them all (db/packing.py). All or nothing, in order, and
the general way whenever that cannot be."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helix_agents.db.packing import STALE, Packer, packable
from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import DatabaseError, DatabaseLimitError
from helix_agents.ports.database import Statement
from tests.db.holder import Holder as HeldRows
from tests.support.sql_trace import traced_statements

HELD_SQL = "INSERT INTO log (v) VALUES (?)"


def held_rows(db: SQLiteDatabase, **options: Any) -> HeldRows:
    """A holder of rows for ``log``, each written as "held <row>"."""
    return HeldRows(db, HELD_SQL, prefix="held ", **options)


@pytest.fixture
async def db(tmp_path: Path) -> SQLiteDatabase:
    database = SQLiteDatabase(tmp_path / "state.db")
    # A log in order of writing, and a view whose trigger writes it (as the store's step
    # commits do), refusing a value as the store refuses a run that lost its session.
    await database.execute("CREATE TABLE log (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    await database.execute("CREATE VIEW commits AS SELECT NULL AS v")
    await database.execute(
        "CREATE TRIGGER commits_apply INSTEAD OF INSERT ON commits BEGIN "
        "SELECT RAISE(ABORT, 'refused: not held') WHERE NEW.v = 'refuse'; "
        "INSERT INTO log (v) VALUES (NEW.v); END"
    )
    return database


async def _log(db: SQLiteDatabase) -> list[str]:
    return [row["v"] for row in await db.query("SELECT v FROM log ORDER BY n")]


async def test_a_commit_runs_in_one_statement_with_what_is_held(db: SQLiteDatabase) -> None:
    holder = held_rows(db)
    holder.rows = ["a", "b"]
    await db.execute("INSERT INTO commits (v) VALUES (?)", ["first"])
    assert await _log(db) == ["held a", "held b", "first"]
    assert holder.events == ["pack", "committed"]
    # The same shape again: one statement, no BEGIN, no COMMIT (it is its own transaction).
    holder.rows = ["c", "d"]
    seen = traced_statements(db.connection)
    result = await db.execute("INSERT INTO commits (v) VALUES (?)", ["second"])
    assert len(seen) == 1
    assert seen[0].startswith("INSERT INTO __helix_pack_")
    assert result.changes == 0  # as an INSERT into a view reports it
    assert await _log(db) == ["held a", "held b", "first", "held c", "held d", "second"]
    assert not db.connection.in_transaction


async def test_a_refused_commit_writes_nothing_and_the_held_rows_stay_held(
    db: SQLiteDatabase,
) -> None:
    holder = held_rows(db)
    holder.rows = ["kept"]
    with pytest.raises(DatabaseError, match="refused: not held"):
        await db.execute("INSERT INTO commits (v) VALUES (?)", ["refuse"])
    assert holder.events == ["pack", "rolled back"]
    assert await _log(db) == []
    assert holder.rows == ["kept"]
    db.flush()  # held alone: one statement too
    assert holder.events[-2:] == ["pack", "committed"]
    assert await _log(db) == ["held kept"]


async def test_a_stale_guard_sends_the_same_writes_the_general_way(db: SQLiteDatabase) -> None:
    # A holder's guard raises STALE when the file is not what it believed (the stream log's
    # mirror, after another process wrote): the general way writes them instead.
    guard = f"SELECT RAISE(ABORT, '{STALE}') WHERE ? = 'stale'"
    holder = held_rows(db, extra=[(guard, ["stale"])])
    holder.rows = ["x"]
    seen = traced_statements(db.connection)
    await db.execute("INSERT INTO commits (v) VALUES (?)", ["mine"])
    assert holder.events == ["pack", "rolled back", "write", "committed"]
    # (After the shape's view and trigger are made:) the pack that failed, then the rest.
    assert [s.split(" ")[0] for s in seen][-5:] == ["INSERT", "BEGIN", "INSERT", "INSERT", "COMMIT"]
    assert seen[-5].startswith("INSERT INTO __helix_pack_")
    assert await _log(db) == ["held x", "mine"]


async def test_a_holder_that_cannot_pack_goes_the_general_way(db: SQLiteDatabase) -> None:
    willing, unwilling = held_rows(db), held_rows(db)
    willing.rows, unwilling.rows = ["w"], ["u"]
    unwilling.packs = False
    await db.execute("INSERT INTO commits (v) VALUES (?)", ["mine"])
    assert willing.events == ["pack", "rolled back", "write", "committed"]
    assert await _log(db) == ["held w", "held u", "mine"]


async def test_only_inserts_into_views_and_result_free_batches_are_packed(
    db: SQLiteDatabase,
) -> None:
    await db.execute("CREATE TABLE t (v TEXT)")
    holder = held_rows(db)
    holder.rows = ["1"]
    await db.execute("INSERT INTO t (v) VALUES (?)", ["table"])  # its changes are read
    assert holder.events == ["write", "committed"]
    holder.rows = ["2"]
    results = await db.batch(
        [Statement("UPDATE t SET v = ?", ["updated"]), Statement(HELD_SQL, ["batched"])]
    )
    assert results == [[], []]
    assert holder.events[-2:] == ["pack", "committed"]
    holder.rows = ["3"]
    rows = await db.batch([Statement(HELD_SQL, ["b"]), Statement("SELECT v FROM t", [])])
    assert rows == [[], [{"v": "updated"}]]
    assert holder.events[-2:] == ["write", "committed"]
    assert await _log(db) == ["held 1", "held 2", "batched", "held 3", "b"]


async def test_a_pack_over_the_connections_limits_runs_and_the_limits_stay(
    db: SQLiteDatabase,
) -> None:
    # The connection keeps D1's 100 variables per statement; a step's pack may need more.
    holder = held_rows(db)
    holder.rows = [str(i) for i in range(150)]
    await db.execute("INSERT INTO commits (v) VALUES (?)", ["wide"])
    assert len(await _log(db)) == 151
    conn = db.connection
    assert conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == 100
    assert conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) == 100
    marks = ", ".join(["(?)"] * 101)
    with pytest.raises(DatabaseLimitError, match="too many SQL variables"):
        await db.execute(f"INSERT INTO log (v) VALUES {marks}", ["x"] * 101)


def test_packable_statements() -> None:
    assert packable("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a")
    assert packable("UPDATE t SET a = ? WHERE b = '?'")
    assert packable("SELECT RAISE(ABORT, 'x') WHERE ?")
    assert not packable("INSERT INTO t (a) VALUES (?) RETURNING a")
    assert not packable("INSERT INTO t (a) VALUES (:a)")
    assert not packable("INSERT INTO t (a) VALUES (?1)")
    assert not packable("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")
    assert not packable("CREATE TABLE u (a)")


def test_a_question_mark_in_a_string_is_not_a_parameter(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a TEXT, b TEXT, c TEXT)")
    packer = Packer(conn)
    sql = "INSERT INTO t (a, b, c) VALUES ('?', ?, '?' || ?) -- ?"
    cursor = packer.run([(sql, ["one", "two"])])
    assert cursor is not None
    # "?" in double quotes is a name SQLite reads as a string when no column has it.
    assert conn.execute("SELECT a, b, c FROM t").fetchall() == [("?", "one", "?two")]


def test_shapes_beyond_the_cap_are_not_packed(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a)")
    packer = Packer(conn, max_shapes=2)
    sql = "INSERT INTO t (a) VALUES (?)"
    # A shape is the statements' texts in order: one, two and three of the same are three.
    assert packer.run([(sql, [1])]) is not None
    assert packer.run([(sql, [2]), (sql, [3])]) is not None
    assert packer.run([(sql, [4]), (sql, [5]), (sql, [6])]) is None  # a third shape
    assert packer.run([(sql, [7])]) is not None  # a known one still is
    assert [a for (a,) in conn.execute("SELECT a FROM t")] == [1, 2, 3, 7]


def test_a_statement_no_trigger_can_hold_is_not_packed(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a)")
    packer = Packer(conn)
    assert packer.run([("INSERT INTO main.t (a) VALUES (?)", [1])]) is None
    assert packer.run([("INSERT INTO t (a) VALUES (?)", [2])]) is not None
    assert [a for (a,) in conn.execute("SELECT a FROM t")] == [2]
