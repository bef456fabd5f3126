"""The local engine's tables: instances, the step journal, and buffered events.

They live in the local host's state file, beside the store and the stream log, on its one
connection (a standalone engine opens a file of its own), called directly from the event
loop (no threads): each write is its own transaction, or one with what the file holds
(below), unless a method groups several (:meth:`Journal.transaction`).
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

A ``do`` step's row is *held* at its claim (:meth:`Journal.hold_claim`) and its result
when it completes (:meth:`Journal.hold_result`): both wait in memory for the file's next
transaction, which writes everything held first (``SQLiteDatabase.hold``). On the local
host the journal shares the state file with the store and the stream log, so a step's
claim, its chunks and its own write (the message it stored) are one commit, and the
previous step's result rides along in the same ``INSERT ... ON CONFLICT DO UPDATE``. A
timer writes what is held within ``HOLD_SECONDS`` if nothing else does, so a step that runs
longer (a model streaming for seconds) has its claim on disk by then and a crash mid-attempt
is counted: the next attempt gets a new number. Every chunk is written in a transaction
that writes the held claims first, so no chunk of an attempt is ever on disk without its
claim. A crash in the first ``HOLD_SECONDS`` of an attempt that wrote nothing loses the
claim with everything else of it, and the replay runs it under the same number, which no
reader ever saw. A replayed instance writes its first new claim at once (``hold=False``),
so a step that kills the process every time is still counted and fails in the end.

A crash between a step's result and the next write loses the result, not the step: the
replay runs the step again as its next attempt, as after a crash right before the
result's write (steps are at-least-once at that boundary; the agent loop's steps find their
own writes in the store and do not repeat them).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...db.sqlite import SQLiteDatabase, storage_failure
from ...errors import DatabaseError
from .deadlines import call_by

__all__ = ["InstanceRow", "Journal", "StepRow"]

SCHEMA_VERSION = 1
#: The longest a held claim or result waits for the file's next transaction.
HOLD_SECONDS = 0.005
#: Rows per upsert: 9 x 11 = 99 bound parameters, under the connection's limit of 100.
_ROWS_PER_UPSERT = 9
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
#: The upsert of n held rows, by n (1 to _ROWS_PER_UPSERT), built once.
_UPSERTS = {
    n: f"INSERT INTO engine_steps ({_STEP_COLUMNS}) VALUES "
    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * n)
    + _UPSERT_TAIL
    for n in range(1, _ROWS_PER_UPSERT + 1)
}

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
    """Typed statements over the engine's tables. sqlite3 errors become DatabaseError.

    ``database`` is a path (the journal's own file) or the :class:`SQLiteDatabase` of the
    local host's state file, which the journal shares (and does not close)."""

    def __init__(self, database: str | Path | SQLiteDatabase) -> None:
        if isinstance(database, SQLiteDatabase):
            self._file, self._owns_file = database, False
        else:
            try:
                self._file, self._owns_file = SQLiteDatabase(database, busy_timeout=5.0), True
            except DatabaseError as exc:
                raise DatabaseError(f"cannot open the engine journal {database}: {exc}") from exc
        self.path = self._file.path
        self._db = self._file.connection
        try:
            self._file.transaction(self._create_schema)
        except DatabaseError as exc:
            raise DatabaseError(f"cannot open the engine journal {self.path}: {exc}") from exc
        #: Claims and completed results not written yet, by (instance, step): the row's
        #: insert values (a result replaces its claim: one row written, complete).
        self._held: dict[tuple[str, str], tuple[Any, ...]] = {}
        #: What the transaction in progress is writing (cleared when it commits).
        self._writing: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._timer: asyncio.TimerHandle | None = None
        #: When (loop time) the oldest held row was held: the timer writes it by then plus
        #: HOLD_SECONDS (None: nothing held).
        self._held_since: float | None = None
        self._file.hold(self)

    def _create_schema(self) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(
            "INSERT OR IGNORE INTO engine_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self.flush()
        except DatabaseError:  # the replay runs those steps again: at-least-once
            _log.warning("the engine journal closed with %d rows unwritten", len(self._held))
        if self._owns_file:
            conn, self._db = self._db, None  # type: ignore[assignment]
            try:
                conn.close()
            except sqlite3.Error as exc:  # pragma: no cover - close of a healthy connection
                raise DatabaseError(f"cannot close the engine journal: {exc}") from exc

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _journal_error(exc) from exc

    # -- held claims and results ------------------------------------------------------------

    def hold_claim(self, instance_id: str, row: StepRow, now: int) -> None:
        """Keep a step's row at its claim for the file's next transaction (see the module
        docstring)."""
        self._hold(instance_id, row, now, status=row.status, result=row.result)

    def hold_result(self, instance_id: str, row: StepRow, now: int, *, result: str) -> None:
        """Keep a completed step's result for the file's next transaction."""
        self._hold(instance_id, row, now, status="complete", result=result)

    def _hold(
        self, instance_id: str, row: StepRow, now: int, *, status: str, result: str | None
    ) -> None:
        claimed = self._held.get((instance_id, row.name))
        self._held[(instance_id, row.name)] = (
            instance_id,
            row.name,
            row.ordinal,
            row.kind,
            status,
            result,
            row.attempts,
            None,
            row.detail,
            now if claimed is None else claimed[9],
            now,
        )
        if self._held_since is None:
            self._held_since = asyncio.get_running_loop().time()
        if self._timer is None:
            # Something held has a timer set. One left from an earlier hold (committed()
            # does not cancel it: a cancelled timer stays in the loop's heap, and a step
            # holds and commits twice) fires sooner than this hold needs, and sets itself
            # again for the rest (_flush_later).
            loop = asyncio.get_running_loop()
            self._timer = call_by(loop, self._held_since + HOLD_SECONDS, self._flush_later)

    def flush(self) -> None:
        """Write what is held now (with whatever else the file holds: one transaction)."""
        self._file.flush()

    def _flush_later(self) -> None:
        self._timer = None
        if not self._held:
            return
        since = self._held_since
        loop = asyncio.get_running_loop()
        if since is not None and loop.time() < since + HOLD_SECONDS:
            # Held after this timer was set (an earlier hold's, committed meanwhile).
            self._timer = call_by(loop, since + HOLD_SECONDS, self._flush_later)
            return
        try:
            self.flush()
        except DatabaseError as exc:
            # The run's next write fails the same way and stops it; until then, try again.
            _log.debug("held engine rows not written yet: %s", exc)
            self._timer = asyncio.get_running_loop().call_later(_RETRY_SECONDS, self._flush_later)

    # HeldWrites: called by the file's transactions.

    def has_held(self) -> bool:
        return bool(self._held)

    def write_held(self) -> None:
        try:  # _guard's work, without its generator: this runs on every step's commit
            for sql, params in self.held_statements():
                self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise _journal_error(exc) from exc

    def held_statements(self) -> list[tuple[str, list[Any]]]:
        rows = list(self._held.values())
        statements: list[tuple[str, list[Any]]] = []
        for start in range(0, len(rows), _ROWS_PER_UPSERT):
            part = rows[start : start + _ROWS_PER_UPSERT]
            statements.append((_UPSERTS[len(part)], [value for row in part for value in row]))
        self._writing = dict(self._held)
        return statements

    def committed(self) -> None:
        for key, row in self._writing.items():
            if self._held.get(key) is row:
                del self._held[key]
        self._writing = {}
        if not self._held:
            self._held_since = None  # the timer, if set, finds nothing to write

    def rolled_back(self) -> None:
        self._writing = {}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements atomically (one transaction of the file, held rows first)."""
        with self._guard(), self._file.atomic():
            yield

    def _write(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """One write: alone, or after what the file holds in one transaction."""
        with self._guard():
            return self._file.write(lambda: self._db.execute(sql, params))

    # -- instances ---------------------------------------------------------------------------

    def insert_instance(self, row: InstanceRow) -> bool:
        """Insert a new instance; False if the id exists (ids are write-once)."""
        cursor = self._write(
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
        self._write(
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
        cursor = self._write(
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
        """A step's row at its claim, written now (after what is held, in one transaction)."""
        self._write(
            f"INSERT INTO engine_steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        self._write(
            "UPDATE engine_steps SET status = ?, attempts = ?, result = ?, wake_at = ?, "
            "updated_at = ? WHERE instance_id = ? AND name = ?",
            (status, attempts, result, wake_at, now, instance_id, name),
        )

    # -- events ------------------------------------------------------------------------------

    def insert_event(self, instance_id: str, event_type: str, payload: str, now: int) -> int:
        cursor = self._write(
            "INSERT INTO engine_events (instance_id, type, payload, sent_at) VALUES (?, ?, ?, ?)",
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
        self._write("UPDATE engine_events SET consumed_by = ? WHERE seq = ?", (step_name, seq))

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read-only access for tests and tools (``helix`` inspection commands)."""
        self.flush()
        with self._guard():
            return list(self._db.execute(sql, params))


def _journal_error(exc: sqlite3.Error) -> DatabaseError:
    """Our error for a failed statement of the journal (a full disk: storage unavailable)."""
    return storage_failure(exc, "the engine journal") or DatabaseError(f"engine journal: {exc}")
