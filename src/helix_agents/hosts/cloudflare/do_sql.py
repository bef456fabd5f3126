"""The chunk log's synchronous SQL executor over a Durable Object's SQLite storage.

``ctx.storage.sql.exec(sql, *params)`` runs one statement and returns a cursor, which we
consume at once (``toArray()``: a cursor left open keeps the table locked, and must not
outlive an ``await``). Through the SDK's storage wrapper, ``None`` is bound as SQL NULL and
rows come back as dicts.

``BEGIN``/``SAVEPOINT`` are refused by the runtime inside a Durable Object, so
:meth:`DurableObjectSql.atomic` uses ``ctx.storage.transactionSync(fn)``: ``fn`` runs
synchronously, and an exception rolls everything back. The exception crosses JS on its way
out (it would come back as a ``JsException`` with only its text), so we keep the original
and raise that one instead. ``transactionSync`` is called on the raw JS storage object, not
through the SDK's wrapper, which would keep a proxy of every callback alive forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...errors import DatabaseError
from ...streaming.chunklog import SqlValue

__all__ = ["DurableObjectSql"]

T = TypeVar("T")


class DurableObjectSql:
    """:class:`~helix_agents.streaming.chunklog.SqlExecutor` over ``ctx.storage``."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._sql = storage.sql
        # The raw JS object behind the SDK's wrapper (the fake has no wrapper).
        self._raw = getattr(storage, "_binding", storage)
        self._depth = 0
        #: Statements run so far (for tests and benchmarks).
        self.statements = 0

    def exec(self, sql: str, *params: SqlValue) -> list[dict[str, Any]]:
        self.statements += 1
        try:
            cursor = self._sql.exec(sql, *params)
            rows = cursor.toArray()
        except Exception as exc:
            raise DatabaseError(f"Durable Object storage: {exc}") from exc
        return [_row(row) for row in rows]

    def atomic(self, fn: Callable[[], T]) -> T:
        if self._depth:  # nested: the outer transaction decides
            return fn()
        results: list[T] = []
        errors: list[BaseException] = []

        def body() -> None:
            self._depth += 1
            try:
                results.append(fn())
            except BaseException as exc:
                errors.append(exc)
                raise
            finally:
                self._depth -= 1

        try:
            self._raw.transactionSync(body)
        except BaseException as exc:
            if errors:
                raise errors[0] from None
            raise DatabaseError(f"Durable Object storage: {exc}") from exc
        if errors:  # a runtime that swallowed the error still rolled back
            raise errors[0]
        return results[0]


def _row(row: Any) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return {str(k): v for k, v in row.items()}
    to_py = getattr(row, "to_py", None)
    if callable(to_py):
        return dict(to_py())
    return dict(row)
