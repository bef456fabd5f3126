"""A fake of the D1 binding as a Python Worker sees it, backed by ``sqlite3``.

``FakeD1Database`` has the surface that workers-runtime-sdk gives Python code for ``env.DB``
and behaves as D1 does at every point the runtime depends on, so code tested against it
meets no surprise on Cloudflare (the same tests also run against a real local D1):

- ``prepare(sql)`` gives a statement; ``bind(*values)`` a new bound one, converting values
  as Pyodide and D1's ``bind()`` do: ``bool`` -> 1/0, ``None`` -> NULL on the 3.13 runtime
  (and on 3.14, which the Worker runs now; ``"3.13"`` names that behaviour)
  but ``undefined`` (refused) on the 3.12 runtime (``runtime="3.12"``), an ``int`` beyond
  2**53 - 1 -> ``BigInt`` (refused), ``bytes`` or a list of byte values -> BLOB; a ``tuple``
  or ``bytearray`` is refused by the SDK itself (``TypeError``). Refusals raise at ``bind``.
- ``await stmt.all()`` / ``run()`` give ``{"success", "meta", "results"}``; ``first(column)``
  a row, a value or ``None``; ``raw(columnNames=...)`` lists. ``await db.batch([...])`` runs
  statements atomically; ``await db.exec(sql)`` runs a script line by line and gives
  ``{"count", "duration"}``. Results are :class:`JsDict` (dicts with attribute access, like
  the SDK's); values come back as JS would hand them over: BLOBs as lists of ints, numbers
  that are whole and safe as ``int``.
- D1's rules: ``BEGIN``/``COMMIT``/``ROLLBACK``/``SAVEPOINT``/``RELEASE`` refused with D1's
  message; at most 100 bound parameters, 100,000 bytes of SQL per statement, 2,000,000
  bytes per string, BLOB or row (``SQLITE_TOOBIG``); and the rest of workerd's SQLite limits.
- Errors are :class:`JsException` with D1's text, e.g. ``"Error: D1_ERROR: no such table: t:
  SQLITE_ERROR"`` (D1 also gives an ``at offset N`` that ``sqlite3`` does not expose).

``calls`` counts awaited calls (round trips to D1) and ``statements`` the SQL statements run,
for tests and benchmarks that count platform calls. ``meta.rows_read``/``rows_written`` are
approximations (rows returned and rows changed): ``sqlite3`` does not expose D1's counters.

Why a fake where a real local D1 runs (:mod:`helix_agents.testing.d1_bridge`): it lives in
the test process, so the faked platform (:mod:`helix_agents.testing.cloudflare`) and the
``d1-fake`` database kind need no wrangler process, and it counts the round trips
(``calls``) that a test of D1's cost asserts, which the real binding does not report.
``tests/wrangler/test_fake_matches_real_d1.py`` holds it to the real D1. Test code: a
Worker's upload leaves :mod:`helix_agents.testing` out (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..db.rules import (
    MAX_SAFE_INTEGER,
    MAX_STATEMENT_BYTES,
    MAX_VALUE_BYTES,
    SQLITE_LIMITS,
    TRANSACTION_MESSAGE,
    utf8_size,
)
from ..db.sqltext import first_keyword, is_transaction_control, split_statements, strip_comments

__all__ = [
    "FakeD1Database",
    "FakeD1DatabaseSession",
    "FakeD1PreparedStatement",
    "JsDict",
    "JsException",
    "Runtime",
]

Runtime = Literal["3.13", "3.12"]


class JsException(Exception):
    """A JS error as Pyodide raises it: ``str()`` is ``"<name>: <message>"``."""

    def __init__(self, message: str, name: str = "Error") -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


# Named as Pyodide names it (tracebacks that cross into JS show ``pyodide.ffi.JsException``).
JsException.__module__ = "pyodide.ffi"


class JsDict(dict[str, Any]):
    """A JS object as the SDK hands it to Python: a dict that also answers attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED = _Undefined()


class _BigInt(int):
    """A Python int that became a JS ``BigInt``."""


class _JsObject:
    def __init__(self, value: object) -> None:
        self.value = value


_SQLITE_CODE_NAMES = {
    1: "SQLITE_ERROR",
    2: "SQLITE_INTERNAL",
    3: "SQLITE_PERM",
    4: "SQLITE_ABORT",
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    7: "SQLITE_NOMEM",
    8: "SQLITE_READONLY",
    9: "SQLITE_INTERRUPT",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    13: "SQLITE_FULL",
    18: "SQLITE_TOOBIG",
    19: "SQLITE_CONSTRAINT",
    20: "SQLITE_MISMATCH",
    21: "SQLITE_MISUSE",
    23: "SQLITE_AUTH",
    25: "SQLITE_RANGE",
}


class FakeD1Database:
    """A D1 binding over a SQLite file (or memory). See the module docstring."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, runtime: Runtime = "3.13"):
        if runtime not in ("3.13", "3.12"):
            raise ValueError(f"runtime must be '3.13' or '3.12', not {runtime!r}")
        self.runtime: Runtime = runtime
        self.path = os.fspath(path)
        self.calls = 0
        self.statements = 0
        self._own_transaction = False
        conn = sqlite3.connect(self.path, isolation_level=None)
        for name, value in SQLITE_LIMITS.items():
            conn.setlimit(getattr(sqlite3, name), value)
        conn.execute("PRAGMA foreign_keys = ON")  # D1 enforces foreign keys
        conn.set_authorizer(self._authorize)
        self._conn: sqlite3.Connection | None = conn

    def __repr__(self) -> str:
        return f"FakeD1Database({self.path!r}, runtime={self.runtime!r})"

    # -- the binding's surface -------------------------------------------------------------

    def prepare(self, query: str) -> FakeD1PreparedStatement:
        return FakeD1PreparedStatement(self, query)

    async def batch(self, statements: list[FakeD1PreparedStatement]) -> list[JsDict]:
        _refuse_disabled_types(statements)
        if not isinstance(statements, list) or not all(
            isinstance(s, FakeD1PreparedStatement) and s._db is self for s in statements
        ):
            raise JsException("D1_ERROR: batch() takes a list of this database's statements")
        await self._round_trip()
        results = self._transaction([(s._sql, s._params) for s in statements])
        return [_d1_result(result) for result in results]

    async def exec(self, query: str) -> JsDict:
        await self._round_trip()
        started = time.perf_counter()
        lines = [line for line in query.strip().split("\n") if strip_comments(line)]
        if not lines:
            raise JsException("D1_EXEC_ERROR: Error in line 1: : No SQL statements detected.")
        conn = self._connection()
        self._control(conn, "BEGIN")
        try:
            for number, line in enumerate(lines, start=1):
                try:
                    self._run(conn, line, [])
                except JsException as exc:
                    # The local D1 reports "line 1" and the first line's text whichever line
                    # failed; the fake says the same so that tests agree on both.
                    del number
                    detail = exc.message.removeprefix("D1_ERROR: ")
                    raise JsException(
                        f"D1_EXEC_ERROR: Error in line 1: {lines[0]}: {detail}"
                    ) from exc
            self._control(conn, "COMMIT")
        except BaseException:
            self._rollback(conn)
            raise
        return JsDict(count=len(lines), duration=(time.perf_counter() - started) * 1000)

    def withSession(self, constraint_or_bookmark: str | None = None) -> FakeD1DatabaseSession:
        return FakeD1DatabaseSession(self, constraint_or_bookmark)

    # -- the fake's own ----------------------------------------------------------------------

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> FakeD1Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- execution ---------------------------------------------------------------------------

    async def _round_trip(self) -> None:
        # A real binding call crosses to D1 and back: other coroutines run meanwhile. It is
        # a subrequest of the Worker invocation that made it (when one is being counted).
        from .cloudflare.invocations import count_subrequest

        count_subrequest("d1")
        self.calls += 1
        await asyncio.sleep(0)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JsException("D1_ERROR: the fake D1 database is closed")
        return self._conn

    def _transaction(self, queries: Sequence[tuple[str, list[Any]]]) -> list[_Outcome]:
        """Run ``queries`` atomically, as D1 runs one call or one batch."""
        conn = self._connection()
        self._control(conn, "BEGIN")
        try:
            outcomes = [self._run(conn, sql, params) for sql, params in queries]
            self._control(conn, "COMMIT")
        except BaseException:
            self._rollback(conn)
            raise
        return outcomes

    def _run(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> _Outcome:
        started = time.perf_counter()
        if utf8_size(sql) > MAX_STATEMENT_BYTES:
            raise JsException("D1_ERROR: statement too long: SQLITE_TOOBIG")
        statements = split_statements(sql)
        if not statements:
            raise JsException("D1_ERROR: No SQL statements detected.")
        if any(is_transaction_control(statement) for statement in statements):
            raise JsException(f"D1_ERROR: {TRANSACTION_MESSAGE}")
        for value in params:
            if isinstance(value, str) and utf8_size(value) > MAX_VALUE_BYTES:
                raise JsException("D1_ERROR: string or blob too big: SQLITE_TOOBIG")
            if isinstance(value, bytes) and len(value) > MAX_VALUE_BYTES:
                raise JsException("D1_ERROR: string or blob too big: SQLITE_TOOBIG")
        changes_before = conn.total_changes
        size_before = _size(conn)
        try:
            # A multi-statement query runs in order; its bindings go to the last statement.
            for statement in statements[:-1]:
                conn.execute(statement).fetchall()
                self.statements += 1
            cursor = conn.execute(statements[-1], params)
            rows = cursor.fetchall()
            self.statements += 1
        except sqlite3.Error as exc:
            attach = first_keyword(statements[-1]) in ("ATTACH", "DETACH")
            message = "not authorized: SQLITE_AUTH" if attach else _sqlite_message(exc)
            raise JsException(f"D1_ERROR: {message}") from None
        columns = [column[0] for column in cursor.description or ()]
        changes = conn.total_changes - changes_before
        size_after = _size(conn)
        last_row_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        duration = (time.perf_counter() - started) * 1000
        meta = JsDict(
            served_by="helix-fake-d1",
            served_by_primary=True,
            total_attempts=1,
            timings=JsDict(sql_duration_ms=duration),
            duration=duration,
            changes=changes,
            last_row_id=last_row_id,
            changed_db=changes > 0 or size_after != size_before,
            size_after=size_after,
            rows_read=len(rows),
            rows_written=changes,
        )
        return _Outcome(columns, [[_from_sqlite(value) for value in row] for row in rows], meta)

    def _control(self, conn: sqlite3.Connection, sql: str) -> None:
        self._own_transaction = True
        try:
            conn.execute(sql)
        finally:
            self._own_transaction = False

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            self._control(conn, "ROLLBACK")

    def _authorize(self, action: int, *_args: Any) -> int:
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            return sqlite3.SQLITE_OK if self._own_transaction else sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            # D1 has one database: workerd's authorizer refuses ATTACH as "not authorized".
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


class FakeD1DatabaseSession:
    """``db.withSession(...)``: the same database (the fake has no replicas)."""

    def __init__(self, db: FakeD1Database, constraint_or_bookmark: str | None) -> None:
        self._db = db
        self._bookmark: str | None = None
        constraint = (constraint_or_bookmark or "").strip()
        if constraint not in ("", "first-primary", "first-unconstrained"):
            self._bookmark = constraint

    def prepare(self, query: str) -> FakeD1PreparedStatement:
        return FakeD1PreparedStatement(self._db, query, session=self)

    async def batch(self, statements: list[FakeD1PreparedStatement]) -> list[JsDict]:
        results = await self._db.batch(statements)
        self._advance()
        return results

    def getBookmark(self) -> str | None:
        return self._bookmark

    def _advance(self) -> None:
        self._bookmark = f"{self._db.statements:016x}"


class FakeD1PreparedStatement:
    """A prepared statement of the fake; ``bind`` returns a new one, as D1's does."""

    def __init__(
        self,
        db: FakeD1Database,
        sql: str,
        params: list[Any] | None = None,
        *,
        session: FakeD1DatabaseSession | None = None,
    ) -> None:
        self._db = db
        self._sql = sql
        self._params = params or []
        self._session = session

    def bind(self, *values: Any) -> FakeD1PreparedStatement:
        converted = [_d1_bind(_to_js(value, self._db.runtime)) for value in values]
        return FakeD1PreparedStatement(self._db, self._sql, converted, session=self._session)

    async def all(self) -> JsDict:
        return _d1_result(await self._execute())

    async def run(self) -> JsDict:
        return _d1_result(await self._execute())

    async def first(self, column: str | None = None) -> Any:
        outcome = await self._execute()
        if not outcome.rows:
            return None
        row = dict(zip(outcome.columns, outcome.rows[0], strict=True))
        if column is None:
            return JsDict(row)
        if column not in row:
            raise JsException(f"D1_COLUMN_NOTFOUND: Column not found ({column})")
        return row[column]

    async def raw(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        columnNames: bool = False,
    ) -> list[list[Any]]:
        outcome = await self._execute()
        with_names = columnNames or bool((options or {}).get("columnNames", False))
        rows = [list(row) for row in outcome.rows]
        return [list(outcome.columns), *rows] if with_names else rows

    async def _execute(self) -> _Outcome:
        await self._db._round_trip()
        (outcome,) = self._db._transaction([(self._sql, self._params)])
        if self._session is not None:
            self._session._advance()
        return outcome


class _Outcome:
    __slots__ = ("columns", "meta", "rows")

    def __init__(self, columns: list[str], rows: list[list[Any]], meta: JsDict) -> None:
        self.columns = columns
        self.rows = rows
        self.meta = meta


def _d1_result(outcome: _Outcome) -> JsDict:
    results = [JsDict(zip(outcome.columns, row, strict=True)) for row in outcome.rows]
    return JsDict(success=True, meta=JsDict(outcome.meta), results=results)


def _refuse_disabled_types(value: object) -> None:
    # workers-runtime-sdk's python_to_rpc refuses these before JS sees them.
    if isinstance(value, tuple | bytearray):
        raise TypeError(f"{type(value).__name__} cannot be passed to a JS binding")


def _to_js(value: Any, runtime: Runtime) -> Any:
    """The JS value Pyodide and workers-runtime-sdk make of a Python argument."""
    _refuse_disabled_types(value)
    if value is None:
        return None if runtime == "3.13" else _UNDEFINED
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else _BigInt(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value)  # a Uint8Array
    if isinstance(value, list):
        return [_to_js(item, runtime) for item in value]
    return _JsObject(value)


def _d1_bind(value: Any) -> Any:
    """D1's ``bind()`` on one JS value: what it stores, or its D1_TYPE_ERROR."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0  # 1/0, as a JS number
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON carries the parameters: NaN and infinities arrive as null
    if type(value) is int:
        # workerd binds every JS number as a double: ``typeof(?)`` is 'real' on D1 too.
        return float(value)
    if value is None or isinstance(value, str) or type(value) is float:
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, list) and all(type(item) is int and 0 <= item < 256 for item in value):
        return bytes(value)
    js_type, text = _js_typeof(value)
    raise JsException(f"D1_TYPE_ERROR: Type '{js_type}' not supported for value '{text}'")


def _js_typeof(value: Any) -> tuple[str, str]:
    if value is _UNDEFINED:
        return "undefined", "undefined"
    if isinstance(value, _BigInt):
        return "bigint", str(int(value))
    if isinstance(value, list):
        return "object", ",".join("" if item is None else _js_string(item) for item in value)
    return "object", "[object Object]"


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_js_string(item) for item in value)
    if isinstance(value, _JsObject):
        return "[object Object]"
    return str(value)


def _from_sqlite(value: Any) -> Any:
    """A stored value as it reaches Python through JS: numbers are doubles (whole, safe ones
    become ``int``), BLOBs arrays of byte values."""
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    if isinstance(value, bytes):
        return list(value)
    return value


def _size(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(page_size)


def _sqlite_message(exc: sqlite3.Error) -> str:
    """workerd's wording: ``"<sqlite message>: <primary result code>"``."""
    message = str(exc)
    if isinstance(exc, sqlite3.ProgrammingError) and "bindings" in message:
        return "Wrong number of parameter bindings for SQL query."
    if "not authorized" in message:
        return TRANSACTION_MESSAGE
    code = getattr(exc, "sqlite_errorcode", None)
    name = _SQLITE_CODE_NAMES.get(code & 0xFF, "SQLITE_ERROR") if isinstance(code, int) else None
    text = f"{message}: {name or 'SQLITE_ERROR'}"
    extended = getattr(exc, "sqlite_errorname", None)
    if isinstance(code, int) and code > 0xFF and extended:
        # D1 names the extended result code too: "...: SQLITE_CONSTRAINT (extended: ...)".
        text += f" (extended: {extended})"
    return text
