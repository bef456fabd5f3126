"""The D1 binding itself, fake and real side by side: the fake is proven faithful here.

Each test runs on ``d1-fake`` (``helix_agents.testing.d1``) and ``d1-real`` (a real local D1
in workerd, through the bridge), using the binding under the ``D1Database`` driver.
"""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents.errors import DatabaseError, DatabaseLimitError
from helix_agents.hosts.cloudflare.d1 import D1Database, translate_d1_error
from helix_agents.ports import Database

META_KEYS = {
    "duration",
    "changes",
    "last_row_id",
    "changed_db",
    "rows_read",
    "rows_written",
    "size_after",
}


def binding_of(db: Database) -> Any:
    assert isinstance(db, D1Database), "the d1 kinds are D1Database over a binding"
    return db.binding


async def fails(awaitable: Any) -> str:
    """The text of what the binding raised (it must raise)."""
    with pytest.raises(Exception) as info:
        await awaitable
    return str(info.value)


async def test_results_have_d1s_shape(d1_database: Database) -> None:
    db = binding_of(d1_database)
    await db.prepare("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").run()
    run = await db.prepare("INSERT INTO t (name) VALUES (?)").bind("a").run()
    assert run["success"] is True
    assert set(run["meta"]) >= META_KEYS
    assert run["meta"]["changes"] == 1
    assert run["meta"]["last_row_id"] == 1
    assert run["meta"]["changed_db"] is True
    result = await db.prepare("SELECT id, name FROM t").all()
    assert result["results"] == [{"id": 1, "name": "a"}]
    # Attribute access, like the SDK's JsDict.
    assert result.results[0]["name"] == "a"
    assert result.meta["changes"] == 0


async def test_first_and_raw(d1_database: Database) -> None:
    db = binding_of(d1_database)
    await db.prepare("CREATE TABLE t (a, b)").run()
    await db.prepare("INSERT INTO t VALUES ('x', 'y')").run()
    stmt = db.prepare("SELECT a, b FROM t")
    assert await stmt.first() == {"a": "x", "b": "y"}
    assert await stmt.first("b") == "y"
    assert "D1_COLUMN_NOTFOUND: Column not found (zz)" in await fails(stmt.first("zz"))
    assert await db.prepare("SELECT a FROM t WHERE a = 'none'").first() is None
    assert await stmt.raw() == [["x", "y"]]
    assert await stmt.raw(columnNames=True) == [["a", "b"], ["x", "y"]]
    assert await stmt.raw({"columnNames": True}) == [["a", "b"], ["x", "y"]]


async def test_exec_runs_a_script_line_by_line(d1_database: Database) -> None:
    db = binding_of(d1_database)
    result = await db.exec(
        "CREATE TABLE t (a);\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);"
    )
    assert result["count"] == 3
    assert "duration" in result
    rows = (await db.prepare("SELECT count(*) AS n FROM t").all())["results"]
    assert rows == [{"n": 2}]
    message = await fails(db.exec("INSERT INTO t VALUES (3);\nINSERT INTO nowhere VALUES (1);"))
    assert "D1_EXEC_ERROR: Error in line" in message
    assert "no such table: nowhere: SQLITE_ERROR" in message


@pytest.mark.parametrize(
    "sql", ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "SAVEPOINT a", "RELEASE a"]
)
async def test_transactions_are_refused(d1_database: Database, sql: str) -> None:
    message = await fails(binding_of(d1_database).prepare(sql).run())
    assert "D1_ERROR: To execute a transaction, please use the state.storage.transaction()" in (
        message
    )
    assert "instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements" in message


async def test_too_many_sql_variables(d1_database: Database) -> None:
    db = binding_of(d1_database)
    sql = f"SELECT 1 AS one WHERE 1 IN ({', '.join('?' for _ in range(101))})"
    message = await fails(db.prepare(sql).bind(*range(101)).all())
    assert "D1_ERROR: too many SQL variables" in message
    assert message.endswith(": SQLITE_ERROR")
    ok = db.prepare(sql.replace(", ?)", ")")).bind(*range(100))
    assert (await ok.all())["results"] == [{"one": 1}]


async def test_statement_too_long(d1_database: Database) -> None:
    db = binding_of(d1_database)
    sql = "SELECT '" + "x" * 99_987 + "' AS s"
    assert len(sql) == 100_001
    assert "D1_ERROR: statement too long: SQLITE_TOOBIG" in await fails(db.prepare(sql).all())
    fits = "SELECT '" + "x" * 99_986 + "' AS s"
    assert len(fits) == 100_000
    assert len((await db.prepare(fits).all())["results"][0]["s"]) == 99_986


async def test_values_too_big(d1_database: Database) -> None:
    # D1 documents 2 MB; a local workerd allows more, so the shared check uses 20 MB. The
    # drivers enforce the documented 2 MB themselves (tests/db/test_port_rules.py).
    db = binding_of(d1_database)
    message = await fails(db.prepare("SELECT length(?) AS n").bind("x" * 20_000_000).all())
    assert "string or blob too big: SQLITE_TOOBIG" in message


async def test_wrong_number_of_bindings(d1_database: Database) -> None:
    db = binding_of(d1_database)
    message = await fails(db.prepare("SELECT ? AS a, ? AS b").bind(1).all())
    assert "D1_ERROR: Wrong number of parameter bindings for SQL query." in message


async def test_a_comment_is_no_statement(d1_database: Database) -> None:
    message = await fails(binding_of(d1_database).prepare("-- nothing here").all())
    assert "D1_ERROR: No SQL statements detected." in message


async def test_bind_conversions(d1_database: Database) -> None:
    db = binding_of(d1_database)
    stmt = db.prepare("SELECT ? AS t, ? AS f, ? AS n, ? AS s, ? AS b, typeof(?) AS bt, ? AS x")
    rows = (await stmt.bind(True, False, None, "s", b"\x00\xff", b"\x01", 1.5).all())["results"]
    assert rows == [{"t": 1, "f": 0, "n": None, "s": "s", "b": [0, 255], "bt": "blob", "x": 1.5}]
    # Every JS number is bound as a double.
    assert (await db.prepare("SELECT typeof(?) AS t").bind(5).all())["results"] == [{"t": "real"}]
    # A list of byte values is a BLOB too.
    rows = (await db.prepare("SELECT ? AS b").bind([1, 2, 3]).all())["results"]
    assert rows == [{"b": [1, 2, 3]}]


async def test_a_bigint_is_refused(d1_database: Database) -> None:
    db = binding_of(d1_database)
    message = await fails(_run_bound(db, "SELECT ? AS v", 2**53))
    assert "D1_TYPE_ERROR: Type 'bigint' not supported for value '9007199254740992'" in message
    rows = (await db.prepare("SELECT ? AS v").bind(2**53 - 1).all())["results"]
    assert rows == [{"v": 2**53 - 1}]


async def test_an_object_is_refused(d1_database: Database) -> None:
    message = await fails(_run_bound(binding_of(d1_database), "SELECT ? AS v", {"a": 1}))
    assert "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'" in message


async def test_the_sdk_refuses_tuples(d1_database: Database) -> None:
    db = binding_of(d1_database)
    with pytest.raises(TypeError):
        await _run_bound(db, "SELECT ? AS v", (1, 2))


async def test_a_failed_batch_leaves_nothing(d1_database: Database) -> None:
    db = binding_of(d1_database)
    await db.prepare("CREATE TABLE t (a)").run()
    message = await fails(
        db.batch(
            [db.prepare("INSERT INTO t VALUES (1)"), db.prepare("INSERT INTO nope VALUES (1)")]
        )
    )
    assert "D1_ERROR: no such table: nope: SQLITE_ERROR" in message
    assert (await db.prepare("SELECT count(*) AS n FROM t").all())["results"] == [{"n": 0}]
    results = await db.batch(
        [db.prepare("INSERT INTO t VALUES (?)").bind(1), db.prepare("SELECT a FROM t")]
    )
    assert [r["results"] for r in results] == [[], [{"a": 1}]]
    assert all(r["success"] for r in results)


async def test_errors_translate_by_their_message(d1_database: Database) -> None:
    db = binding_of(d1_database)
    sql = f"SELECT 1 WHERE 1 IN ({', '.join('?' for _ in range(101))})"
    with pytest.raises(Exception) as limit:
        await db.prepare(sql).bind(*range(101)).all()
    assert isinstance(translate_d1_error(limit.value), DatabaseLimitError)
    with pytest.raises(Exception) as other:
        await db.prepare("SELECT * FROM nowhere").all()
    translated = translate_d1_error(other.value)
    assert type(translated) is DatabaseError
    assert "no such table: nowhere" in str(translated)


async def _run_bound(db: Any, sql: str, value: object) -> Any:
    # D1 checks values in bind() (the bridge when the query runs): await both in one place.
    return await db.prepare(sql).bind(value).all()
