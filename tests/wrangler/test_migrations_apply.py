"""`wrangler d1 migrations apply --local` runs migrations/ on a real local D1, and the result
is exactly the V9 schema of the reference (helix-cloudflare-workflows-runtime-v7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.v9_schema import V9_COLUMNS
from tests.wrangler.helpers import ROOT, run_wrangler

pytestmark = [pytest.mark.wrangler, pytest.mark.d1]


_TABLES = ", ".join(f"'{name}'" for name in V9_COLUMNS)

# One `d1 execute` (each wrangler run costs seconds): columns, indexes, index columns, DDL.
_INSPECT = f"""
SELECT m.name AS tbl, p.cid, p.name, p.type, p."notnull" AS not_null, p.dflt_value, p.pk
  FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
  WHERE m.type = 'table' AND m.name IN ({_TABLES}) ORDER BY m.name, p.cid;
SELECT m.name AS tbl, l.name AS idx, l."unique" AS uniq, l.origin, l.partial
  FROM sqlite_master AS m JOIN pragma_index_list(m.name) AS l
  WHERE m.type = 'table' AND m.name IN ({_TABLES});
SELECT l.name AS idx, i.seqno, i.cid, i.name
  FROM sqlite_master AS m JOIN pragma_index_list(m.name) AS l JOIN pragma_index_xinfo(l.name) AS i
  WHERE m.type = 'table' AND m.name IN ({_TABLES}) AND i.key = 1 ORDER BY l.name, i.seqno;
SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN ({_TABLES});
"""


def _execute(persist: Path, sql: str) -> list[list[dict[str, Any]]]:
    output = run_wrangler(
        "d1", "execute", "DB", "--local", "--persist-to", str(persist), "--json", "--command", sql
    )
    return [statement["results"] for statement in json.loads(output)]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    persist = tmp_path_factory.mktemp("d1-local")
    output = run_wrangler(
        "d1", "migrations", "apply", "DB", "--local", "--persist-to", str(persist)
    )
    return persist, output


@pytest.fixture(scope="module")
def schema(applied: tuple[Path, str]) -> dict[str, list[dict[str, Any]]]:
    columns, indexes, index_columns, objects = _execute(applied[0], _INSPECT)
    return {
        "columns": columns,
        "indexes": indexes,
        "index_columns": index_columns,
        "objects": objects,
    }


def test_apply_runs_every_migration(applied: tuple[Path, str]) -> None:
    persist, output = applied
    assert "0001_v9_schema.sql" in output
    (names,) = _execute(persist, "SELECT name FROM d1_migrations ORDER BY id")
    assert [row["name"] for row in names] == sorted(
        p.name for p in (ROOT / "migrations").glob("*.sql")
    )
    # Applied migrations are recorded: a second apply has nothing to do.
    again = run_wrangler("d1", "migrations", "apply", "DB", "--local", "--persist-to", str(persist))
    assert "No migrations to apply" in again, again


def test_v9_tables_have_exactly_the_reference_columns(schema: dict[str, Any]) -> None:
    actual: dict[str, list[tuple[str, str, int, str | None, int]]] = {}
    for row in schema["columns"]:
        actual.setdefault(row["tbl"], []).append(
            (row["name"], row["type"], row["not_null"], row["dflt_value"], row["pk"])
        )
    assert actual == V9_COLUMNS


def test_messages_are_unique_per_session_and_sequence(schema: dict[str, Any]) -> None:
    unique = {
        row["idx"]
        for row in schema["indexes"]
        if row["tbl"] == "__agents_messages" and row["uniq"] == 1 and row["origin"] == "u"
    }
    columns = {
        idx: [row["name"] for row in schema["index_columns"] if row["idx"] == idx] for idx in unique
    }
    assert list(columns.values()) == [["session_id", "sequence"]]
    (table,) = [
        row
        for row in schema["objects"]
        if row["type"] == "table" and row["name"] == "__agents_messages"
    ]
    assert "AUTOINCREMENT" in table["sql"].upper()


def test_partial_index_on_suspension_expiry(schema: dict[str, Any]) -> None:
    partial = [
        row["idx"]
        for row in schema["indexes"]
        if row["tbl"] == "__agents_states" and row["partial"] == 1
    ]
    assert len(partial) == 1
    (key,) = [row for row in schema["index_columns"] if row["idx"] == partial[0]]
    assert key["cid"] == -2  # an expression, not a column
    (ddl,) = [row["sql"] for row in schema["objects"] if row["name"] == partial[0]]
    normalized = " ".join(ddl.split())
    assert "json_extract(suspension_context, '$.expiresAt')" in normalized
    assert normalized.endswith("WHERE suspension_context IS NOT NULL")
