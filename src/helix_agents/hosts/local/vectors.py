"""The local vector index: Vectorize's contract over the Database port (SQLite locally).

Vectors are stored as float32 (as Vectorize stores them) in one table shared by every
index, keyed by index name and id. A query scores every vector of the index (or of the
namespace) in Python and keeps the ``top_k`` best: exact, and fast enough for the
thousands of chunks a development corpus has, not for millions. Metadata filters follow
Vectorize's operators (:func:`matches_filter`), without the metadata indexes Vectorize
needs before it can filter on a field.
"""

from __future__ import annotations

import heapq
import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import VectorIndexError
from ...ports.database import Database, Statement
from ...ports.vectors import (
    Metadata,
    Metric,
    Vector,
    VectorMatch,
    check_filter,
    check_query,
    check_vectors,
)

__all__ = ["SQLVectorIndex", "matches_filter", "score"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS __helix_vectors ("
    " index_name TEXT NOT NULL, id TEXT NOT NULL, namespace TEXT,"
    " vec BLOB NOT NULL, metadata TEXT NOT NULL,"
    " PRIMARY KEY (index_name, id))"
)
_UPSERT = (
    "INSERT INTO __helix_vectors (index_name, id, namespace, vec, metadata)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (index_name, id) DO UPDATE SET"
    " namespace = excluded.namespace, vec = excluded.vec, metadata = excluded.metadata"
)
_INSERT = (
    "INSERT OR IGNORE INTO __helix_vectors (index_name, id, namespace, vec, metadata)"
    " VALUES (?, ?, ?, ?, ?)"
)
_METRICS = ("cosine", "euclidean", "dot-product")


class SQLVectorIndex:
    """A :class:`~helix_agents.ports.VectorIndex` named ``name`` in ``db``."""

    def __init__(
        self, db: Database, name: str, *, dimensions: int, metric: Metric = "cosine"
    ) -> None:
        if metric not in _METRICS:
            raise VectorIndexError(f"metric must be one of {', '.join(_METRICS)}, not {metric!r}")
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise VectorIndexError(f"dimensions must be a positive integer, not {dimensions!r}")
        self._db = db
        self.name = name
        self._dimensions = dimensions
        self._metric: Metric = metric
        self._ready = False

    def __repr__(self) -> str:
        return f"SQLVectorIndex({self.name!r}, dimensions={self._dimensions}, {self._metric})"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def metric(self) -> Metric:
        return self._metric

    async def _setup(self) -> None:
        if not self._ready:
            await self._db.execute(_DDL)
            self._ready = True

    async def upsert(self, vectors: Sequence[Vector]) -> int:
        return await self._write(_UPSERT, vectors)

    async def insert(self, vectors: Sequence[Vector]) -> int:
        return await self._write(_INSERT, vectors)

    async def _write(self, sql: str, vectors: Sequence[Vector]) -> int:
        check_vectors(vectors, self._dimensions)
        await self._setup()
        last: dict[str, Vector] = {v.id: v for v in vectors}  # the last of a repeated id wins
        await self._db.batch(
            [
                Statement(
                    sql,
                    (
                        self.name,
                        v.id,
                        v.namespace,
                        _pack(v.values),
                        json.dumps(v.metadata, separators=(",", ":")),
                    ),
                )
                for v in last.values()
            ]
        )
        return len(vectors)

    async def query(
        self,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filter: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        return_metadata: bool = True,
        return_values: bool = False,
    ) -> list[VectorMatch]:
        check_query(
            vector,
            self._dimensions,
            top_k=top_k,
            filter=filter,
            namespace=namespace,
            return_metadata=return_metadata,
            return_values=return_values,
        )
        await self._setup()
        sql = "SELECT id, namespace, vec, metadata FROM __helix_vectors WHERE index_name = ?"
        params: list[Any] = [self.name]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(namespace)
        rows = await self._db.query(sql, params)
        query = [float(x) for x in vector]
        scored: list[tuple[float, str, dict[str, Any], Metadata]] = []
        for row in rows:
            metadata = json.loads(row["metadata"])
            if filter and not matches_filter(metadata, filter):
                continue
            scored.append(
                (score(self._metric, query, _unpack(row["vec"])), row["id"], row, metadata)
            )
        # Closest first; ties broken by id so that results are stable.
        if self._metric == "euclidean":
            best = heapq.nsmallest(top_k, scored, key=lambda s: (s[0], s[1]))
        else:
            best = heapq.nsmallest(top_k, scored, key=lambda s: (-s[0], s[1]))
        return [
            VectorMatch(
                id=vid,
                score=value,
                metadata=metadata if return_metadata else None,
                values=_unpack(row["vec"]) if return_values else None,
                namespace=row["namespace"],
            )
            for value, vid, row, metadata in best
        ]

    async def get(self, ids: Sequence[str]) -> list[Vector]:
        await self._setup()
        found: dict[str, Vector] = {}
        for start in range(0, len(ids), 90):  # D1's 100 bound parameters per statement
            part = list(ids[start : start + 90])
            marks = ", ".join("?" for _ in part)
            rows = await self._db.query(
                "SELECT id, namespace, vec, metadata FROM __helix_vectors"
                f" WHERE index_name = ? AND id IN ({marks})",
                [self.name, *part],
            )
            for row in rows:
                found[row["id"]] = Vector(
                    id=row["id"],
                    values=_unpack(row["vec"]),
                    metadata=json.loads(row["metadata"]),
                    namespace=row["namespace"],
                )
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def delete(self, ids: Sequence[str]) -> int:
        await self._setup()
        statements = [
            Statement(
                "DELETE FROM __helix_vectors WHERE index_name = ? AND id IN ("
                + ", ".join("?" for _ in ids[start : start + 90])
                + ")",
                [self.name, *ids[start : start + 90]],
            )
            for start in range(0, len(ids), 90)
        ]
        if statements:
            await self._db.batch(statements)
        return len(ids)


def _pack(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _unpack(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 4}f", blob))


def score(metric: Metric, a: Sequence[float], b: Sequence[float]) -> float:
    """The metric's score of ``b`` for the query ``a`` (a distance for euclidean)."""
    if metric == "euclidean":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if metric == "dot-product":
        return dot
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


_MISSING = object()


def _lookup(metadata: Mapping[str, Any], path: str) -> Any:
    if path in metadata:
        return metadata[path]
    value: Any = metadata
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _same(a: Any, b: Any) -> bool:
    # JSON's view: true is not 1, 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _ordered(value: Any, operand: Any) -> tuple[Any, Any] | None:
    if isinstance(value, bool) or isinstance(operand, bool):
        return None
    if isinstance(value, int | float) and isinstance(operand, int | float):
        return value, operand
    if isinstance(value, str) and isinstance(operand, str):
        return value, operand
    return None


def _passes(value: Any, op: str, operand: Any) -> bool:
    if op == "$ne":
        return value is _MISSING or not _same(value, operand)
    if op == "$nin":
        return value is _MISSING or not any(_same(value, o) for o in operand)
    if value is _MISSING:
        return False
    if op == "$eq":
        return _same(value, operand)
    if op == "$in":
        return any(_same(value, o) for o in operand)
    pair = _ordered(value, operand)
    if pair is None:
        return False
    left, right = pair
    if op == "$lt":
        return bool(left < right)
    if op == "$lte":
        return bool(left <= right)
    if op == "$gt":
        return bool(left > right)
    return bool(left >= right)  # $gte


def matches_filter(metadata: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` passes Vectorize's metadata ``filter`` (see the port)."""
    check_filter(filter)
    for key, condition in filter.items():
        value = _lookup(metadata, key)
        ops = condition.items() if isinstance(condition, Mapping) else (("$eq", condition),)
        if not all(_passes(value, op, operand) for op, operand in ops):
            return False
    return True
