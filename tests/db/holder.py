"""A writer that holds rows for a :class:`SQLiteDatabase`'s next transaction (HeldWrites),
for the tests of held writes and of packing them into one statement."""

from __future__ import annotations

from helix_agents.db.sqlite import SQLiteDatabase


class Holder:
    """Holds ``rows``; writes each as ``sql`` with one parameter, ``prefix`` + the row.
    ``extra`` statements go first when packed; ``packs = False`` refuses to be packed.
    ``events`` records what the database asked of it."""

    def __init__(
        self,
        db: SQLiteDatabase,
        sql: str,
        *,
        prefix: str = "",
        extra: list[tuple[str, list[object]]] | None = None,
    ) -> None:
        self.db = db
        self.sql = sql
        self.prefix = prefix
        self.rows: list[str] = []
        self.extra = extra or []
        self.packs = True
        self.events: list[str] = []
        db.hold(self)

    def has_held(self) -> bool:
        return bool(self.rows)

    def write_held(self) -> None:
        for row in self.rows:
            self.db.connection.execute(self.sql, (self.prefix + row,))
        self.events.append("write")

    def held_statements(self) -> list[tuple[str, list[object]]] | None:
        self.events.append("pack")
        if not self.packs:
            return None
        return [*self.extra, *((self.sql, [self.prefix + row]) for row in self.rows)]

    def committed(self) -> None:
        self.rows.clear()
        self.events.append("committed")

    def rolled_back(self) -> None:
        self.events.append("rolled back")
