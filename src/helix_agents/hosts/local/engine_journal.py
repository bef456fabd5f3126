"""The local engine's SQLite file: instances, the step journal, and buffered events.

One connection, in autocommit mode, called directly from the event loop (no threads):
each statement is its own transaction unless a method groups several in ``BEGIN IMMEDIATE``.
WAL with ``synchronous=NORMAL`` makes a commit a write to the log without an fsync: a
crash of the process loses nothing committed; a power cut may lose the last commits, which
a replay then redoes (steps are at-least-once at that boundary anyway).

Schema (times are ms since the epoch, from the engine's clock)::

    engine_instances(id PK, workflow, params JSON, status, output JSON, error JSON,
                     created_at, updated_at)
    engine_steps(instance_id, name, ordinal, kind do|sleep|wait,
                 status running|retrying|waiting|complete|errored,
                 result JSON  -- the value, the received event, or the encoded error,
                 attempts, wake_at -- retry due / sleep end / wait deadline,
                 detail -- a wait's event type,
                 started_at, updated_at,  PK(instance_id, name))
    engine_events(seq PK, instance_id, type, payload JSON, sent_at, consumed_by)

A ``do`` step costs two writes when it succeeds at once: the row at its first attempt
(so a crash mid-attempt is counted and the next attempt gets a new number) and the result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...db.sqlite import storage_failure
from ...errors import DatabaseError

__all__ = ["InstanceRow", "Journal", "StepRow"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS engine_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS engine_instances (
    id         TEXT PRIMARY KEY,
    workflow   TEXT NOT NULL,
    params     TEXT NOT NULL,
    status     TEXT NOT NULL,
    output     TEXT,
    error      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_instances_unfinished
    ON engine_instances (created_at) WHERE status IN ('queued', 'running', 'waiting');
CREATE TABLE IF NOT EXISTS engine_steps (
    instance_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    ordinal     INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('do', 'sleep', 'wait')),
    status      TEXT NOT NULL,
    result      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    wake_at     INTEGER,
    detail      TEXT,
    started_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engine_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    consumed_by TEXT
);
CREATE INDEX IF NOT EXISTS engine_events_pending
    ON engine_events (instance_id, type, seq) WHERE consumed_by IS NULL;
"""


@dataclass(slots=True)
class InstanceRow:
    id: str
    workflow: str
    params: str
    status: str
    output: str | None
    error: str | None
    created_at: int
    updated_at: int


@dataclass(slots=True)
class StepRow:
    name: str
    ordinal: int
    kind: str
    status: str
    result: str | None
    attempts: int
    wake_at: int | None
    detail: str | None


class Journal:
    """Typed statements over the engine's SQLite file. sqlite3 errors become DatabaseError."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO engine_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the engine journal {self.path}: {exc}") from exc

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error as exc:  # pragma: no cover - close of a healthy connection
            raise DatabaseError(f"cannot close the engine journal: {exc}") from exc

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            failure = storage_failure(exc, "the engine journal")
            raise failure or DatabaseError(f"engine journal: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements atomically (``BEGIN IMMEDIATE`` ... ``COMMIT``)."""
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                # Inside: a COMMIT that fails (a full disk) must not leave the
                # transaction open under every later statement.
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already
                    self._db.execute("ROLLBACK")
                raise

    # -- instances ---------------------------------------------------------------------------

    def insert_instance(self, row: InstanceRow) -> bool:
        """Insert a new instance; False if the id exists (ids are write-once)."""
        with self._guard():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO engine_instances "
                "(id, workflow, params, status, output, error, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.workflow,
                    row.params,
                    row.status,
                    row.output,
                    row.error,
                    row.created_at,
                    row.updated_at,
                ),
            )
            return cursor.rowcount == 1

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        with self._guard():
            found = self._db.execute(
                "SELECT id, workflow, params, status, output, error, created_at, updated_at "
                "FROM engine_instances WHERE id = ?",
                (instance_id,),
            ).fetchone()
        return InstanceRow(*found) if found else None

    def unfinished_instances(self) -> list[tuple[str, str]]:
        """``(id, workflow)`` of every queued, running or waiting instance, oldest first."""
        with self._guard():
            return [
                (str(r[0]), str(r[1]))
                for r in self._db.execute(
                    "SELECT id, workflow FROM engine_instances "
                    "WHERE status IN ('queued', 'running', 'waiting') ORDER BY created_at, id"
                )
            ]

    def set_status(self, instance_id: str, status: str, now: int) -> None:
        """Move an unfinished instance between queued, running and waiting (a final status
        is never overwritten)."""
        with self._guard():
            self._db.execute(
                "UPDATE engine_instances SET status = ?, updated_at = ? "
                "WHERE id = ? AND status IN ('queued', 'running', 'waiting')",
                (status, now, instance_id),
            )

    def finish_instance(
        self,
        instance_id: str,
        status: str,
        now: int,
        *,
        output: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Move an unfinished instance to a final status; False if it was already final
        (e.g. terminated while its last step ran)."""
        with self._guard():
            cursor = self._db.execute(
                "UPDATE engine_instances SET status = ?, output = ?, error = ?, updated_at = ? "
                "WHERE id = ? AND status IN ('queued', 'running', 'waiting')",
                (status, output, error, now, instance_id),
            )
            return cursor.rowcount == 1

    # -- steps -------------------------------------------------------------------------------

    def load_steps(self, instance_id: str) -> list[StepRow]:
        with self._guard():
            return [
                StepRow(*r)
                for r in self._db.execute(
                    "SELECT name, ordinal, kind, status, result, attempts, wake_at, detail "
                    "FROM engine_steps WHERE instance_id = ? ORDER BY ordinal",
                    (instance_id,),
                )
            ]

    def insert_step(
        self,
        instance_id: str,
        row: StepRow,
        now: int,
    ) -> None:
        with self._guard():
            self._db.execute(
                "INSERT INTO engine_steps (instance_id, name, ordinal, kind, status, result, "
                "attempts, wake_at, detail, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    instance_id,
                    row.name,
                    row.ordinal,
                    row.kind,
                    row.status,
                    row.result,
                    row.attempts,
                    row.wake_at,
                    row.detail,
                    now,
                    now,
                ),
            )

    def update_step(
        self,
        instance_id: str,
        name: str,
        now: int,
        *,
        status: str,
        attempts: int,
        result: str | None = None,
        wake_at: int | None = None,
    ) -> None:
        with self._guard():
            self._db.execute(
                "UPDATE engine_steps SET status = ?, attempts = ?, result = ?, wake_at = ?, "
                "updated_at = ? WHERE instance_id = ? AND name = ?",
                (status, attempts, result, wake_at, now, instance_id, name),
            )

    # -- events ------------------------------------------------------------------------------

    def insert_event(self, instance_id: str, event_type: str, payload: str, now: int) -> int:
        with self._guard():
            cursor = self._db.execute(
                "INSERT INTO engine_events (instance_id, type, payload, sent_at) "
                "VALUES (?, ?, ?, ?)",
                (instance_id, event_type, payload, now),
            )
            return int(cursor.lastrowid or 0)

    def oldest_pending_event(
        self, instance_id: str, event_type: str
    ) -> tuple[int, str, int] | None:
        """``(seq, payload, sent_at)`` of the oldest event of that type no wait has taken."""
        with self._guard():
            found = self._db.execute(
                "SELECT seq, payload, sent_at FROM engine_events "
                "WHERE instance_id = ? AND type = ? AND consumed_by IS NULL "
                "ORDER BY seq LIMIT 1",
                (instance_id, event_type),
            ).fetchone()
        return (int(found[0]), str(found[1]), int(found[2])) if found else None

    def consume_event(self, seq: int, step_name: str) -> None:
        """Mark an event taken by a wait (call inside :meth:`transaction`, with the step update)."""
        with self._guard():
            self._db.execute(
                "UPDATE engine_events SET consumed_by = ? WHERE seq = ?", (step_name, seq)
            )

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read-only access for tests and tools (``helix`` inspection commands)."""
        with self._guard():
            return list(self._db.execute(sql, params))
