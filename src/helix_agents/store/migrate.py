"""The programmatic migration: the same ``migrations/*.sql`` that wrangler applies.

The files ship inside the package (``helix_agents/store/migrations``; the repository's
top-level ``migrations`` is a link to that folder), so ``wrangler d1 migrations apply`` and
the runtime read one source of truth. Each file is applied atomically, as one ``batch`` of
its statements plus a row in ``__agents_schema_version``; every statement is idempotent
(``IF NOT EXISTS``/``OR IGNORE``), so either path may run first, or both.

:func:`migrate` is cheap enough to call on every request: it remembers each Database object
it brought up to date, and otherwise costs one query (the applied versions).
"""

from __future__ import annotations

import functools
import re
import weakref
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..db.sqltext import split_statements
from ..errors import DatabaseError
from ..ports.database import Database, Statement

__all__ = ["Migration", "applied_versions", "ensure_schema", "load_migrations", "migrate"]

_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")
_RECORD = (
    "INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at) "
    "VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"
)
_up_to_date: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def statements(self) -> list[str]:
        return split_statements(self.sql)


@functools.cache
def load_migrations() -> tuple[Migration, ...]:
    """The package's migrations, in version order (read once, on first use)."""
    folder = resources.files("helix_agents.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match[1]), entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return tuple(found)


async def applied_versions(db: Database) -> set[int]:
    """The versions recorded in ``__agents_schema_version`` (none on a fresh database)."""
    try:
        rows = await db.query("SELECT version FROM __agents_schema_version")
    except DatabaseError as exc:
        if "no such table" in str(exc):
            return set()
        raise
    return {int(row["version"]) for row in rows}


async def migrate(db: Database) -> list[int]:
    """Bring ``db`` up to the package's schema; return the versions applied now."""
    if _remembered(db):
        return []
    done = await applied_versions(db)
    applied = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        statements = [Statement(sql) for sql in migration.statements]
        statements.append(Statement(_RECORD, [migration.version, migration.name]))
        await db.batch(statements)
        applied.append(migration.version)
    try:
        _up_to_date.add(db)
    except TypeError:  # not weak-referenceable: check the versions each time
        pass
    return applied


#: The name that reads best at a call site that only wants the tables to be there.
ensure_schema = migrate


def _remembered(db: Database) -> bool:
    try:
        return db in _up_to_date
    except TypeError:
        return False
