"""D1's rules and conversions through the Database port, on every driver.

The SQLite driver enforces D1's rules too (so local code behaves as on D1), the D1 driver
enforces them before sending, and the real local D1 shows the behaviour is D1's own.
"""

from __future__ import annotations

import pytest

from helix_agents.db.rules import (
    MAX_BOUND_PARAMETERS,
    MAX_STATEMENT_BYTES,
    MAX_VALUE_BYTES,
    TRANSACTION_MESSAGE,
)
from helix_agents.errors import DatabaseError, DatabaseLimitError
from helix_agents.ports import Database, ExecResult, Statement


async def make_table(db: Database) -> None:
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b TEXT, c INTEGER)")


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "BEGIN TRANSACTION",
        "begin immediate",
        "  /* lead */ -- comment\n COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT sp1",
        "RELEASE sp1",
        "RELEASE SAVEPOINT sp1",
    ],
)
async def test_transaction_control_is_refused_with_d1s_message(
    database: Database, sql: str
) -> None:
    with pytest.raises(DatabaseError, match="To execute a transaction, please use"):
        await database.execute(sql)


async def test_transaction_control_is_refused_inside_a_batch(database: Database) -> None:
    await make_table(database)
    with pytest.raises(DatabaseError, match="To execute a transaction"):
        await database.batch([Statement("INSERT INTO t (a) VALUES (1)"), Statement("SAVEPOINT x")])
    assert await database.query("SELECT count(*) AS n FROM t") == [{"n": 0}]


async def test_a_batch_is_atomic(database: Database) -> None:
    await make_table(database)
    with pytest.raises(DatabaseError, match="no such table"):
        await database.batch(
            [
                Statement("INSERT INTO t (a) VALUES (?)", [1]),
                Statement("INSERT INTO t (a) VALUES (?)", [2]),
                Statement("INSERT INTO missing (a) VALUES (?)", [3]),
            ]
        )
    assert await database.query("SELECT count(*) AS n FROM t") == [{"n": 0}]
    results = await database.batch(
        [
            Statement("INSERT INTO t (a) VALUES (?) RETURNING id", [1]),
            Statement("INSERT INTO t (a) VALUES (?)", [2]),
            Statement("SELECT a FROM t ORDER BY id"),
        ]
    )
    assert results == [[{"id": 1}], [], [{"a": 1}, {"a": 2}]]


async def test_a_constraint_failure_rolls_the_batch_back(database: Database) -> None:
    await make_table(database)
    await database.execute("INSERT INTO t (id, a) VALUES (1, 'x')")
    with pytest.raises(DatabaseError, match="UNIQUE constraint failed"):
        await database.batch(
            [
                Statement("UPDATE t SET a = 'changed' WHERE id = 1"),
                Statement("INSERT INTO t (id, a) VALUES (1, 'dup')"),
            ]
        )
    assert await database.query("SELECT a FROM t") == [{"a": "x"}]


async def test_an_empty_batch_does_nothing(database: Database) -> None:
    assert await database.batch([]) == []


async def test_100_parameters_pass_and_101_are_refused(database: Database) -> None:
    def in_list(n: int) -> str:
        return f"SELECT count(*) AS n WHERE 1 IN ({', '.join('?' for _ in range(n))})"

    assert MAX_BOUND_PARAMETERS == 100
    assert await database.query(in_list(100), list(range(100))) == [{"n": 1}]
    with pytest.raises(DatabaseLimitError, match="too many SQL variables"):
        await database.query(in_list(101), list(range(101)))
    with pytest.raises(DatabaseLimitError):
        await database.batch([Statement(in_list(101), list(range(101)))])


async def test_statements_up_to_100_kb_pass_and_longer_are_refused(database: Database) -> None:
    prefix, suffix = "SELECT length('", "') AS n"
    filler = MAX_STATEMENT_BYTES - len(prefix) - len(suffix)
    sql = prefix + "x" * filler + suffix
    assert len(sql.encode()) == MAX_STATEMENT_BYTES
    assert await database.query(sql) == [{"n": filler}]
    longer = prefix + "x" * (filler + 1) + suffix
    with pytest.raises(DatabaseLimitError, match="statement too long"):
        await database.query(longer)
    with pytest.raises(DatabaseLimitError, match="statement too long"):
        await database.batch([Statement("SELECT 1"), Statement(longer)])


async def test_the_statement_limit_counts_utf8_bytes(database: Database) -> None:
    sql = "SELECT '" + "é" * 50_000 + "' AS s"  # 50,000 characters, 100,000+ bytes
    with pytest.raises(DatabaseLimitError):
        await database.query(sql)


async def test_values_up_to_2_mb_pass_and_larger_are_refused(database: Database) -> None:
    await make_table(database)
    big = "v" * 1_900_000
    await database.execute("INSERT INTO t (id, b) VALUES (1, ?)", [big])
    assert await database.query("SELECT length(b) AS n FROM t") == [{"n": len(big)}]
    with pytest.raises(DatabaseLimitError, match="2000000"):
        await database.execute("INSERT INTO t (b) VALUES (?)", ["v" * (MAX_VALUE_BYTES + 1)])
    with pytest.raises(DatabaseLimitError, match="BLOB"):
        await database.execute("INSERT INTO t (a) VALUES (?)", [b"\0" * (MAX_VALUE_BYTES + 1)])
    with pytest.raises(DatabaseLimitError):  # 1,000,001 characters, 2,000,002 bytes
        await database.execute("INSERT INTO t (b) VALUES (?)", ["é" * 1_000_001])
    assert await database.query("SELECT count(*) AS n FROM t") == [{"n": 1}]


async def test_booleans_are_stored_as_1_and_0(database: Database) -> None:
    await make_table(database)
    await database.execute("INSERT INTO t (id, a, c) VALUES (1, ?, ?)", [True, False])
    rows = await database.query("SELECT a, c, a = 1 AS yes, c = 0 AS no FROM t")
    assert rows == [{"a": 1, "c": 0, "yes": 1, "no": 1}]
    assert rows[0]["a"] is not True
    assert await database.query("SELECT ? AS t, ? AS f", [True, False]) == [{"t": 1, "f": 0}]


async def test_none_is_null(database: Database) -> None:
    await make_table(database)
    await database.execute("INSERT INTO t (id, a, b) VALUES (?, ?, ?)", [1, None, None])
    assert await database.query("SELECT a, b, a IS NULL AS n FROM t") == [
        {"a": None, "b": None, "n": 1}
    ]
    assert await database.query("SELECT count(*) AS n FROM t WHERE a IS ?", [None]) == [{"n": 1}]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (2**53 - 1, 2**53 - 1),
        (-(2**53) + 1, -(2**53) + 1),
        (2**53, str(2**53)),
        (-(2**53), str(-(2**53))),
        (2**64 + 5, str(2**64 + 5)),
    ],
)
async def test_integers_beyond_javascripts_safe_range_are_stored_as_text(
    database: Database, value: int, stored: object
) -> None:
    await make_table(database)
    await database.execute("INSERT INTO t (id, a) VALUES (1, ?)", [value])
    rows = await database.query("SELECT a, typeof(a) AS type FROM t")
    assert rows[0]["a"] == stored
    assert (rows[0]["type"] == "text") == isinstance(stored, str)


async def test_bytes_are_blobs(database: Database) -> None:
    await make_table(database)
    blob = bytes(range(256))
    await database.execute("INSERT INTO t (id, a) VALUES (1, ?)", [blob])
    await database.execute("INSERT INTO t (id, a) VALUES (2, ?)", [b""])
    rows = await database.query("SELECT a, typeof(a) AS type FROM t ORDER BY id")
    assert rows == [{"a": blob, "type": "blob"}, {"a": b"", "type": "blob"}]


async def test_text_floats_and_unicode_round_trip(database: Database) -> None:
    await make_table(database)
    await database.execute(
        "INSERT INTO t (id, a, b) VALUES (1, ?, ?)", [1.5, "héllo 👋 \x00 ' \" ?"]
    )
    assert await database.query("SELECT a, b FROM t") == [{"a": 1.5, "b": "héllo 👋 \x00 ' \" ?"}]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"a": 1}, [1, 2], object()])
async def test_unsupported_parameters_are_refused(database: Database, value: object) -> None:
    with pytest.raises(DatabaseError):
        await database.query("SELECT ? AS v", [value])  # type: ignore[list-item]


async def test_parameters_must_be_a_sequence(database: Database) -> None:
    with pytest.raises(DatabaseError, match="sequence"):
        await database.query("SELECT ? AS v", "x")


async def test_execute_reports_changes_and_the_last_row_id(database: Database) -> None:
    await make_table(database)
    first = await database.execute("INSERT INTO t (a) VALUES (?)", ["x"])
    assert first == ExecResult(changes=1, last_row_id=1)
    await database.execute("INSERT INTO t (a) VALUES (?)", ["y"])
    updated = await database.execute("UPDATE t SET a = 'z'")
    assert updated.changes == 2


async def test_returning_rows_come_back_from_query_and_batch(database: Database) -> None:
    await make_table(database)
    assert await database.query("INSERT INTO t (a) VALUES ('x') RETURNING id, a") == [
        {"id": 1, "a": "x"}
    ]
    result = await database.execute("INSERT INTO t (a) VALUES ('y') RETURNING id")
    assert result.changes == 1
    assert await database.query("SELECT count(*) AS n FROM t") == [{"n": 2}]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM nowhere", "no such table"),
        ("SELEC 1", "syntax error"),
        ("SELECT ?", "parameter|binding"),
    ],
)
async def test_engine_errors_are_database_errors(
    database: Database, sql: str, message: str
) -> None:
    with pytest.raises(DatabaseError, match=message):
        await database.query(sql)


async def test_refusals_name_d1s_transaction_rule() -> None:
    assert "BEGIN TRANSACTION or SAVEPOINT" in TRANSACTION_MESSAGE
