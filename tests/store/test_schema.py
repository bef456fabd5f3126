"""The schema: the V9 tables exactly as the reference has them, and an idempotent migration."""

from __future__ import annotations

import re

from helix_agents.ports import Database
from helix_agents.store import applied_versions, load_migrations, migrate
from helix_agents.store.migrate import Migration
from tests.support.v9_schema import V9_COLUMNS

ADDED_COLUMNS = {
    "__agents_usage": [
        ("record_id", "TEXT", 0, None, 1),
        ("session_id", "TEXT", 1, None, 0),
        ("run_id", "TEXT", 1, None, 0),
        ("kind", "TEXT", 1, None, 0),
        ("model", "TEXT", 0, None, 0),
        ("input_tokens", "INTEGER", 1, "0", 0),
        ("output_tokens", "INTEGER", 1, "0", 0),
        ("total_tokens", "INTEGER", 1, "0", 0),
        ("requests", "INTEGER", 1, "0", 0),
        ("tool_calls", "INTEGER", 1, "0", 0),
        ("custom", "TEXT", 0, None, 0),
        ("metadata", "TEXT", 0, None, 0),
        ("created_at", "INTEGER", 1, None, 0),
    ],
    "__agents_interrupts": [
        ("session_id", "TEXT", 0, None, 1),
        ("requested", "INTEGER", 1, "0", 0),
        ("reason", "TEXT", 0, None, 0),
        ("requested_at", "INTEGER", 1, None, 0),
    ],
    "__agents_checkpoints": [
        ("session_id", "TEXT", 1, None, 1),
        ("sequence", "INTEGER", 1, None, 2),
        ("step", "INTEGER", 1, None, 0),
        ("kind", "TEXT", 1, None, 0),
        ("custom_state", "TEXT", 0, None, 0),
        ("usage", "TEXT", 0, None, 0),
        ("usage_mark", "INTEGER", 0, None, 0),
        ("created_at", "INTEGER", 1, None, 0),
    ],
    "__agents_schema_version": [
        ("version", "INTEGER", 0, None, 1),
        ("name", "TEXT", 1, None, 0),
        ("applied_at", "INTEGER", 1, None, 0),
    ],
}

NAMED_INDEXES = {
    "idx_agents_states_suspension_expires": (
        "__agents_states",
        "CREATE INDEX idx_agents_states_suspension_expires ON __agents_states "
        "(json_extract(suspension_context, '$.expiresAt')) WHERE suspension_context IS NOT NULL",
    ),
    "idx_agents_runs_session": (
        "__agents_runs",
        "CREATE INDEX idx_agents_runs_session ON __agents_runs (session_id, turn)",
    ),
    "idx_agents_sub_session_refs_child": (
        "__agents_sub_session_refs",
        "CREATE INDEX idx_agents_sub_session_refs_child ON __agents_sub_session_refs "
        "(sub_session_id)",
    ),
    "idx_agents_usage_session": (
        "__agents_usage",
        "CREATE INDEX idx_agents_usage_session ON __agents_usage (session_id)",
    ),
}


async def table_info(db: Database, table: str) -> list[tuple[object, ...]]:
    rows = await db.query(f"PRAGMA table_info({table})")
    return [(r["name"], r["type"], r["notnull"], r["dflt_value"], r["pk"]) for r in rows]


def _normalize(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql.replace("IF NOT EXISTS ", "")).strip()
    return re.sub(r"\( ", "(", sql)


async def test_v9_columns_match_the_reference(database: Database) -> None:
    await migrate(database)
    for table, expected in V9_COLUMNS.items():
        assert await table_info(database, table) == expected, table


async def test_added_tables_have_their_documented_columns(database: Database) -> None:
    await migrate(database)
    for table, expected in ADDED_COLUMNS.items():
        assert await table_info(database, table) == expected, table


async def test_indexes(database: Database) -> None:
    await migrate(database)
    rows = await database.query(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
        "AND tbl_name LIKE '\\_\\_agents%' ESCAPE '\\' AND sql IS NOT NULL ORDER BY name"
    )
    found = {r["name"]: (r["tbl_name"], _normalize(r["sql"])) for r in rows}
    assert found == {name: (table, sql) for name, (table, sql) in NAMED_INDEXES.items()}


async def test_messages_are_unique_per_session_and_sequence(database: Database) -> None:
    await migrate(database)
    indexes = await database.query("PRAGMA index_list(__agents_messages)")
    unique = [i["name"] for i in indexes if i["unique"] and i["origin"] == "u"]
    assert len(unique) == 1
    columns = await database.query(f"PRAGMA index_info({unique[0]})")
    assert [c["name"] for c in sorted(columns, key=lambda c: c["seqno"])] == [
        "session_id",
        "sequence",
    ]


async def test_migration_is_idempotent_and_recorded(database: Database) -> None:
    assert await applied_versions(database) == set()
    versions = [m.version for m in load_migrations()]
    assert await migrate(database) == versions
    assert await migrate(database) == []  # remembered for this Database object
    assert await applied_versions(database) == set(versions)


async def test_migration_reruns_safely_when_not_remembered(database: Database) -> None:
    await migrate(database)
    # Apply every file again, as a second process or wrangler would: nothing breaks.
    from helix_agents.ports import Statement

    for migration in load_migrations():
        await database.batch([Statement(sql) for sql in migration.statements])
    rows = await database.query("SELECT version, name FROM __agents_schema_version")
    assert [(r["version"], r["name"]) for r in rows] == [
        (1, "0001_v9_schema"),
        (2, "0002_step_commits"),
        (3, "0003_schedules"),
        (4, "0004_checkpoints"),
        (5, "0005_summaries"),
        (6, "0006_claimed_firings"),
        (7, "0007_checkpoint_lookups"),
    ]
    assert await table_info(database, "__agents_runs") == V9_COLUMNS["__agents_runs"]


def test_migrations_ship_in_the_package_and_split_into_statements() -> None:
    migrations = load_migrations()
    assert [m.name for m in migrations][:1] == ["0001_v9_schema"]
    first = migrations[0]
    assert isinstance(first, Migration)
    statements = first.statements
    assert all(";" not in s.rstrip(";") or "'" in s for s in statements)
    assert sum(s.startswith("CREATE TABLE") for s in statements) == 7
    assert sum(s.startswith("CREATE INDEX") for s in statements) == 4
    assert statements[-1].startswith("INSERT OR IGNORE INTO __agents_schema_version")
    assert not any("--" in s for s in statements)  # comments are stripped
