"""The Database port: SQL in SQLite's dialect, as D1 runs it.

Contract:

- ``query`` returns rows as dicts (column name to value); ``execute`` returns the number of
  changed rows and the last row id; ``batch`` runs its statements atomically, in order, and
  returns one list of rows per statement: all of them apply or none does.
- There is no ``BEGIN``/``COMMIT``/``SAVEPOINT``: D1 rejects them, so ``batch`` is the only
  transaction. Drivers reject them too, so that code that works locally works on D1.
- D1's limits hold on every driver that claims D1 fidelity: at most 100 bound parameters
  and 100 KB of SQL per statement, 2 MB per row or value.
- Parameters are ``None``, ``bool``, ``int``, ``float``, ``str`` or ``bytes``. Booleans come
  back as 1/0. Integers beyond 2**53 cannot cross into D1: store them as TEXT.
- Errors are :class:`helix_agents.errors.DatabaseError` (or a subclass), never a foreign
  exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Database", "ExecResult", "Param", "Row", "Statement"]

Param = None | bool | int | float | str | bytes
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: Sequence[Param] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ExecResult:
    changes: int
    last_row_id: int | None = None


@runtime_checkable
class Database(Protocol):
    async def query(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        """Run one statement and return its rows."""
        ...

    async def execute(self, sql: str, params: Sequence[Param] = ()) -> ExecResult:
        """Run one statement for its effect."""
        ...

    async def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """Run statements atomically, in order; one list of rows per statement."""
        ...

    async def close(self) -> None:
        """Release the connection (a no-op for bindings)."""
        ...
