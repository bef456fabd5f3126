"""The Database port over a D1 binding: ``env.DB`` in a Worker, or anything with its surface.

The driver uses only what a Python Worker sees of the binding through workers-runtime-sdk
(``prepare(sql).bind(*values)``, awaitable ``all()``/``run()``, ``batch([...])``), so the
same code runs over the real binding, over the fake in :mod:`helix_agents.testing.d1`, and
over the bridge to a real local D1 used by the tests. Results are read duck-typed: the SDK's
``JsDict`` (a dict with attribute access), a plain dict, or a raw ``JsProxy`` (``to_py()``).

Conversions, as D1 makes them (docs/cloudflare-local-checks.md, "What the real local D1 taught us"):

- ``None`` is bound as SQL NULL on the Python 3.13 and 3.14 runtimes (``None`` becomes JS
  ``null``; the worker-real tier shows it on 3.14). On
  the 3.12 runtime ``None`` becomes ``undefined``, which D1 refuses, so the driver writes
  ``NULL`` into the SQL in place of that parameter (``null_mode="inline"``; chosen
  automatically inside a 3.12 Worker);
- ``bool`` is bound as 1/0; an ``int`` beyond 2**53 - 1 as its decimal TEXT (JS would make it
  a ``BigInt``, which D1 refuses); ``bytes`` as a list of byte values (D1's own BLOB form);
- BLOBs come back from D1 as lists of ints and are returned as ``bytes``.

D1's limits are checked before anything is sent (:mod:`helix_agents.db.rules`), and every
exception the binding raises becomes a :class:`~helix_agents.errors.DatabaseError` through
:func:`translate_d1_error`. Nothing here imports ``js`` or ``pyodide``: the module imports on
CPython.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ...db.rules import TRANSACTION_MESSAGE, check_statement
from ...db.sqltext import inline_nulls, is_transaction_control
from ...errors import DatabaseError, DatabaseLimitError
from ...ports.database import ExecResult, Param, Row, Statement

__all__ = ["D1Database", "NullMode", "translate_d1_error"]

NullMode = Literal["auto", "bind", "inline"]

#: Fragments of D1's messages for statements or values over a limit.
_LIMIT_MARKERS = (
    "too many sql variables",
    "sqlite_toobig",
    "string or blob too big",
    "statement too long",
    "too many columns",
    "expression tree is too large",
    "too many terms in compound select",
    "variable number must be between",
)


def translate_d1_error(exc: BaseException) -> DatabaseError:
    """Our error for whatever a D1 binding raised (a ``JsException``, the fake's or the
    bridge's error, a ``TypeError`` from the SDK's conversions).

    D1 reports everything as text (``"D1_ERROR: too many SQL variables at offset 207:
    SQLITE_ERROR"``), so the message decides: D1's limits become
    :class:`~helix_agents.errors.DatabaseLimitError`, everything else
    :class:`~helix_agents.errors.DatabaseError`. The message is kept whole.
    """
    if isinstance(exc, DatabaseError):
        return exc
    message = _message(exc)
    lowered = message.lower()
    if any(marker in lowered for marker in _LIMIT_MARKERS):
        return DatabaseLimitError(message)
    return DatabaseError(message)


class D1Database:
    """A D1 binding behind the :class:`~helix_agents.ports.Database` port.

    ``binding`` is ``env.DB`` (or the fake, or the bridge). ``null_mode``: ``"bind"`` sends
    ``None`` as a parameter (Python 3.13 and later runtimes), ``"inline"`` writes ``NULL`` into the SQL
    (Python 3.12 runtime), ``"auto"`` picks by the running interpreter.
    """

    def __init__(self, binding: Any, *, null_mode: NullMode = "auto") -> None:
        if null_mode == "auto":
            null_mode = _default_null_mode()
        if null_mode not in ("bind", "inline"):
            raise ValueError(f"null_mode must be 'auto', 'bind' or 'inline', not {null_mode!r}")
        self.binding = binding
        self.null_mode: Literal["bind", "inline"] = null_mode

    def __repr__(self) -> str:
        return f"D1Database({self.binding!r}, null_mode={self.null_mode!r})"

    async def query(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        statement = self._prepare(sql, params)
        try:
            result = await statement.all()
        except Exception as exc:
            raise translate_d1_error(exc) from exc
        return _rows(result)

    async def execute(self, sql: str, params: Sequence[Param] = ()) -> ExecResult:
        statement = self._prepare(sql, params)
        try:
            result = await statement.run()
        except Exception as exc:
            raise translate_d1_error(exc) from exc
        meta = _field(_py(result), "meta") or {}
        changes = _field(meta, "changes")
        last_row_id = _field(meta, "last_row_id")
        return ExecResult(
            changes=int(changes or 0),
            last_row_id=None if last_row_id is None else int(last_row_id),
        )

    async def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        prepared = [self._prepare(s.sql, s.params) for s in statements]
        if not prepared:
            return []
        try:
            # A list, never a tuple: the SDK refuses tuples at the JS boundary.
            results = await self.binding.batch(list(prepared))
        except Exception as exc:
            raise translate_d1_error(exc) from exc
        return [_rows(result) for result in _py(results)]

    async def close(self) -> None:
        """Nothing to release: the binding belongs to the Worker's environment."""

    def _prepare(self, sql: str, params: Sequence[Param]) -> Any:
        values = check_statement(sql, params)
        if is_transaction_control(sql):
            # D1 refuses these too; refusing here saves the round trip.
            raise DatabaseError(TRANSACTION_MESSAGE)
        if self.null_mode == "inline" and any(value is None for value in values):
            try:
                sql, values = inline_nulls(sql, values)
            except ValueError as exc:
                raise DatabaseError(str(exc)) from exc
            check_statement(sql, values)  # NULL is longer than ?: the text may have grown
        bound = [list(value) if isinstance(value, bytes) else value for value in values]
        try:
            statement = self.binding.prepare(sql)
            return statement.bind(*bound) if bound else statement
        except Exception as exc:
            raise translate_d1_error(exc) from exc


def _default_null_mode() -> Literal["bind", "inline"]:
    # Pyodide 0.26 (Python 3.12) has no JS null: None crosses as undefined.
    if sys.platform == "emscripten" and sys.version_info < (3, 13):
        return "inline"
    return "bind"


def _py(value: Any) -> Any:
    """A JsProxy converted to Python (the runtime's built-in SDK hands those out)."""
    to_py = getattr(value, "to_py", None)
    return to_py() if callable(to_py) else value


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _rows(result: Any) -> list[Row]:
    results = _field(_py(result), "results")
    if not results:
        return []
    return [{str(key): _value(value) for key, value in dict(_py(row)).items()} for row in results]


def _value(value: Any) -> Any:
    # D1 hands BLOBs out as arrays of byte values; nothing else arrives as a list.
    if isinstance(value, list):
        return bytes(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    text = str(exc)
    if isinstance(message, str) and message and message not in text:
        text = f"{text}: {message}" if text else message
    return text or type(exc).__name__
