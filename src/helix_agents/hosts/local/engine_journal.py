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

A ``do`` step's row is written at its first attempt (so a crash mid-attempt is counted and
the next attempt gets a new number), and its result when it completes. The result is
*held* (:meth:`Journal.hold_result`) and goes out with the journal's next write: the next
step's claim carries it in the same statement (one ``INSERT ... ON CONFLICT DO UPDATE`` of
both rows), so a step that succeeds at once costs one write, not two. Every other write and
every read of steps writes what is held first, and a timer writes it within
``HOLD_SECONDS`` if nothing else does. A crash in that window loses a result, not a
step: the replay runs the step again as its next attempt, as after a crash right before the
result's write (steps are at-least-once at that boundary; the agent loop's steps find their
own writes in the store and do not repeat them).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...db.sqlite import LOCAL_PAGE_SIZE, storage_failure
from ...errors import DatabaseError

__all__ = ["InstanceRow", "Journal", "StepRow"]

SCHEMA_VERSION = 1
#: The longest a held result waits for the next journal write before a timer writes it.
HOLD_SECONDS = 0.01
#: After a failed timed write, the next try (the run's own next write may come first).
_RETRY_SECONDS = 0.25

_log = logging.getLogger(__name__)

_STEP_COLUMNS = (
    "instance_id, name, ordinal, kind, status, result, attempts, wake_at, detail, started_at,"
    " updated_at"
)
#: Rows that exist take the new status, result and attempts; new rows are inserted.
_UPSERT_TAIL = (
    " ON CONFLICT (instance_id, name) DO UPDATE SET status = excluded.status,"
    " result = excluded.result, attempts = excluded.attempts, wake_at = excluded.wake_at,"
    " updated_at = excluded.updated_at"
)

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
            self._db.execute(f"PRAGMA page_size={LOCAL_PAGE_SIZE}")
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
        #: Completed results not written yet, by (instance, step): the row's insert values.
        self._held: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._timer: asyncio.TimerHandle | None = None
        #: Called before every write: the local host commits the stream chunks it holds
        #: first, so a step recorded complete never has chunks still to come.
        self.before_write: Callable[[], None] | None = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self.flush()
        except DatabaseError:  # the replay runs those steps again: at-least-once
            _log.warning("the engine journal closed with %d results unwritten", len(self._held))
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

    # -- held results ------------------------------------------------------------------------

    def hold_result(self, instance_id: str, row: StepRow, now: int, *, result: str) -> None:
        """Keep a completed step's result for the next write (see the module docstring)."""
        self._held[(instance_id, row.name)] = (
            instance_id,
            row.name,
            row.ordinal,
            row.kind,
            "complete",
            result,
            row.attempts,
            None,
            row.detail,
            now,
            now,
        )
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(HOLD_SECONDS, self._flush_later)

    def flush(self) -> None:
        """Write the held results now (one statement)."""
        if self.before_write is not None:
            self.before_write()
        if self._held:
            self._upsert([])

    def _flush_later(self) -> None:
        self._timer = None
        try:
            self.flush()
        except DatabaseError as exc:
            # The run's next write fails the same way and stops it; until then, try again.
            _log.debug("held engine results not written yet: %s", exc)
            self._timer = asyncio.get_running_loop().call_later(_RETRY_SECONDS, self._flush_later)

    def _upsert(self, rows: list[tuple[Any, ...]]) -> None:
        """``rows`` and the held results in one statement; what is held is cleared only
        once it is written."""
        every = [*self._held.values(), *rows]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(every))
        params = [value for row in every for value in row]
        with self._guard():
            self._db.execute(
                f"INSERT INTO engine_steps ({_STEP_COLUMNS}) VALUES {values}{_UPSERT_TAIL}",
                params,
            )
        self._held.clear()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements atomically (``BEGIN IMMEDIATE`` ... ``COMMIT``)."""
        self.flush()
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
        self.flush()
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
        self.flush()
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
        self.flush()
        with self._guard():
            cursor = self._db.execute(
                "UPDATE engine_instances SET status = ?, output = ?, error = ?, updated_at = ? "
                "WHERE id = ? AND status IN ('queued', 'running', 'waiting')",
                (status, output, error, now, instance_id),
            )
            return cursor.rowcount == 1

    # -- steps -------------------------------------------------------------------------------

    def load_steps(self, instance_id: str) -> list[StepRow]:
        self.flush()
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
        """A step's row at its claim; the held results go out in the same statement."""
        values = (
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
        )
        if self.before_write is not None:
            self.before_write()
        if self._held:
            self._upsert([values])
            return
        with self._guard():
            self._db.execute(
                f"INSERT INTO engine_steps ({_STEP_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
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
        self.flush()
        with self._guard():
            self._db.execute(
                "UPDATE engine_steps SET status = ?, attempts = ?, result = ?, wake_at = ?, "
                "updated_at = ? WHERE instance_id = ? AND name = ?",
                (status, attempts, result, wake_at, now, instance_id, name),
            )

    # -- events ------------------------------------------------------------------------------

    def insert_event(self, instance_id: str, event_type: str, payload: str, now: int) -> int:
        self.flush()
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
        self.flush()
        with self._guard():
            return list(self._db.execute(sql, params))
