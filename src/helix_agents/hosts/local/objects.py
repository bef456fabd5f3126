"""The local object store: R2's contract over files under the data directory.

Bodies are files under ``root`` (``<data dir>/objects/`` on the local host), named by a
hash of the key and the body's etag, so that any key (up to 1024 bytes, any characters) is
a valid file name; the index (key, size, etag, content type, metadata) is a table in the
host's database, which is what lists keys in order. A write lands the body first (a temp
file renamed into place), then the index row, then removes the body it replaced: a crash at
any point leaves the index naming a complete body (at worst an orphan file is left).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...clock import wall_clock_ms
from ...errors import DatabaseError, ObjectStoreError
from ...ports.database import Database
from ...ports.objects import (
    DEFAULT_MAX_BYTES,
    MAX_LIST_LIMIT,
    ObjectInfo,
    ObjectListing,
    StoredObject,
    check_key,
    check_list,
    check_put,
    etag_of,
    metadata_json,
)

__all__ = ["LocalObjectStore"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS __helix_objects ("
    " bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    " uploaded INTEGER NOT NULL, content_type TEXT, metadata TEXT NOT NULL,"
    " blob TEXT NOT NULL, PRIMARY KEY (bucket, key))"
)
_COLUMNS = "key, size, etag, uploaded, content_type, metadata, blob"


class LocalObjectStore:
    """A :class:`~helix_agents.ports.objects.ObjectStore` named ``bucket``: bodies under
    ``root / bucket``, the index in ``db``."""

    def __init__(
        self,
        db: Database,
        root: str | os.PathLike[str],
        bucket: str = "default",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if not bucket or "/" in bucket or bucket in (".", ".."):
            raise ObjectStoreError(f"invalid bucket name {bucket!r}")
        self._db = db
        self._dir = Path(root) / bucket
        self.bucket = bucket
        self.max_bytes = max_bytes
        self._clock = clock
        self._ready = False

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self._dir)!r})"

    async def _setup(self) -> None:
        if not self._ready:
            self._dir.mkdir(parents=True, exist_ok=True)
            await self._call(self._db.execute(_DDL))
            self._ready = True

    async def put(
        self,
        key: str,
        data: bytes | str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        body, meta = check_put(key, data, content_type, metadata, self.max_bytes)
        await self._setup()
        etag = etag_of(body)
        blob = f"{_key_hash(key)}-{etag}"
        path = self._dir / blob
        try:
            _land(path, body)
        except OSError as exc:
            raise ObjectStoreError(f"cannot write object {key!r}: {exc.strerror}") from exc
        previous = await self._row(key)
        info = ObjectInfo(
            key=key,
            size=len(body),
            etag=etag,
            uploaded=self._clock(),
            content_type=content_type,
            metadata=meta,
        )
        await self._call(
            self._db.execute(
                f"INSERT INTO __helix_objects (bucket, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size,"
                " etag = excluded.etag, uploaded = excluded.uploaded,"
                " content_type = excluded.content_type, metadata = excluded.metadata,"
                " blob = excluded.blob",
                (
                    self.bucket,
                    key,
                    info.size,
                    etag,
                    info.uploaded,
                    content_type,
                    metadata_json(meta),
                    blob,
                ),
            )
        )
        if previous is not None and previous["blob"] != blob:
            (self._dir / str(previous["blob"])).unlink(missing_ok=True)
        return info

    async def get(self, key: str) -> StoredObject | None:
        row = await self._row(key)
        if row is None:
            return None
        try:
            data = (self._dir / str(row["blob"])).read_bytes()
        except OSError as exc:
            raise ObjectStoreError(f"cannot read object {key!r}: {exc.strerror}") from exc
        return StoredObject(info=_info(row), data=data)

    async def head(self, key: str) -> ObjectInfo | None:
        row = await self._row(key)
        return None if row is None else _info(row)

    async def delete(self, key: str) -> None:
        row = await self._row(key)
        if row is None:
            return
        await self._call(
            self._db.execute(
                "DELETE FROM __helix_objects WHERE bucket = ? AND key = ?", (self.bucket, key)
            )
        )
        (self._dir / str(row["blob"])).unlink(missing_ok=True)

    async def list(
        self,
        *,
        prefix: str = "",
        limit: int = MAX_LIST_LIMIT,
        cursor: str | None = None,
        delimiter: str | None = None,
    ) -> ObjectListing:
        check_list(prefix, limit, delimiter)
        if cursor is not None and not isinstance(cursor, str):
            raise ObjectStoreError("a listing's cursor is the string a previous page returned")
        await self._setup()
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        # The cursor is the last key (or folded prefix) returned: the next page starts
        # after it. With a delimiter a folded prefix counts once against the limit, as R2
        # counts it, and the keys under it are skipped.
        after = cursor or ""
        skipping = _fold(after, prefix, delimiter) if cursor else None
        last = ""
        more = False
        page = limit + 1
        while not more:
            rows = await self._call(
                self._db.query(
                    f"SELECT {_COLUMNS} FROM __helix_objects WHERE bucket = ?"
                    " AND substr(key, 1, ?) = ? AND key > ? ORDER BY key LIMIT ?",
                    (self.bucket, len(prefix), prefix, after, page),
                )
            )
            for row in rows:
                key = after = str(row["key"])
                if skipping is not None and key.startswith(skipping):
                    continue
                if len(objects) + len(prefixes) == limit:
                    more = True
                    break
                folded = _fold(key, prefix, delimiter)
                if folded is not None:
                    prefixes.append(folded)
                    last = skipping = folded
                else:
                    objects.append(_info(row))
                    last = key
            if len(rows) < page:
                break
        return ObjectListing(
            objects=objects,
            prefixes=prefixes,
            cursor=last if more else None,
            truncated=more,
        )

    async def _row(self, key: str) -> dict[str, Any] | None:
        check_key(key)
        await self._setup()
        rows = await self._call(
            self._db.query(
                f"SELECT {_COLUMNS} FROM __helix_objects WHERE bucket = ? AND key = ?",
                (self.bucket, key),
            )
        )
        return rows[0] if rows else None

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        try:
            return await awaitable
        except DatabaseError as exc:
            raise ObjectStoreError(f"the object store's index failed: {exc}") from exc


def _land(path: Path, body: bytes) -> None:
    """``body`` at ``path``, complete or not at all (a temp file, synced, renamed)."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _fold(key: str, prefix: str, delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    cut = key.find(delimiter, len(prefix))
    return None if cut < 0 else key[: cut + len(delimiter)]


def _info(row: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=str(row["key"]),
        size=int(row["size"]),
        etag=str(row["etag"]),
        uploaded=int(row["uploaded"]),
        content_type=row["content_type"],
        metadata=json.loads(row["metadata"]),
    )
