"""The chunk log, written once for both hosts.

A stream is an append-only log of chunks with dense sequence numbers (1, 2, 3, ...) and a
status. This module keeps that log in two SQLite tables through a tiny *synchronous*
executor, because both places it runs are synchronous: the stdlib ``sqlite3`` module on the
local host and a Durable Object's ``ctx.storage.sql.exec(...)`` on Cloudflare. So the rules
here are the Durable Object's:

- no ``BEGIN``/``SAVEPOINT`` in SQL: atomicity comes from :meth:`SqlExecutor.atomic`
  (``BEGIN IMMEDIATE``/``COMMIT`` for sqlite3, ``ctx.storage.transactionSync`` in a DO);
- every cursor is consumed at once (``exec`` returns a list);
- at most 100 bound parameters per statement, integers below 2**53 (sequence numbers and
  millisecond timestamps are far below), and a row under 2 MB (a chunk is refused above
  :data:`MAX_CHUNK_BYTES`).

Superseded attempts (docs/invariants.md invariant 3): when a model step is retried, the loop writes a
``step-reset`` chunk naming the step and attempt it supersedes. The log marks that attempt's
earlier chunks ``superseded`` (and any chunk the attempt still writes later, a zombie, is
stored superseded at once), and reads skip them, so a replay shows only the clean text. The
sequence numbers stay as they were; the reset chunk itself is kept and returned, so a live
reader that already showed the superseded text can react. The log fills in the reset's
``superseded_from``, the first sequence of the superseded attempt, for that decision (none
on a repeated reset of the same attempt: readers decided on the first). Chunks
forwarded from a sub-agent are scoped by the child's session, so the child's step numbers
never collide with the parent's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar, get_args

from pydantic import ValidationError

from ..chunks import Chunk, ChunkBase, SequencedChunk, StepResetChunk, chunk_adapter
from ..clock import wall_clock_ms
from ..errors import (
    InvalidIdError,
    StreamClosedError,
    StreamError,
    StreamNotFoundError,
)
from ..ports.streams import (
    MAX_READ_LIMIT,
    ReadResult,
    StopRequest,
    StreamInfo,
    StreamStatus,
    check_cursor,
    check_limit,
)

__all__ = [
    "FINAL_STATUSES",
    "MAX_CHUNK_BYTES",
    "MAX_READ_LIMIT",
    "Appended",
    "AttemptKey",
    "ChunkLog",
    "Encoded",
    "SqlExecutor",
    "SqlValue",
    "Stored",
    "attempt_key",
    "check_cursor",
    "check_limit",
    "is_superseded_by",
]

T = TypeVar("T")
SqlValue = str | int | float | bytes | None
#: ``(scope, step, attempt)``: which model attempt produced a chunk. ``scope`` is the source
#: session of a sub-agent's chunk, None for the stream's own.
AttemptKey = tuple[str | None, int, int | None]

FINAL_STATUSES: Final = frozenset({"ended", "failed"})
_STATUSES: Final = frozenset(get_args(StreamStatus))
_STOPS: Final = frozenset(get_args(StopRequest))
#: Below the 2 MB row limit of D1 and Durable Object storage, with room for the other columns.
MAX_CHUNK_BYTES: Final = 1_900_000
_MAX_STREAM_ID = 256
_ROW_PARAMS = 8
#: Rows per INSERT: 12 x 8 = 96 bound parameters, under the Durable Object's 100.
_ROWS_PER_INSERT = 100 // _ROW_PARAMS
_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlExecutor(Protocol):
    """The synchronous SQL the chunk log needs (SQLite dialect)."""

    def exec(self, sql: str, *params: SqlValue) -> list[dict[str, Any]]:
        """Run one statement and return every row it produced, as dicts."""
        ...

    def atomic(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which calls :meth:`exec`) as one transaction: all or nothing."""
        ...


@dataclass(frozen=True, slots=True)
class Appended:
    """What one :meth:`ChunkLog.append` did.

    ``chunks`` are the new chunks readers can see, as stored (a reset carries its
    ``superseded_from``); sequences ``first_seq..last_seq`` missing from it were zombie
    chunks of a superseded attempt. ``resets`` lists each reset of the batch with its
    sequence, so an in-memory copy of the log can drop what it supersedes.
    """

    first_seq: int
    last_seq: int
    status: StreamStatus
    stop_requested: StopRequest | None
    chunks: list[SequencedChunk] = field(default_factory=list)
    resets: list[tuple[AttemptKey, int]] = field(default_factory=list)
    #: With ``decode=False`` (:meth:`ChunkLog.append_batches`), the new visible chunks as
    #: stored, undecoded, instead of ``chunks``.
    stored: list[Stored] = field(default_factory=list)
    #: Whether an attempt of the stream had been reset before this batch.
    had_resets: bool = False


@dataclass(frozen=True, slots=True)
class Stored:
    """A chunk as it was stored, not yet decoded: a reader that never comes costs no
    parsing (the local manager's tail decodes on the first read)."""

    seq: int
    kind: str
    key: AttemptKey | None
    data: str

    def decode(self, stream_id: str) -> SequencedChunk:
        """The chunk as any reader of the row gets it."""
        return _decode(stream_id, self.seq, self.data)

    def superseded_by(self, key: AttemptKey) -> bool:
        """:func:`is_superseded_by` without decoding."""
        return _voids(key, self.kind, self.key)


def attempt_key(chunk: Chunk) -> AttemptKey | None:
    """The model attempt a chunk belongs to, or None for chunks no reset can supersede."""
    if chunk.step is None:
        return None
    scope = chunk.source_session_id if chunk.source_session_id is not None else chunk.agent
    return (scope, chunk.step, chunk.attempt)


class ChunkLog:
    """The chunk log over a :class:`SqlExecutor`; every method is synchronous and atomic.

    ``clock`` returns epoch milliseconds (``created_at``/``updated_at`` and the TTL of
    :meth:`cleanup`). Tables are ``{prefix}streams`` and ``{prefix}stream_chunks``; call
    :meth:`migrate` once per connection (or per Durable Object wake-up) before use.
    """

    def __init__(
        self,
        sql: SqlExecutor,
        *,
        clock: Callable[[], int] | None = None,
        prefix: str = "__helix_",
        returning: bool = False,
    ) -> None:
        if not _PREFIX_RE.match(prefix):
            raise ValueError(f"table prefix {prefix!r} must be a SQL identifier")
        self._sql = sql
        #: Appends read and move the stream's row in one ``UPDATE ... RETURNING`` (SQLite
        #: 3.35+) instead of a ``SELECT`` and an ``UPDATE``: the local host's sqlite3.
        self._returning = returning
        self._clock = clock or wall_clock_ms
        self.streams_table = f"{prefix}streams"
        self.chunks_table = f"{prefix}stream_chunks"
        self._insert_sql: dict[int, str] = {}
        #: known_append's guard and row move, by the guard's message.
        self._known_sql: dict[str, tuple[str, str]] = {}

    # -- schema ------------------------------------------------------------------------------

    def schema(self) -> list[str]:
        """The DDL statements, one per string (``sqlite3`` runs one statement per call)."""
        s, c = self.streams_table, self.chunks_table
        return [
            f"""CREATE TABLE IF NOT EXISTS {s} (
                stream_id TEXT PRIMARY KEY NOT NULL,
                status TEXT NOT NULL,
                last_seq INTEGER NOT NULL DEFAULT 0,
                stop_request TEXT,
                resets TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            ) WITHOUT ROWID""",
            # Only the streams cleanup looks for: an index of every stream's status and
            # time would be rewritten by every append (updated_at moves), a page a commit.
            f"DROP INDEX IF EXISTS {s}_by_status",
            f"CREATE INDEX IF NOT EXISTS {s}_ended ON {s} (updated_at)"
            " WHERE status IN ('ended', 'failed')",
            f"""CREATE TABLE IF NOT EXISTS {c} (
                stream_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                step INTEGER,
                attempt INTEGER,
                scope TEXT,
                superseded INTEGER NOT NULL DEFAULT 0,
                data TEXT NOT NULL,
                PRIMARY KEY (stream_id, seq)
            ) WITHOUT ROWID""",
        ]

    def migrate(self) -> None:
        """Create the tables if they do not exist (idempotent, cheap)."""
        for statement in self.schema():
            self._sql.exec(statement)

    # -- operations --------------------------------------------------------------------------

    def create(self, stream_id: str) -> StreamInfo:
        """Create the stream as ``active`` unless it exists; either way, its info."""
        _check_id(stream_id)

        def run() -> StreamInfo:
            now = self._clock()
            self._sql.exec(
                f"INSERT INTO {self.streams_table} (stream_id, status, last_seq, created_at,"
                " updated_at) VALUES (?, 'active', 0, ?, ?) ON CONFLICT (stream_id) DO NOTHING",
                stream_id,
                now,
                now,
            )
            info = self._info(stream_id)
            assert info is not None
            return info

        return self._sql.atomic(run)

    def append(
        self, stream_id: str, chunks: Sequence[Chunk], status: StreamStatus | None = None
    ) -> Appended:
        """Append a batch as one transaction, with the next dense sequence numbers; with
        ``status``, move the stream to it in the same transaction, by the rules of
        :meth:`set_status` (a run's last chunks and its stream's end in one write).

        Raises StreamNotFoundError for an unknown stream, StreamClosedError for an ended or
        failed one (whatever ``status``: nothing is written), and StreamError for a chunk
        over :data:`MAX_CHUNK_BYTES` or an unknown status.
        """
        _check_id(stream_id)
        _check_status(status)
        encoded = self.encode(chunks)
        return self._sql.atomic(lambda: self._append_encoded(stream_id, encoded, status))

    def encode(self, chunks: Sequence[Chunk]) -> list[Encoded]:
        """The chunks as :meth:`append_batches` takes them (the checks of :meth:`append`)."""
        return [_encode(chunk, i) for i, chunk in enumerate(chunks)]

    def append_batches(
        self, batches: Sequence[tuple[str, list[Encoded]]], *, decode: bool = True
    ) -> list[Appended]:
        """Several appends (each a stream and its encoded chunks) as one transaction. With
        ``decode=False`` a batch without resets reports its chunks in ``Appended.stored``
        (the caller decodes them if a reader asks), not in ``Appended.chunks``."""
        for stream_id, _ in batches:
            _check_id(stream_id)
        return self._sql.atomic(
            lambda: [
                self._append_encoded(stream_id, encoded, None, decode)
                for stream_id, encoded in batches
            ]
        )

    def _append_encoded(
        self,
        stream_id: str,
        encoded: list[Encoded],
        status: StreamStatus | None,
        decode: bool = True,
    ) -> Appended:
        if self._returning and encoded and all(e.kind != "step-reset" for e in encoded):
            return self._append_returning(stream_id, encoded, status, decode)
        return self._append(stream_id, encoded, status)

    def read(self, stream_id: str, after: int = 0, limit: int = 1000) -> ReadResult:
        """The visible chunks with sequence > ``after`` (at most ``limit``), never waiting."""
        _check_id(stream_id)
        check_cursor(after)
        check_limit(limit)
        # The status first: a stream that is final now has all its chunks already, so the
        # chunk query below cannot miss any that a reader would then never come back for.
        rows = self._sql.exec(
            f"SELECT status, last_seq FROM {self.streams_table} WHERE stream_id = ?", stream_id
        )
        if not rows:
            raise StreamNotFoundError(f"stream {stream_id!r} does not exist")
        status, last_seq = rows[0]["status"], int(rows[0]["last_seq"])
        data = self._sql.exec(
            f"SELECT seq, data FROM {self.chunks_table} WHERE stream_id = ? AND seq > ?"
            " AND superseded = 0 ORDER BY seq LIMIT ?",
            stream_id,
            after,
            limit,
        )
        return ReadResult(
            chunks=[_decode(stream_id, int(r["seq"]), r["data"]) for r in data],
            status=status,
            last_seq=last_seq,
        )

    def set_status(self, stream_id: str, status: StreamStatus) -> StreamInfo:
        """Move the stream to ``status``. ``ended`` and ``failed`` are final: setting the same
        final status again is a no-op, any other change raises StreamClosedError. Going from
        ``paused`` back to ``active`` clears a recorded stop request (a resumed stream starts
        clean)."""
        _check_id(stream_id)
        _check_status(status)
        if status is None:
            raise StreamError("unknown stream status None")

        def run() -> StreamInfo:
            info = self._info(stream_id)
            if info is None:
                raise StreamNotFoundError(f"stream {stream_id!r} does not exist")
            if info.status == status:
                return info
            _check_move(stream_id, info.status, status)
            self._move(stream_id, status, clear_stop=_clears_stop(info.status, status))
            new = self._info(stream_id)
            assert new is not None
            return new

        return self._sql.atomic(run)

    def request_stop(self, stream_id: str, kind: StopRequest) -> StopRequest | None:
        """Record an interrupt or abort request and return the one now in force.

        An abort is never downgraded to an interrupt. A request for a stream that does not
        exist yet creates it (a stop can race the run's start); a final stream ignores it.
        """
        _check_id(stream_id)
        if kind not in _STOPS:
            raise StreamError(f"unknown stop request {kind!r}; expected interrupt or abort")

        def run() -> StopRequest | None:
            now = self._clock()
            self._sql.exec(
                f"INSERT INTO {self.streams_table} (stream_id, status, last_seq, created_at,"
                " updated_at) VALUES (?, 'active', 0, ?, ?) ON CONFLICT (stream_id) DO NOTHING",
                stream_id,
                now,
                now,
            )
            self._sql.exec(
                f"UPDATE {self.streams_table} SET stop_request = ?, updated_at = ?"
                " WHERE stream_id = ? AND status NOT IN ('ended', 'failed')"
                " AND (stop_request IS NULL OR stop_request != 'abort')",
                kind,
                now,
                stream_id,
            )
            rows = self._sql.exec(
                f"SELECT stop_request FROM {self.streams_table} WHERE stream_id = ?", stream_id
            )
            stop: StopRequest | None = rows[0]["stop_request"]
            return stop

        return self._sql.atomic(run)

    def info(self, stream_id: str) -> StreamInfo | None:
        _check_id(stream_id)
        return self._info(stream_id)

    def state(self, stream_id: str) -> tuple[StreamInfo, StopRequest | None] | None:
        """The stream's info and the stop request in force, or None if it does not exist."""
        _check_id(stream_id)
        rows = self._sql.exec(
            f"SELECT status, last_seq, stop_request, created_at, updated_at"
            f" FROM {self.streams_table} WHERE stream_id = ?",
            stream_id,
        )
        if not rows:
            return None
        row = rows[0]
        return _row_info(stream_id, row), row["stop_request"]

    def cleanup(self, ttl_ms: int, *, limit: int = 100) -> list[str]:
        """Delete up to ``limit`` ended or failed streams (and their chunks) that have not
        changed for ``ttl_ms`` milliseconds; returns their ids. Call it until it returns
        fewer than ``limit`` to clear a backlog (each call is one bounded transaction, which
        keeps a Durable Object's alarm handler short)."""
        if ttl_ms < 0:
            raise StreamError("ttl_ms must be >= 0")

        def run() -> list[str]:
            cutoff = self._clock() - ttl_ms
            rows = self._sql.exec(
                f"SELECT stream_id FROM {self.streams_table} WHERE status IN ('ended', 'failed')"
                " AND updated_at < ? ORDER BY updated_at LIMIT ?",
                cutoff,
                limit,
            )
            ids = [str(r["stream_id"]) for r in rows]
            for stream_id in ids:
                self._sql.exec(f"DELETE FROM {self.chunks_table} WHERE stream_id = ?", stream_id)
                self._sql.exec(f"DELETE FROM {self.streams_table} WHERE stream_id = ?", stream_id)
            return ids

        return self._sql.atomic(run)

    # -- internals ---------------------------------------------------------------------------

    def _info(self, stream_id: str) -> StreamInfo | None:
        rows = self._sql.exec(
            f"SELECT status, last_seq, created_at, updated_at FROM {self.streams_table}"
            " WHERE stream_id = ?",
            stream_id,
        )
        return _row_info(stream_id, rows[0]) if rows else None

    def _move(self, stream_id: str, status: StreamStatus, *, clear_stop: bool) -> None:
        self._sql.exec(
            f"UPDATE {self.streams_table} SET status = ?, updated_at = ?"
            + (", stop_request = NULL" if clear_stop else "")
            + " WHERE stream_id = ?",
            status,
            self._clock(),
            stream_id,
        )

    def _append(
        self, stream_id: str, encoded: list[Encoded], new_status: StreamStatus | None
    ) -> Appended:
        rows = self._sql.exec(
            f"SELECT status, last_seq, stop_request, resets FROM {self.streams_table}"
            " WHERE stream_id = ?",
            stream_id,
        )
        if not rows:
            raise StreamNotFoundError(f"stream {stream_id!r} does not exist")
        row = rows[0]
        current: StreamStatus = row["status"]
        if current in FINAL_STATUSES:
            raise StreamClosedError(f"stream {stream_id!r} is {current}: it takes no more chunks")
        status = current if new_status is None else new_status
        clear_stop = _clears_stop(current, status)
        last_seq = int(row["last_seq"])
        first_seq = last_seq + 1
        stop: StopRequest | None = None if clear_stop else row["stop_request"]
        if not encoded:
            if status != current:
                self._move(stream_id, status, clear_stop=clear_stop)
            return Appended(first_seq, last_seq, status, stop)

        resets: set[AttemptKey] = set()
        if row["resets"]:
            resets = {(s, int(st), a) for s, st, a in json.loads(row["resets"])}
        resets_before = len(resets)
        pending: list[SqlValue] = []
        visible: list[SequencedChunk] = []
        batch_resets: list[tuple[AttemptKey, int]] = []
        seq = last_seq
        for item in encoded:
            seq += 1
            key = item.key
            superseded = key is not None and key in resets and item.kind != "step-reset"
            data = item.data
            chunk = item.chunk
            if item.kind == "step-reset" and key is not None:
                first: int | None = None
                if key not in resets:
                    # Earlier chunks of this batch must be in the table before the reset
                    # looks.
                    self._insert(stream_id, pending)
                    pending = []
                    first = self._supersede(stream_id, key, seq)
                # else: a repeat (each retry names every earlier attempt again, in case the
                # one before it died before its resets went out). The attempt is void
                # already, and no reader was handed any of it after the first reset, which
                # every reader reads first: the repeat voids and shows nothing (no
                # superseded_from). With one, a reader that had read past the first reset
                # without seeing the attempt (a replay) and came back with a later cursor
                # would be told to reset a step it holds whole.
                assert isinstance(chunk, StepResetChunk)
                chunk = chunk.model_copy(update={"superseded_from": first})
                data = chunk.to_json()
                resets.add(key)
                batch_resets.append((key, seq))
                # What this batch already queued for the attempt is superseded as well.
                visible = [v for v in visible if not is_superseded_by(v.chunk, key)]
            scope, step, attempt = key if key is not None else (None, None, None)
            pending += [stream_id, seq, item.kind, step, attempt, scope, int(superseded), data]
            if not superseded:
                # The stored JSON read back: readers share it and never see the writer's
                # objects, exactly as if they had read the row.
                visible.append(_decode(stream_id, seq, data))
        self._insert(stream_id, pending)
        new_resets = (
            json.dumps(sorted(resets, key=_reset_order), separators=(",", ":"))
            if len(resets) != resets_before
            else row["resets"]
        )
        # The new status rides on the same UPDATE: a run's last write ends its stream at no
        # extra cost.
        self._sql.exec(
            f"UPDATE {self.streams_table} SET last_seq = ?, updated_at = ?, resets = ?,"
            " status = ?"
            + (", stop_request = NULL" if clear_stop else "")
            + " WHERE stream_id = ?",
            seq,
            self._clock(),
            new_resets,
            status,
            stream_id,
        )
        return Appended(
            first_seq, seq, status, stop, visible, batch_resets, had_resets=bool(row["resets"])
        )

    def _append_returning(
        self,
        stream_id: str,
        encoded: list[Encoded],
        new_status: StreamStatus | None,
        decode: bool = True,
    ) -> Appended:
        """:meth:`_append` for a batch without resets, in two statements: the row's move
        (which also reads what the batch needs: the sequences taken, the stop request, the
        attempts superseded so far) and the chunks' insert."""
        rows = self._sql.exec(
            f"UPDATE {self.streams_table} SET last_seq = last_seq + ?, updated_at = ?,"
            " status = COALESCE(?, status),"
            # paused -> active clears the stop (_clears_stop): SET sees the old row.
            " stop_request = CASE WHEN status = 'paused' AND COALESCE(?, status) = 'active'"
            " THEN NULL ELSE stop_request END"
            " WHERE stream_id = ? AND status NOT IN ('ended', 'failed')"
            " RETURNING last_seq, status, stop_request, resets",
            len(encoded),
            self._clock(),
            new_status,
            new_status,
            stream_id,
        )
        if not rows:  # unknown or final: the general path raises the right error
            return self._append(stream_id, encoded, new_status)
        row = rows[0]
        last_seq = int(row["last_seq"])
        first_seq = last_seq - len(encoded) + 1
        resets: set[AttemptKey] = set()
        if row["resets"]:
            resets = {(s, int(st), a) for s, st, a in json.loads(row["resets"])}
        pending: list[SqlValue] = []
        visible: list[SequencedChunk] = []
        stored: list[Stored] = []
        for seq, item in enumerate(encoded, start=first_seq):
            key = item.key
            superseded = key is not None and key in resets
            scope, step, attempt = key if key is not None else (None, None, None)
            pending += [stream_id, seq, item.kind, step, attempt, scope, int(superseded), item.data]
            if superseded:
                continue
            if decode:
                visible.append(_decode(stream_id, seq, item.data))
            else:
                stored.append(Stored(seq, item.kind, key, item.data))
        self._insert(stream_id, pending)
        return Appended(
            first_seq,
            last_seq,
            row["status"],
            row["stop_request"],
            visible,
            stored=stored,
            had_resets=bool(row["resets"]),
        )

    def known_append(
        self,
        stream_id: str,
        encoded: list[Encoded],
        *,
        last_seq: int,
        status: StreamStatus,
        stop: StopRequest | None,
        stale: str,
    ) -> tuple[list[tuple[str, list[SqlValue]]], Appended]:
        """An append (no resets, no change of status) to a stream whose row the caller
        knows (the local manager's mirror: ``last_seq``, a live ``status``, ``stop``, and no
        attempt ever reset), as statements that read nothing: a guard that raises
        ``stale`` unless the row is still what the caller knows, the row's move and the
        chunks' insert. They run inside one trigger (:mod:`helix_agents.db.packing`); what
        the append did is known beforehand, undecoded (``Appended.stored``)."""
        known = self._known_sql.get(stale)
        if known is None:  # built once: a step's commit sends these texts every time
            message = stale.replace("'", "''")
            known = self._known_sql[stale] = (
                f"SELECT RAISE(ABORT, '{message}') WHERE NOT EXISTS (SELECT 1 FROM"
                f" {self.streams_table} WHERE stream_id = ? AND last_seq = ? AND status = ?"
                " AND stop_request IS ? AND resets IS NULL)",
                f"UPDATE {self.streams_table} SET last_seq = ?, updated_at = ? WHERE stream_id = ?",
            )
        guard, move = known
        new_last = last_seq + len(encoded)
        statements: list[tuple[str, list[SqlValue]]] = [
            (guard, [stream_id, last_seq, status, stop]),
            (move, [new_last, self._clock(), stream_id]),
        ]
        rows: list[SqlValue] = []
        stored: list[Stored] = []
        for seq, item in enumerate(encoded, start=last_seq + 1):
            scope, step, attempt = item.key if item.key is not None else (None, None, None)
            rows += [stream_id, seq, item.kind, step, attempt, scope, 0, item.data]
            stored.append(Stored(seq, item.kind, item.key, item.data))
        statements += self._inserts(rows)
        return statements, Appended(last_seq + 1, new_last, status, stop, stored=stored)

    def _supersede(self, stream_id: str, key: AttemptKey, reset_seq: int) -> int | None:
        """Mark the attempt's chunks before ``reset_seq`` superseded; its first sequence."""
        scope, step, attempt = key
        where = (
            "WHERE stream_id = ? AND seq < ? AND step = ? AND attempt IS ? AND scope IS ?"
            " AND kind != 'step-reset'"
        )
        rows = self._sql.exec(
            f"SELECT MIN(seq) AS first_seq FROM {self.chunks_table} {where}",
            stream_id,
            reset_seq,
            step,
            attempt,
            scope,
        )
        first = rows[0]["first_seq"] if rows else None
        if first is None:
            return None
        self._sql.exec(
            f"UPDATE {self.chunks_table} SET superseded = 1 {where} AND superseded = 0",
            stream_id,
            reset_seq,
            step,
            attempt,
            scope,
        )
        return int(first)

    def _insert(self, stream_id: str, params: list[SqlValue]) -> None:
        for sql, values in self._inserts(params):
            self._sql.exec(sql, *values)

    def _inserts(self, params: list[SqlValue]) -> list[tuple[str, list[SqlValue]]]:
        """The INSERTs of chunk rows (``_ROW_PARAMS`` values each), at most
        ``_ROWS_PER_INSERT`` rows a statement."""
        rows = len(params) // _ROW_PARAMS
        step = _ROWS_PER_INSERT * _ROW_PARAMS
        statements: list[tuple[str, list[SqlValue]]] = []
        for start in range(0, len(params), step):
            count = min(_ROWS_PER_INSERT, rows - start // _ROW_PARAMS)
            sql = self._insert_sql.get(count)
            if sql is None:
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * count)
                sql = (
                    f"INSERT INTO {self.chunks_table} (stream_id, seq, kind, step, attempt,"
                    f" scope, superseded, data) VALUES {values}"
                )
                self._insert_sql[count] = sql
            statements.append((sql, params[start : start + step]))
        return statements


@dataclass(frozen=True, slots=True)
class Encoded:
    """A chunk checked and serialized for the log (:meth:`ChunkLog.encode`)."""

    chunk: Chunk
    kind: str
    key: AttemptKey | None
    data: str


def _encode(chunk: Chunk, index: int) -> Encoded:
    if not isinstance(chunk, ChunkBase):
        raise StreamError(f"chunk #{index} is a {type(chunk).__name__}, not a chunk")
    try:
        data = chunk.to_json()
    except Exception as exc:  # a value pydantic cannot serialize, e.g. an arbitrary object
        raise StreamError(
            f"chunk #{index} ({chunk.type}) cannot be encoded as JSON: {exc}"
        ) from exc
    # A str of n characters takes at most 4n bytes in UTF-8: skip the encode when that fits.
    if len(data) * 4 > MAX_CHUNK_BYTES and len(data.encode()) > MAX_CHUNK_BYTES:
        raise StreamError(
            f"chunk #{index} ({chunk.type}) is {len(data.encode())} bytes of JSON; a stream"
            f" chunk is limited to {MAX_CHUNK_BYTES} bytes"
        )
    return Encoded(chunk, chunk.type, attempt_key(chunk), data)


def _decode(stream_id: str, seq: int, data: str) -> SequencedChunk:
    try:
        chunk = chunk_adapter.validate_json(data)
    except ValidationError as exc:
        raise StreamError(f"stream {stream_id!r} chunk {seq} is not a valid chunk: {exc}") from exc
    # The constructor, not model_construct: with the pydantic this project pins, construct
    # runs in Python and measured slower (3 to 4 us against 2 to 3 us here); the chunk
    # instance is kept as it is, not validated again.
    return SequencedChunk(seq=seq, chunk=chunk)


def _row_info(stream_id: str, row: dict[str, Any]) -> StreamInfo:
    return StreamInfo(
        stream_id=stream_id,
        status=row["status"],
        last_seq=int(row["last_seq"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


def is_superseded_by(chunk: Chunk, key: AttemptKey) -> bool:
    """Whether a reset of ``key`` supersedes ``chunk`` (if it came before the reset)."""
    return _voids(key, chunk.type, attempt_key(chunk))


def _voids(key: AttemptKey, kind: str, chunk_key: AttemptKey | None) -> bool:
    """A reset of ``key`` voids every chunk of that attempt but the resets themselves."""
    return kind != "step-reset" and chunk_key == key


def _reset_order(key: AttemptKey) -> tuple[str, int, int]:
    scope, step, attempt = key
    return (scope or "", step, attempt if attempt is not None else -1)


def _check_status(status: StreamStatus | None) -> None:
    if status is not None and (not isinstance(status, str) or status not in _STATUSES):
        raise StreamError(f"unknown stream status {status!r}")


def _check_move(stream_id: str, current: StreamStatus, status: StreamStatus) -> None:
    if current in FINAL_STATUSES and status != current:
        raise StreamClosedError(
            f"stream {stream_id!r} is {current}, which is final; it cannot become {status}"
        )


def _clears_stop(current: StreamStatus, status: StreamStatus) -> bool:
    """``paused`` back to ``active``: a resumed stream starts without a stop request."""
    return current == "paused" and status == "active"


def _check_id(stream_id: str) -> None:
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > _MAX_STREAM_ID:
        raise InvalidIdError(
            f"stream id must be a non-empty string of at most {_MAX_STREAM_ID} characters"
        )
