"""The Database port over the standard library's ``sqlite3``, for the local host.

Calls are synchronous under an async API: SQLite on a local file answers in microseconds, a
thread per call would cost more than the call, and the Worker runtime has no threads anyway.
No ``await`` happens inside a ``batch``, so another coroutine can never slip a statement into
its transaction.

The connection is set up for a server: WAL (readers never block the writer), a busy timeout
(several processes may share the file: the host, ``helix`` commands, tests), foreign keys on,
and ``synchronous=NORMAL`` (durable across a killed process, which is what crash recovery
needs). D1's rules hold here too (see :mod:`helix_agents.db.rules`): its limits are applied to
the connection and checked before each statement, and transaction control is refused with
D1's own message, so code that passes locally passes on D1.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from ..errors import DatabaseError, DatabaseLimitError, StorageUnavailableError
from ..ports.database import ExecResult, Param, Row, Statement
from .packing import STALE, Packed, Packer, packable
from .rules import SQLITE_LIMITS, TRANSACTION_MESSAGE, check_statement
from .sqltext import first_keyword, insert_target, is_transaction_control

__all__ = [
    "LOCAL_PAGE_SIZE",
    "LOCAL_WAL_PAGES",
    "HeldWrites",
    "SQLiteDatabase",
    "storage_failure",
    "translate_sqlite_error",
]

T = TypeVar("T")

_TRANSACTION_ACTIONS = frozenset({sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT})
#: SQLite's words for a statement or value over a limit (``SQLITE_TOOBIG``, variable count).
_LIMIT_MARKERS = (
    "too many sql variables",
    "string or blob too big",
    "statement too long",
    "query string is too large",
    "sqlite_toobig",
    "too many columns",
    "expression tree is too large",
    "too many terms in compound select",
    "too many arguments on function",
    "variable number must be between",
)
#: Primary result codes of a storage that cannot take writes (extended codes share their
#: low byte: ``SQLITE_IOERR_WRITE`` is ``SQLITE_IOERR | 3 << 8``).
_SQLITE_IOERR, _SQLITE_FULL = 10, 13
#: The page size of the files the local host creates. A commit writes every page it touched
#: whole to the write-ahead log, and a durable step touches a few pages per table (the row,
#: its indexes) with rows far smaller than a page: at 1 KiB a step writes a quarter of what
#: it writes at SQLite's default 4 KiB (docs/benchmarks.md). Larger values spill into
#: overflow pages, as before. It applies to new files only (SQLite ignores it afterwards).
LOCAL_PAGE_SIZE = 1024
#: Pages the write-ahead log takes before a commit copies them back into the file (SQLite's
#: default is 1,000). A checkpoint costs two fsyncs however few pages it copies, and a step
#: writes about 20 pages a commit, so at 1,000 the syncs came every 25 agent steps and
#: showed in every run's wall time; at 4,000 (4 MiB of log) a checkpoint comes every 100
#: and copies each hot page (the session's row, the stream's) once for more of its
#: versions. Measured in docs/benchmarks.md; the price is a longer pause when one runs.
LOCAL_WAL_PAGES = 4000
#: The connection's page cache, in KiB (SQLite's default is 2,000). A step reads and writes
#: the right edges of some twenty B-trees; once the file outgrew the default (about 450
#: agent steps of one session at 1 KiB pages) every step ran a few percent slower, the
#: growth the 1,000-step runs showed (docs/benchmarks.md). The cache fills only as pages
#: are read: a small file takes what it holds.
LOCAL_CACHE_KIB = 16384


class HeldWrites(Protocol):
    """Writes kept in memory until the file's next transaction (the local host's engine
    journal and stream log share its state file: see :meth:`SQLiteDatabase.hold`)."""

    def has_held(self) -> bool:
        """Whether anything waits to be written."""
        ...

    def write_held(self) -> None:
        """Execute the held writes (on :attr:`SQLiteDatabase.connection`, inside the
        transaction :class:`SQLiteDatabase` opened: no transaction control)."""
        ...

    def held_statements(self) -> Sequence[Packed] | None:
        """The held writes as statements whose results nobody reads, to run inside one
        statement with the others' (:mod:`helix_agents.db.packing`), or None when they must
        go the general way (:meth:`write_held`). Like :meth:`write_held`, :meth:`committed`
        or :meth:`rolled_back` follows."""
        ...

    def committed(self) -> None:
        """The transaction with the held writes committed: forget them, show them."""
        ...

    def rolled_back(self) -> None:
        """It did not: keep them held (the next transaction writes them again)."""
        ...


class SQLiteDatabase:
    """A SQLite file (or ``":memory:"``) behind the :class:`~helix_agents.ports.Database` port."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        #: The file's name, for error messages (a client may read them: no directories).
        self._name = os.path.basename(self.path) or self.path
        self._own_transaction = False
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, cached_statements=256
            )
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if self.path != ":memory:" and not self.path.startswith("file::memory:"):
                conn.execute(f"PRAGMA page_size = {LOCAL_PAGE_SIZE}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA wal_autocheckpoint = {LOCAL_WAL_PAGES}")
                conn.execute(f"PRAGMA cache_size = -{LOCAL_CACHE_KIB}")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            for name, value in SQLITE_LIMITS.items():
                conn.setlimit(getattr(sqlite3, name), value)
        except sqlite3.Error as exc:
            conn.close()
            raise translate_sqlite_error(exc, self._name) from exc
        conn.set_authorizer(self._authorize)
        self._conn: sqlite3.Connection | None = conn
        self._packer = Packer(conn)
        #: SQL text -> whether it is an INSERT into a view (see execute).
        self._into_view: dict[str, bool] = {}
        #: Who holds writes for this file's next transaction, in the order they are written
        #: (the local host: the engine journal, then the stream log).
        self._holders: list[HeldWrites] = []

    def __repr__(self) -> str:
        return f"SQLiteDatabase({self.path!r})"

    # -- the port --------------------------------------------------------------------------

    async def query(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        values = self._check(sql, params)
        conn = self._connection()
        try:
            return _rows(conn.execute(sql, values))
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self._name) from exc

    async def execute(self, sql: str, params: Sequence[Param] = ()) -> ExecResult:
        values = self._check(sql, params)
        conn = self._connection()
        if self._holding() and self._inserts_into_view(sql):
            # An INSERT into a view reports no changes and no row id (its trigger's writes
            # are not counted), so it can run inside one statement with what is held: a
            # step's commit, its claim and its chunks, in one statement (.packing).
            packed = self._pack_held([(sql, values)])
            if packed is not None:
                return _exec_result(packed)

        def run() -> ExecResult:
            cursor = conn.execute(sql, values)
            cursor.fetchall()  # a RETURNING clause completes only once its rows are read
            return _exec_result(cursor)

        return self.write(run)

    async def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        checked = [(s.sql, self._check(s.sql, s.params)) for s in statements]
        if not checked:
            return []
        conn = self._connection()
        if all(first_keyword(sql) in ("SELECT", "WITH") for sql, _ in checked):
            # Reads, by the look of them: one snapshot, and none of the held writes (a read
            # needs nothing of them, and must not fail when the disk cannot take them).
            # query_only makes sure: a statement that writes after all goes the other way.
            try:
                return self._read_only(lambda: [_rows(conn.execute(sql, v)) for sql, v in checked])
            except _WritesAfterAll:
                pass
        if (
            self._holding()
            and all(first_keyword(sql) != "SELECT" and packable(sql) for sql, _ in checked)
            and self._pack_held(checked) is not None
        ):
            # Writes that return no rows, with what is held, ran as one statement (.packing).
            return [[] for _ in checked]
        return self.transaction(lambda: [_rows(conn.execute(sql, v)) for sql, v in checked])

    def _read_only(self, fn: Callable[[], T]) -> T:
        conn = self._connection()
        if conn.in_transaction:
            return self._translated(fn)
        try:
            conn.execute("PRAGMA query_only = ON")
            self._control(conn, "BEGIN")
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY":
                    raise _WritesAfterAll from exc
                raise
            finally:
                if _in_transaction(conn):
                    self._control(conn, "COMMIT")
                conn.execute("PRAGMA query_only = OFF")
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self._name) from exc

    # -- held writes: one transaction for what several writers hold ----------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection, for the writers that share this file (the local host's
        journal and stream log). They write through :meth:`write` and :meth:`transaction`."""
        return self._connection()

    def hold(self, holder: HeldWrites) -> None:
        """Let ``holder`` keep writes in memory until this file's next transaction.

        Every transaction then writes what is held first, holder by holder in the order
        they were added, so held writes keep their order against every later write: a
        step's claim and its stream chunks go out with the step's own write, one commit
        (docs/benchmarks.md). A holder that wants its writes out sooner calls
        :meth:`flush` (from a timer, say)."""
        if holder not in self._holders:
            self._holders.append(holder)

    def flush(self) -> None:
        """Commit whatever is held now (nothing to do when nothing is)."""
        if self._holding() and self._pack_held([]) is None:
            self.transaction(_nothing)

    def _holding(self) -> bool:
        """Whether something is held and no transaction is open (which wrote it already)."""
        if self._conn is None or self._conn.in_transaction:
            return False
        return any(h.has_held() for h in self._holders)

    def _pack_held(self, statements: Sequence[Packed]) -> sqlite3.Cursor | None:
        """What is held, then ``statements``, as one statement (:mod:`.packing`); its
        cursor, or None when that cannot be (nothing was written, the holders keep what
        they hold: the caller goes the general way)."""
        holders = [h for h in self._holders if h.has_held()]
        held: list[Packed] = []
        try:
            for holder in holders:
                mine = holder.held_statements()
                if mine is None:
                    raise _NotPacked
                held.extend(mine)
            cursor = self._packer.run([*held, *statements])
            if cursor is None:
                raise _NotPacked
        except BaseException as exc:
            for holder in holders:
                holder.rolled_back()
            if isinstance(exc, _NotPacked):
                return None
            if isinstance(exc, sqlite3.Error):
                if STALE in str(exc):
                    return None  # a holder's picture of the file is old: the general way
                raise translate_sqlite_error(exc, self._name) from exc
            raise
        for holder in holders:
            holder.committed()
        return cursor

    def _inserts_into_view(self, sql: str) -> bool:
        known = self._into_view.get(sql)
        if known is None:
            target = insert_target(sql)
            known = target is not None and bool(
                self._connection()
                .execute("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = ?", [target])
                .fetchall()
            )
            if len(self._into_view) < 1024:  # the texts a program writes, not unbounded
                self._into_view[sql] = known
        return known

    def write(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one statement on :attr:`connection`): on its own when nothing is
        held, else in one transaction with the held writes before it."""
        if self._conn is not None and self._conn.in_transaction:
            return self._translated(fn)
        for holder in self._holders:
            if holder.has_held():
                return self.transaction(fn)
        return self._translated(fn)

    def transaction(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (statements on :attr:`connection`) in one transaction with the held
        writes first (:meth:`atomic`)."""
        # atomic() without its generator: this runs twice per agent step, and the
        # generator of a context manager costs more than the rest of the Python here.
        conn = self._connection()
        if conn.in_transaction:
            return self._translated(fn)
        try:
            holders = self._begin(conn)
            try:
                result = fn()
                self._control(conn, "COMMIT")  # inside: see _abort
            except BaseException:
                self._abort(conn, holders)
                raise
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self._name) from exc
        for holder in holders:
            holder.committed()
        return result

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` around the block, with the held writes
        first; all or nothing. Nested in a transaction already open, the block joins it.
        No ``await`` may happen inside: another coroutine's statements would join it."""
        conn = self._connection()
        if conn.in_transaction:
            try:
                yield
            except sqlite3.Error as exc:
                raise translate_sqlite_error(exc, self._name) from exc
            return
        try:
            holders = self._begin(conn)
            try:
                yield
                self._control(conn, "COMMIT")  # inside: see _abort
            except BaseException:
                self._abort(conn, holders)
                raise
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self._name) from exc
        for holder in holders:
            holder.committed()

    def _begin(self, conn: sqlite3.Connection) -> list[HeldWrites]:
        """``BEGIN IMMEDIATE`` and the held writes; the holders that wrote."""
        holders = [h for h in self._holders if h.has_held()]
        self._control(conn, "BEGIN IMMEDIATE")
        try:
            for holder in holders:
                holder.write_held()
        except BaseException:
            self._abort(conn, holders)
            raise
        return holders

    def _abort(self, conn: sqlite3.Connection, holders: list[HeldWrites]) -> None:
        """Undo a transaction that failed, its COMMIT included (a full disk fails the
        COMMIT, and a transaction left open would swallow every later write): the holders
        keep what they hold."""
        if _in_transaction(conn):  # SQLite may have rolled back already
            self._control(conn, "ROLLBACK")
        for holder in holders:
            holder.rolled_back()

    def _translated(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self._name) from exc

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- internals -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise DatabaseError(f"the SQLite database {self.path!r} is closed")
        return self._conn

    @staticmethod
    def _check(sql: str, params: Sequence[Param]) -> list[Param]:
        values = check_statement(sql, params)
        # By keyword as well as by the authorizer: a statement SQLite has cached is not
        # authorized again, and our own BEGIN/COMMIT are cached.
        if is_transaction_control(sql):
            raise DatabaseError(TRANSACTION_MESSAGE)
        return values

    def _control(self, conn: sqlite3.Connection, sql: str) -> None:
        self._own_transaction = True
        try:
            conn.execute(sql)
        finally:
            self._own_transaction = False

    def _authorize(self, action: int, *_args: Any) -> int:
        if action in _TRANSACTION_ACTIONS and not self._own_transaction:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


class _NotPacked(Exception):
    """Held writes and a statement cannot run as one (``_pack_held``)."""


class _WritesAfterAll(Exception):
    """A batch taken for reads wrote (``_read_only``): it runs again as a write."""


def _in_transaction(conn: sqlite3.Connection) -> bool:
    return conn.in_transaction


def _nothing() -> None:
    return None


def _exec_result(cursor: sqlite3.Cursor) -> ExecResult:
    return ExecResult(changes=max(cursor.rowcount, 0), last_row_id=cursor.lastrowid)


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    rows = cursor.fetchall()
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def storage_failure(exc: sqlite3.Error, where: str = "") -> StorageUnavailableError | None:
    """A :class:`StorageUnavailableError` if ``exc`` says the disk is full or failing (a
    transient fault of the machine, not of the statement), else None. ``where`` names the
    file or the part that failed, for the message."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL:
        reason = "disk full"
    elif primary == _SQLITE_IOERR:
        reason = "I/O error"
    else:
        return None
    detail = f"{exc} ({getattr(exc, 'sqlite_errorname', 'SQLITE_ERROR')})"
    place = f" writing {where}" if where else ""
    return StorageUnavailableError(f"storage unavailable: {reason}{place}: {detail}", reason=reason)


def translate_sqlite_error(exc: sqlite3.Error, where: str = "") -> DatabaseError:
    """Our error for a ``sqlite3`` one: limits as :class:`DatabaseLimitError`, a full or
    failing disk as :class:`StorageUnavailableError`."""
    storage = storage_failure(exc, where)
    if storage is not None:
        return storage
    message = str(exc) or type(exc).__name__
    lowered = message.lower()
    if "not authorized" in lowered:
        # Only transaction control is denied by the authorizer.
        return DatabaseError(TRANSACTION_MESSAGE)
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        message = f"{message} ({name})"
    if any(marker in lowered for marker in _LIMIT_MARKERS) or name == "SQLITE_TOOBIG":
        return DatabaseLimitError(message)
    return DatabaseError(message)
