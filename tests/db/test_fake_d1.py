"""What only the fake can show: the Python 3.12 runtime, counters, sessions, its own errors."""

from __future__ import annotations

import pytest

from helix_agents.errors import DatabaseError
from helix_agents.hosts.cloudflare.d1 import D1Database
from helix_agents.ports import Statement
from helix_agents.testing.d1 import FakeD1Database, JsDict, JsException


@pytest.fixture
def fake() -> FakeD1Database:
    with FakeD1Database() as db:
        yield db


@pytest.fixture
def fake_312() -> FakeD1Database:
    with FakeD1Database(runtime="3.12") as db:
        yield db


def test_none_is_undefined_on_the_312_runtime(fake_312: FakeD1Database) -> None:
    with pytest.raises(JsException) as info:
        fake_312.prepare("SELECT ? AS v").bind(None)
    assert str(info.value) == (
        "Error: D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'"
    )
    assert info.value.name == "Error"
    assert info.value.message.startswith("D1_TYPE_ERROR")


async def test_none_is_null_on_the_313_runtime(fake: FakeD1Database) -> None:
    result = await fake.prepare("SELECT ? AS v").bind(None).all()
    assert result["results"] == [{"v": None}]


async def test_the_driver_inlines_null_on_the_312_runtime(fake_312: FakeD1Database) -> None:
    db = D1Database(fake_312, null_mode="inline")
    await db.execute("CREATE TABLE t (a, b, c TEXT)")
    await db.execute("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", [None, 2, None])
    await db.execute("INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3)", [1, None, "x"])
    await db.batch([Statement("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", [None, None, None])])
    rows = await db.query("SELECT a, b, c FROM t ORDER BY rowid")
    assert rows == [
        {"a": None, "b": 2, "c": None},
        {"a": 1, "b": None, "c": "x"},
        {"a": None, "b": None, "c": None},
    ]
    # Question marks inside strings, quoted names and comments are not parameters.
    query = "SELECT '?' AS \"q?\", ? AS v /* ? */ -- ?\n, ? IS NULL AS n"
    assert await db.query(query, ["x", None]) == [{"q?": "?", "v": "x", "n": 1}]


async def test_inlining_refuses_named_parameters(fake_312: FakeD1Database) -> None:
    db = D1Database(fake_312, null_mode="inline")
    with pytest.raises(DatabaseError, match="named parameter"):
        await db.query("SELECT :a AS v", [None])


def test_the_null_mode_follows_the_runtime() -> None:
    with FakeD1Database() as fake:
        assert D1Database(fake).null_mode == "bind"  # CPython here; a 3.12 Worker inlines
        assert D1Database(fake, null_mode="inline").null_mode == "inline"
        with pytest.raises(ValueError, match="null_mode"):
            D1Database(fake, null_mode="sometimes")  # type: ignore[arg-type]


async def test_counters_count_round_trips_and_statements(fake: FakeD1Database) -> None:
    db = D1Database(fake)
    await db.execute("CREATE TABLE t (a)")
    await db.batch([Statement("INSERT INTO t VALUES (1)"), Statement("INSERT INTO t VALUES (2)")])
    assert (fake.calls, fake.statements) == (2, 3)


async def test_results_are_jsdicts(fake: FakeD1Database) -> None:
    result = await fake.prepare("SELECT 1 AS one, 2.0 AS two, 2.5 AS half").all()
    assert isinstance(result, JsDict)
    assert isinstance(result.results[0], JsDict)
    # Numbers cross as JS doubles: whole ones come back as int.
    assert result.results == [{"one": 1, "two": 2, "half": 2.5}]
    assert isinstance(result.results[0]["two"], int)
    with pytest.raises(AttributeError):
        _ = result.nothing
    assert result.meta.served_by == "helix-fake-d1"


async def test_large_integers_come_back_as_doubles(fake: FakeD1Database) -> None:
    rows = (await fake.prepare("SELECT 9007199254740993 AS big").all())["results"]
    assert rows == [{"big": 9007199254740992.0}]


async def test_nan_and_infinity_cross_as_null(fake: FakeD1Database) -> None:
    rows = await fake.prepare("SELECT ? AS a, ? AS b").bind(float("nan"), float("inf")).all()
    assert rows["results"] == [{"a": None, "b": None}]


def test_the_sdk_refuses_a_bytearray(fake: FakeD1Database) -> None:
    with pytest.raises(TypeError):
        fake.prepare("SELECT ?").bind(bytearray(b"x"))


async def test_batch_takes_a_list_of_its_own_statements(fake: FakeD1Database) -> None:
    with pytest.raises(TypeError):
        await fake.batch((fake.prepare("SELECT 1"),))  # type: ignore[arg-type]
    with FakeD1Database() as other, pytest.raises(JsException, match="statements"):
        await fake.batch([other.prepare("SELECT 1")])


async def test_a_row_over_2_mb_is_too_big(fake: FakeD1Database) -> None:
    # D1's documented row limit; a local workerd allows more, so this is the fake's alone.
    await fake.prepare("CREATE TABLE t (a TEXT, b TEXT)").run()
    with pytest.raises(JsException, match="string or blob too big: SQLITE_TOOBIG"):
        await (
            fake.prepare("INSERT INTO t VALUES (?, ?)").bind("a" * 1_200_000, "b" * 1_200_000).run()
        )
    with pytest.raises(JsException, match="SQLITE_TOOBIG"):
        await fake.prepare("SELECT length(?) AS n").bind("x" * 2_000_001).all()
    rows = (await fake.prepare("SELECT length(?) AS n").bind("x" * 1_999_000).all())["results"]
    assert rows == [{"n": 1_999_000}]


async def test_with_session_runs_on_the_same_database(fake: FakeD1Database) -> None:
    session = fake.withSession("first-primary")
    assert session.getBookmark() is None
    await session.prepare("CREATE TABLE t (a)").run()
    await session.batch([session.prepare("INSERT INTO t VALUES (1)")])
    bookmark = session.getBookmark()
    assert isinstance(bookmark, str)
    rows = (await fake.prepare("SELECT a FROM t").all())["results"]
    assert rows == [{"a": 1}]
    assert fake.withSession(bookmark).getBookmark() == bookmark


async def test_a_closed_fake_refuses_calls() -> None:
    fake = FakeD1Database()
    fake.close()
    with pytest.raises(JsException, match="closed"):
        await fake.prepare("SELECT 1").all()
    fake.close()  # twice is fine


def test_the_runtime_is_checked() -> None:
    with pytest.raises(ValueError, match="runtime"):
        FakeD1Database(runtime="3.11")  # type: ignore[arg-type]


async def test_a_file_backed_fake_keeps_its_data(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "d1.sqlite"
    with FakeD1Database(path) as first:
        await first.exec("CREATE TABLE t (a);\nINSERT INTO t VALUES (7);")
    with FakeD1Database(path) as second:
        assert await second.prepare("SELECT a FROM t").first("a") == 7
