"""The local key-value store: KV's contract over the Database port (SQLite locally).

One table holds every namespace's entries (keyed by namespace and key), each with its
expiry in Unix milliseconds. An expired entry reads as absent and is deleted by the next
write to its namespace, so the table does not grow with dead entries. Expiry follows the
host's clock (injectable, as the engine's), so tests move time instead of waiting; KV's
own rules (:mod:`helix_agents.ports.kv`) are checked before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...clock import wall_clock_ms
from ...errors import DatabaseError, KeyValueError
from ...ports.database import Database
from ...ports.kv import (
    MAX_LIST_LIMIT,
    KVEntry,
    KVKey,
    KVListPage,
    check_key,
    check_list,
    check_put,
)

__all__ = ["SQLKeyValueStore"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS __helix_kv ("
    " namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " metadata TEXT, expires_at INTEGER,"
    " PRIMARY KEY (namespace, key))"
)


class SQLKeyValueStore:
    """A :class:`~helix_agents.ports.kv.KeyValueStore` named ``namespace`` in ``db``."""

    def __init__(
        self, db: Database, namespace: str = "default", *, clock: Callable[[], int] = wall_clock_ms
    ) -> None:
        self._db = db
        self.namespace = namespace
        self._clock = clock
        self._ready = False

    def __repr__(self) -> str:
        return f"SQLKeyValueStore({self.namespace!r})"

    async def _setup(self) -> None:
        if not self._ready:
            await self._db.execute(_DDL)
            self._ready = True

    async def _row(self, key: str) -> dict[str, Any] | None:
        check_key(key)
        await self._setup()
        rows = await self._call(
            self._db.query(
                "SELECT value, metadata FROM __helix_kv WHERE namespace = ? AND key = ?"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (self.namespace, key, self._clock()),
            )
        )
        return rows[0] if rows else None

    async def get(self, key: str) -> str | None:
        row = await self._row(key)
        return None if row is None else str(row["value"])

    async def get_with_metadata(self, key: str) -> KVEntry | None:
        row = await self._row(key)
        if row is None:
            return None
        meta = json.loads(row["metadata"]) if row["metadata"] is not None else None
        return KVEntry(value=str(row["value"]), metadata=meta)

    async def put(
        self,
        key: str,
        value: str,
        *,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        seconds, meta_json = check_put(key, value, ttl, metadata)
        await self._setup()
        now = self._clock()
        expires = None if seconds is None else now + seconds * 1000
        await self._call(
            self._db.execute(
                "INSERT INTO __helix_kv (namespace, key, value, metadata, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET"
                " value = excluded.value, metadata = excluded.metadata,"
                " expires_at = excluded.expires_at",
                (self.namespace, key, value, meta_json, expires),
            )
        )
        # Dead entries go with the writes, never with the reads (a read stays one query).
        await self._call(
            self._db.execute(
                "DELETE FROM __helix_kv WHERE namespace = ? AND expires_at <= ?",
                (self.namespace, now),
            )
        )

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._setup()
        await self._call(
            self._db.execute(
                "DELETE FROM __helix_kv WHERE namespace = ? AND key = ?", (self.namespace, key)
            )
        )

    async def list(
        self, *, prefix: str = "", limit: int = MAX_LIST_LIMIT, cursor: str | None = None
    ) -> KVListPage:
        check_list(prefix, limit)
        await self._setup()
        # The cursor is the last key returned: keys are unique and ordered, so the next
        # page starts after it (a write in between neither repeats nor skips a key).
        after = "" if cursor is None else cursor
        if cursor is not None and not isinstance(cursor, str):
            raise KeyValueError("a listing's cursor is the string a previous page returned")
        rows = await self._call(
            self._db.query(
                "SELECT key, metadata, expires_at FROM __helix_kv WHERE namespace = ?"
                " AND substr(key, 1, ?) = ? AND key > ?"
                " AND (expires_at IS NULL OR expires_at > ?)"
                " ORDER BY CAST(key AS BLOB) LIMIT ?",
                (self.namespace, len(prefix), prefix, after, self._clock(), limit + 1),
            )
        )
        more = len(rows) > limit
        keys = [
            KVKey(
                name=str(row["key"]),
                expiration=None if row["expires_at"] is None else int(row["expires_at"]) // 1000,
                metadata=json.loads(row["metadata"]) if row["metadata"] is not None else None,
            )
            for row in rows[:limit]
        ]
        return KVListPage(keys=keys, cursor=keys[-1].name if more else None, complete=not more)

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        try:
            return await awaitable
        except DatabaseError as exc:
            raise KeyValueError(f"the key-value store failed: {exc}") from exc
