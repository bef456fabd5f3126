"""D1's rules, enforced by every driver so that SQL which passes locally passes on D1.

D1 runs SQLite with tighter limits than SQLite's defaults (workerd sets them with
``sqlite3_limit``; the figures: docs/platform.md, platform facts P7 to P9)
and crosses a JS boundary that only carries a few value types. The drivers check both here,
before a statement reaches the engine, so the error names the limit instead of surfacing as
an opaque engine failure — and so the local SQLite driver refuses exactly what D1 refuses.

Value conversions (the D1 binding's own, made explicit for every driver):

- ``bool`` is stored as ``1``/``0`` and reads back as an ``int``;
- an ``int`` beyond JavaScript's safe range (``abs(x) > 2**53 - 1``) cannot cross into D1 (it
  would become a ``BigInt``, which D1 refuses): it is stored as its decimal TEXT;
- ``bytes`` (or ``bytearray``/``memoryview``) are a BLOB; NaN and infinities are refused
  (JSON, which carries D1's parameters, has no spelling for them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import DatabaseError, DatabaseLimitError
from ..ports.database import Param

__all__ = [
    "MAX_BOUND_PARAMETERS",
    "MAX_SAFE_INTEGER",
    "MAX_STATEMENT_BYTES",
    "MAX_VALUE_BYTES",
    "SQLITE_LIMITS",
    "TRANSACTION_MESSAGE",
    "check_statement",
    "convert_param",
    "utf8_size",
]

#: Bound parameters per statement (``SQLITE_LIMIT_VARIABLE_NUMBER`` in workerd).
MAX_BOUND_PARAMETERS = 100
#: Bytes of SQL text per statement, also per statement inside a batch (``SQLITE_LIMIT_SQL_LENGTH``).
MAX_STATEMENT_BYTES = 100_000
#: Bytes per string, BLOB or row, as D1 documents it. (A local workerd allows 2,200,000.)
MAX_VALUE_BYTES = 2_000_000
#: ``Number.MAX_SAFE_INTEGER``: larger ints become a JS ``BigInt``, which D1 refuses.
MAX_SAFE_INTEGER = 2**53 - 1

#: The limits workerd puts on every D1 database (``SqliteDatabase::setupSecurity``), with the
#: value limit at D1's documented 2 MB. The SQLite driver and the D1 fake apply all of them
#: (by name: this module is also imported in a Worker, where ``sqlite3`` is not).
SQLITE_LIMITS: dict[str, int] = {
    "SQLITE_LIMIT_LENGTH": MAX_VALUE_BYTES,
    "SQLITE_LIMIT_SQL_LENGTH": MAX_STATEMENT_BYTES,
    "SQLITE_LIMIT_COLUMN": 100,
    "SQLITE_LIMIT_EXPR_DEPTH": 100,
    "SQLITE_LIMIT_COMPOUND_SELECT": 5,
    "SQLITE_LIMIT_VDBE_OP": 25_000,
    "SQLITE_LIMIT_FUNCTION_ARG": 127,
    "SQLITE_LIMIT_ATTACHED": 0,
    "SQLITE_LIMIT_LIKE_PATTERN_LENGTH": 50,
    "SQLITE_LIMIT_VARIABLE_NUMBER": MAX_BOUND_PARAMETERS,
    "SQLITE_LIMIT_TRIGGER_DEPTH": 10,
    "SQLITE_LIMIT_WORKER_THREADS": 0,
}

#: What D1 answers to ``BEGIN``, ``COMMIT``, ``ROLLBACK``, ``SAVEPOINT`` and ``RELEASE``
#: (workerd's SQL storage refuses SQL transactions; D1 runs on it).
TRANSACTION_MESSAGE = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, the unit of every D1 limit."""
    if text.isascii():  # O(1) in CPython: no copy for the common case
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def check_statement(sql: str, params: Sequence[Param]) -> list[Param]:
    """Refuse what D1 would refuse; return the parameters converted as D1 stores them."""
    if not isinstance(sql, str):
        raise DatabaseError(f"SQL must be a str, not {type(sql).__name__}")
    # At most 4 bytes a character: a text that short needs no count.
    size = len(sql) if len(sql) * 4 <= MAX_STATEMENT_BYTES else utf8_size(sql)
    if size > MAX_STATEMENT_BYTES:
        raise DatabaseLimitError(
            f"statement too long: {size} bytes of SQL; D1 allows at most "
            f"{MAX_STATEMENT_BYTES} bytes per statement (SQLITE_TOOBIG)"
        )
    # A list or tuple first, by exact type: the ABC's isinstance is slow.
    if (
        type(params) is not list
        and type(params) is not tuple
        and (isinstance(params, str | bytes) or not isinstance(params, Sequence))
    ):
        raise DatabaseError(f"parameters must be a sequence of values, not {type(params).__name__}")
    if len(params) > MAX_BOUND_PARAMETERS:
        raise DatabaseLimitError(
            f"too many SQL variables: {len(params)} bound parameters; D1 allows at most "
            f"{MAX_BOUND_PARAMETERS} per statement"
        )
    out: list[Param] = []
    for index, value in enumerate(params, start=1):
        # The common cases first, by exact type (bool is an int subclass, and is not
        # caught here): a str that cannot be over the limit even at 4 bytes a character, an
        # int in range, None, a finite float. Everything else goes the long way.
        if type(value) is str:
            if len(value) <= _SURELY_SMALL:
                out.append(value)
                continue
        elif type(value) is int:
            if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                out.append(value)
                continue
        elif value is None:
            out.append(None)
            continue
        elif type(value) is float and math.isfinite(value):
            out.append(value)
            continue
        out.append(convert_param(value, index))
    return out


#: A string of at most this many characters is at most MAX_VALUE_BYTES in UTF-8 (4 bytes a
#: character at most; a lone surrogate, as "surrogatepass" writes it, takes 3).
_SURELY_SMALL = MAX_VALUE_BYTES // 4


def convert_param(value: object, index: int = 1) -> Param:
    """One parameter as D1 stores it (see the module docstring)."""
    if value is None or isinstance(value, str):
        if value is not None and (size := utf8_size(value)) > MAX_VALUE_BYTES:
            raise _too_big(index, size, "string")
        return value
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DatabaseError(f"parameter {index} is {value!r}: D1 cannot store NaN or infinity")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        blob = bytes(value)
        if len(blob) > MAX_VALUE_BYTES:
            raise _too_big(index, len(blob), "BLOB")
        return blob
    raise DatabaseError(
        f"parameter {index} has unsupported type {type(value).__name__}: use None, bool, int, "
        "float, str or bytes"
    )


def _too_big(index: int, size: int, kind: str) -> DatabaseLimitError:
    return DatabaseLimitError(
        f"string or blob too big: parameter {index} is a {kind} of {size} bytes; D1 allows at "
        f"most {MAX_VALUE_BYTES} bytes per value (SQLITE_TOOBIG)"
    )
