"""What every part of the state store shares: the database, the clock, small helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..clock import wall_clock_ms
from ..ports.database import Database, Param, Row, Statement

__all__ = ["Clock", "StoreBase", "wall_clock_ms"]

#: Milliseconds since the epoch, as every timestamp column stores them.
Clock = Callable[[], int]


class StoreBase:
    """The database and clock; each part of :class:`~helix_agents.store.StateStore` adds its
    own methods on top (sessions, messages, runs, control flags, sub-sessions, usage)."""

    def __init__(self, db: Database, *, clock: Clock = wall_clock_ms) -> None:
        self.db = db
        self.clock = clock

    async def _one(self, sql: str, params: Sequence[Param] = ()) -> Row | None:
        rows = await self.db.query(sql, params)
        return rows[0] if rows else None

    async def _batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        return await self.db.batch(statements)
