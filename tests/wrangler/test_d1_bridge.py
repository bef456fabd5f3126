"""D1's real rules, met through the bridge: what the D1 fake must imitate, and how D1 says it.

These run D1 itself (miniflare's D1 in workerd) and pin the messages the Cloudflare host's
error translation relies on.
"""

from __future__ import annotations

import httpx
import pytest

from helix_agents.testing.d1_bridge import D1BridgeBinding, D1BridgeError, D1JsError

pytestmark = pytest.mark.d1

TRANSACTION_REFUSAL = "use the state.storage.transaction() or state.storage.transactionSync() APIs"


@pytest.mark.parametrize("sql", ["BEGIN", "BEGIN TRANSACTION", "SAVEPOINT sp", "COMMIT"])
async def test_transaction_statements_are_refused(bridge: D1BridgeBinding, sql: str) -> None:
    with pytest.raises(D1JsError) as caught:
        await bridge.prepare(sql).run()
    if sql == "COMMIT":
        # Nothing to commit: SQLite's own complaint, not D1's guard.
        assert caught.value.message.startswith("D1_ERROR: ")
    else:
        assert caught.value.message.startswith("D1_ERROR: To execute a transaction, please")
        assert TRANSACTION_REFUSAL in caught.value.message
    assert str(caught.value) == f"Error: {caught.value.message}"


async def test_exec_refuses_begin_too(bridge: D1BridgeBinding) -> None:
    with pytest.raises(D1JsError) as caught:
        await bridge.exec("BEGIN TRANSACTION")
    assert caught.value.message.startswith("D1_EXEC_ERROR: Error in line 1: BEGIN TRANSACTION: ")
    assert TRANSACTION_REFUSAL in caught.value.message


async def test_at_most_100_bound_parameters(bridge: D1BridgeBinding) -> None:
    placeholders = ", ".join("?" * 100)
    result = await bridge.prepare(f"SELECT {placeholders}").bind(*range(100)).raw()
    assert result == [list(range(100))]
    with pytest.raises(
        D1JsError, match=r"D1_ERROR: too many SQL variables at offset \d+: SQLITE_ERROR"
    ):
        await bridge.prepare(f"SELECT {placeholders}, ?").bind(*range(101)).all()


async def test_at_most_100_000_bytes_of_sql(bridge: D1BridgeBinding) -> None:
    fits = "SELECT '" + "x" * (100_000 - 9) + "'"
    assert len(fits.encode()) == 100_000
    assert await bridge.prepare(fits).raw() == [["x" * (100_000 - 9)]]
    too_long = "SELECT '" + "x" * (100_001 - 9) + "'"
    with pytest.raises(D1JsError, match=r"^Error: D1_ERROR: statement too long: SQLITE_TOOBIG$"):
        await bridge.prepare(too_long).all()


async def test_batch_is_atomic(bridge: D1BridgeBinding) -> None:
    await bridge.exec("CREATE TABLE t (k TEXT PRIMARY KEY)")
    with pytest.raises(D1JsError, match="no such table: missing"):
        await bridge.batch(
            [
                bridge.prepare("INSERT INTO t VALUES (?)").bind("a"),
                bridge.prepare("INSERT INTO missing VALUES (?)").bind("b"),
            ]
        )
    with pytest.raises(D1JsError, match=r"UNIQUE constraint failed: t\.k: SQLITE_CONSTRAINT"):
        await bridge.batch(
            [
                bridge.prepare("INSERT INTO t VALUES (?)").bind("c"),
                bridge.prepare("INSERT INTO t VALUES (?)").bind("c"),
            ]
        )
    assert (await bridge.prepare("SELECT count(*) AS n FROM t").first("n")) == 0

    results = await bridge.batch(
        [
            bridge.prepare("INSERT INTO t VALUES (?)").bind("a"),
            bridge.prepare("SELECT k FROM t"),
        ]
    )
    assert [r["success"] for r in results] == [True, True]
    assert results[0]["meta"]["changes"] == 1
    assert results[1]["results"] == [{"k": "a"}]


async def test_bind_conversions_happen_in_d1(bridge: D1BridgeBinding) -> None:
    await bridge.exec("CREATE TABLE v (x)")  # no type: no affinity, values stay as bound
    values = [True, False, None, b"\x00\x01\xff", 1.5, 2**53 - 1, "text"]
    for value in values:
        await bridge.prepare("INSERT INTO v VALUES (?)").bind(value).run()
    rows = (await bridge.prepare("SELECT x, typeof(x) AS t FROM v ORDER BY rowid").all())["results"]
    assert [(row["x"], row["t"]) for row in rows] == [
        (1, "real"),  # booleans become the numbers 1 and 0 ...
        (0, "real"),  # ... and D1 binds every JS number as a REAL (see below)
        (None, "null"),
        ([0, 1, 255], "blob"),  # BLOBs come back as a list of byte values
        (1.5, "real"),
        (2**53 - 1, "real"),
        ("text", "text"),
    ]


async def test_numbers_bind_as_real_and_affinity_decides(bridge: D1BridgeBinding) -> None:
    """A bound integer reaches SQLite as a double, unlike with sqlite3: an INTEGER column
    turns it back into an integer, a TEXT column keeps "5.0", SQL sees 5.0."""
    await bridge.exec("CREATE TABLE a (i INTEGER, n NUMERIC, r REAL, t TEXT)")
    await bridge.prepare("INSERT INTO a VALUES (?1, ?1, ?1, ?1)").bind(5).run()
    row = await bridge.prepare(
        "SELECT i, typeof(i) AS ti, n, typeof(n) AS tn, r, typeof(r) AS tr, t FROM a"
    ).first()
    assert row == {
        "i": 5,
        "ti": "integer",
        "n": 5,
        "tn": "integer",
        "r": 5,
        "tr": "real",
        "t": "5.0",
    }
    computed = (
        await bridge.prepare(
            "SELECT typeof(?1) AS t, ?1 || '' AS s, json_object('n', ?1) AS j, ?1 = 5 AS eq"
        )
        .bind(5)
        .first()
    )
    assert computed == {"t": "real", "s": "5.0", "j": '{"n":5.0}', "eq": 1}
    # Reading back is lossless: a REAL 5.0 arrives in Python as the int 5.
    assert await bridge.prepare("SELECT r FROM a").first("r") == 5


async def test_values_d1_refuses(bridge: D1BridgeBinding) -> None:
    with pytest.raises(
        D1JsError, match="D1_TYPE_ERROR: Type 'bigint' not supported for value '9007199254740992'"
    ):
        await bridge.prepare("SELECT ?").bind(2**53).all()
    with pytest.raises(D1JsError, match="D1_TYPE_ERROR: Type 'object' not supported"):
        await bridge.prepare("SELECT ?").bind({"a": 1}).all()
    # The SDK refuses tuples before D1 sees them; so does the bridge.
    with pytest.raises(TypeError):
        bridge.prepare("SELECT ?").bind((1, 2))


async def test_result_shapes(bridge: D1BridgeBinding) -> None:
    await bridge.exec(
        "CREATE TABLE r (a INTEGER PRIMARY KEY, b TEXT); INSERT INTO r (b) VALUES ('x');"
    )
    run = await bridge.prepare("INSERT INTO r (b) VALUES (?)").bind("y").run()
    assert run["success"] is True
    assert run["results"] == []
    meta = run["meta"]
    for key in (
        "duration",
        "changes",
        "last_row_id",
        "changed_db",
        "rows_read",
        "rows_written",
        "size_after",
    ):
        assert key in meta, key
    assert (meta["changes"], meta["last_row_id"]) == (1, 2)
    # Attribute access, as on the SDK's JsDict.
    assert run.meta.changes == 1  # type: ignore[attr-defined]

    select = bridge.prepare("SELECT a, b FROM r ORDER BY a")
    assert (await select.all())["results"] == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert await select.first() == {"a": 1, "b": "x"}
    assert await select.first("b") == "x"
    assert await bridge.prepare("SELECT a FROM r WHERE a = ?").bind(99).first() is None
    with pytest.raises(D1JsError, match=r"D1_COLUMN_NOTFOUND: Column not found \(nope\)"):
        await select.first("nope")
    assert await select.raw() == [[1, "x"], [2, "y"]]
    assert await select.raw(columnNames=True) == [["a", "b"], [1, "x"], [2, "y"]]
    assert await select.raw({"columnNames": True}) == [["a", "b"], [1, "x"], [2, "y"]]

    executed = await bridge.exec("INSERT INTO r (b) VALUES ('z');\nDELETE FROM r WHERE b = 'x';")
    assert executed["count"] == 2


async def test_local_d1_does_not_enforce_the_2mb_value_limit(bridge: D1BridgeBinding) -> None:
    """Cloudflare's D1 refuses values over 2 MB; the local D1 (workerd's SQLite) does not.

    So the limit cannot be proven on the real local D1: the D1 fake and the store must
    enforce it themselves. This test notices the day the local D1 starts enforcing it.
    """
    await bridge.exec("CREATE TABLE big (v TEXT)")
    result = await bridge.prepare("INSERT INTO big VALUES (?)").bind("x" * 2_000_001).run()
    assert result["success"] is True
    assert await bridge.prepare("SELECT length(v) AS n FROM big").first("n") == 2_000_001


async def test_reset_empties_the_database(bridge: D1BridgeBinding) -> None:
    await bridge.exec(
        "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT);"
        "CREATE TABLE c (p INTEGER REFERENCES p(id));"
        "CREATE VIEW pv AS SELECT * FROM p;"
        "INSERT INTO p DEFAULT VALUES; INSERT INTO c VALUES (1);"
    )
    assert sorted(await bridge.reset()) == ["c", "p", "pv"]
    left = await bridge.prepare(
        "SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).all()
    assert left["results"] == []


async def test_bridge_failures_are_not_d1_errors(bridge: D1BridgeBinding) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(bridge.url, json={"op": "nope"})
    assert response.status_code == 400
    assert response.json() == {"ok": False, "bridge_error": 'unknown op: "nope"'}

    with httpx.Client(trust_env=False) as probe:
        port = int(probe.base_url.port or 0)  # no server of ours there
    closed = D1BridgeBinding(f"http://127.0.0.1:{port or 9}/")
    with pytest.raises(D1BridgeError, match="unreachable"):
        await closed.prepare("SELECT 1").all()
