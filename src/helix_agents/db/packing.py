"""Several writes run as one SQLite statement: the local host's step commits.

A durable step writes for three owners, each in its own statements: the engine's journal
(the step's claim, the last step's result), the stream log (its row moves, its chunks go
in) and the store (the step's commit). One by one inside ``BEGIN`` ... ``COMMIT`` that is
six statements a step, each a trip from Python into SQLite. SQLite runs a trigger's program
inside the statement that fired it, and a statement outside a transaction is a transaction
of its own; so the same statements, written into the body of an ``INSTEAD OF INSERT``
trigger on a temporary view whose columns are their parameters, run as ONE ``INSERT`` into
that view: all of them or, when any fails (a guard's ``RAISE``, a constraint, a full
disk), none. The statement texts and their order are the *shape*; each shape gets its
view and trigger once per connection (temporary: nothing is written to the file, and a
new process starts with none). A step repeats the same few shapes, so this costs schema
work on the first steps only; past :data:`MAX_SHAPES` a new shape is not packed and goes
the general way.

Only statements whose result nobody reads can be packed (a trigger's statements return
nothing): plain ``INSERT``, ``REPLACE``, ``UPDATE`` and ``DELETE`` without ``RETURNING``,
and a ``SELECT RAISE(...)`` guard (which is only valid inside a trigger). Parameters must be
plain ``?``. Measured in docs/benchmarks.md: fewer statements, and a little less time.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence

from ..ports.database import Param
from .sqltext import first_keyword, param_spans, strip_comments, words

__all__ = ["MAX_SHAPES", "STALE", "Packer", "packable"]

#: Shapes a connection keeps views for. Each new one changes the temporary schema, which
#: makes SQLite prepare every cached statement again: a few dozen at first, then none.
MAX_SHAPES = 64
#: The message of a held write's guard that found the file moved under it (another process
#: wrote): the caller writes the same again the general way, which reads the file.
STALE = "helix: held writes are stale"
#: Above SQLite's compile-time cap on a view's columns (2,000) a shape is not packed.
_MAX_PARAMS = 1999
_PACKABLE_KEYWORDS = frozenset({"INSERT", "REPLACE", "UPDATE", "DELETE", "SELECT"})
_VARIABLES = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
_COLUMNS = sqlite3.SQLITE_LIMIT_COLUMN

Packed = tuple[str, Sequence[Param]]


def packable(sql: str) -> bool:
    """Whether ``sql`` can be one of a trigger's statements (see the module docstring)."""
    # Asked of a batch's statements on every write while something is held: the answers
    # for short texts (every statement of ours) are remembered, as first_keyword's are.
    return _packable(sql) if len(sql) <= 4096 else _scan(sql)


@functools.lru_cache(maxsize=512)
def _packable(sql: str) -> bool:
    return _scan(sql)


def _scan(sql: str) -> bool:
    if first_keyword(sql) not in _PACKABLE_KEYWORDS:
        return False
    if "RETURNING" in words(sql):
        return False
    return all(sql[start:end] == "?" for start, end in param_spans(sql))


class Packer:
    """The packed shapes of one connection (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, *, max_shapes: int = MAX_SHAPES) -> None:
        self._conn = conn
        self._max_shapes = max_shapes
        #: shape -> the INSERT that runs it (None: this shape is not packed).
        self._inserts: dict[tuple[str, ...], str | None] = {}
        self._made = 0
        #: The connection's own limits, and the row a pack fits in without raising them.
        self._variables = conn.getlimit(_VARIABLES)
        self._columns = conn.getlimit(_COLUMNS)
        self._limit = min(self._variables, self._columns)

    def run(self, statements: Sequence[Packed]) -> sqlite3.Cursor | None:
        """Run ``statements`` as one statement: its cursor, or None (nothing run) when their
        shape is not packed. Errors are SQLite's, from the statement that failed (nothing
        is written then)."""
        shape = tuple(sql for sql, _ in statements)
        insert = self._inserts.get(shape, "")
        if insert == "":
            if self._made >= self._max_shapes:
                return None  # not remembered either: the dict stays as small as the views
            insert = self._inserts[shape] = self._make(statements)
        if insert is None:
            return None
        values = [value for _, params in statements for value in params] or [None]
        if len(values) <= self._limit:
            return self._conn.execute(insert, values)
        self._widen(len(values))
        try:
            return self._conn.execute(insert, values)
        finally:
            self._narrow()

    def _widen(self, width: int) -> None:
        """Let one statement have ``width`` parameters and columns. The connection keeps
        D1's limits (100 variables, 100 columns) for every statement the port runs, which
        checks them itself too; a pack's one wide row is ours. Never lowered: SQLite's own
        statements (its temporary schema's) need their columns."""
        self._conn.setlimit(_VARIABLES, max(width, self._variables))
        self._conn.setlimit(_COLUMNS, max(width, self._columns))

    def _narrow(self) -> None:
        """The connection's own limits again (after :meth:`_widen`)."""
        self._conn.setlimit(_VARIABLES, self._variables)
        self._conn.setlimit(_COLUMNS, self._columns)

    def _make(self, statements: Sequence[Packed]) -> str | None:
        """The view and trigger of a new shape; its INSERT, or None if it is not packed."""
        count = sum(len(params) for _, params in statements)
        if count > _MAX_PARAMS or not all(packable(sql) for sql, _ in statements):
            return None
        body: list[str] = []
        index = 0
        for text, params in statements:
            sql = strip_comments(text)  # a "--" comment would swallow what follows it
            out: list[str] = []
            cursor = 0
            spans = param_spans(sql)
            if len(spans) != len(params):
                return None  # SQLite would refuse it anyway: let it, the general way
            for start, end in spans:
                out.append(f"{sql[cursor:start]} NEW.p{index} ")
                index += 1
                cursor = end
            out.append(sql[cursor:])
            body.append("".join(out).strip().rstrip(";"))
        name = f"__helix_pack_{self._made}"
        width = max(count, 1)
        columns = ", ".join(f"NULL AS p{i}" for i in range(width))
        insert = f"INSERT INTO {name} VALUES ({', '.join(['?'] * width)})"
        conn = self._conn
        self._widen(width)
        try:
            conn.execute(f"CREATE TEMP VIEW {name} AS SELECT {columns}")
            try:
                conn.execute(
                    f"CREATE TEMP TRIGGER {name}_apply INSTEAD OF INSERT ON {name} BEGIN "
                    + " ".join(f"{statement};" for statement in body)
                    + " END"
                )
                # Compiled, not run: what a trigger cannot hold after all (a qualified
                # table name, a CTE, a table that does not exist, a limit) fails here,
                # and the statements fail or not the general way, with their own error.
                conn.execute(f"EXPLAIN {insert}", [None] * width).fetchall()
            except sqlite3.Error:
                conn.execute(f"DROP VIEW {name}")  # its trigger goes with it
                return None
        finally:
            self._narrow()
        self._made += 1
        return insert
