"""The VectorIndex port: vectors with metadata, top-k queries with metadata filters.

Contract (Cloudflare Vectorize's, so that code that works locally works on the Worker):

- An index has fixed ``dimensions`` and a ``metric``: ``"cosine"`` (score in [-1, 1], higher
  is closer), ``"dot-product"`` (higher is closer) or ``"euclidean"`` (a distance: lower is
  closer). ``query`` returns at most ``top_k`` matches, closest first.
- ``upsert`` writes vectors, replacing any with the same id (metadata included); ``insert``
  writes only the ids that are new and leaves existing ones as they are. Both return the
  number of vectors sent. Vectorize applies writes asynchronously (a few seconds may pass
  before a query sees them); the local index applies them at once. Code must not rely on
  either.
- A namespace partitions an index: a query with ``namespace`` sees only that namespace's
  vectors; one without sees all of them.
- ``filter`` is Vectorize's metadata filter: ``{"field": value}`` (equality) or
  ``{"field": {"$eq"|"$ne"|"$in"|"$nin"|"$lt"|"$lte"|"$gt"|"$gte": value}}``, all keys
  ANDed; nested metadata by dotted path (``"a.b"``). ``$ne`` and ``$nin`` also match vectors
  without the field; the other operators never do. On Vectorize a field can be filtered on
  only after a metadata index was created for it (``wrangler vectorize
  create-metadata-index``); the local index filters on any field.
- Limits, checked by every implementation before anything is sent (:func:`check_vectors`,
  :func:`check_query`): ids of 1 to 64 bytes, at most 10 KiB of metadata JSON per vector,
  namespaces of at most 64 bytes, at most 1000 vectors per write, ``top_k`` from 1 to 100,
  and at most 50 when values or metadata are returned; a filter of at most 2048 bytes of
  JSON. Values must be finite numbers, as many as the index has dimensions.
- Errors are :class:`helix_agents.errors.VectorIndexError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ..errors import VectorIndexError

__all__ = [
    "FILTER_OPERATORS",
    "MAX_BATCH",
    "MAX_TOP_K",
    "MAX_TOP_K_WITH_DATA",
    "Metadata",
    "Metric",
    "Vector",
    "VectorIndex",
    "VectorMatch",
    "check_filter",
    "check_query",
    "check_vectors",
]

Metric = Literal["cosine", "euclidean", "dot-product"]
Metadata = dict[str, Any]

MAX_ID_BYTES = 64
MAX_NAMESPACE_BYTES = 64
MAX_METADATA_BYTES = 10 * 1024
MAX_BATCH = 1000
MAX_TOP_K = 100
MAX_TOP_K_WITH_DATA = 50
MAX_FILTER_BYTES = 2048
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte"})


@dataclass(frozen=True, slots=True)
class Vector:
    id: str
    values: Sequence[float]
    metadata: Metadata = field(default_factory=dict)
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class VectorMatch:
    id: str
    score: float
    metadata: Metadata | None = None
    values: list[float] | None = None
    namespace: str | None = None


@runtime_checkable
class VectorIndex(Protocol):
    @property
    def dimensions(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    async def upsert(self, vectors: Sequence[Vector]) -> int:
        """Write ``vectors``, replacing those with the same id."""
        ...

    async def insert(self, vectors: Sequence[Vector]) -> int:
        """Write the vectors whose ids are new; existing ones stay as they are."""
        ...

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
        """The ``top_k`` closest vectors that pass ``filter``, closest first."""
        ...

    async def get(self, ids: Sequence[str]) -> list[Vector]:
        """The vectors with these ids (unknown ids are left out)."""
        ...

    async def delete(self, ids: Sequence[str]) -> int:
        """Delete by id; returns the number of ids sent."""
        ...


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def check_vectors(vectors: Sequence[Vector], dimensions: int) -> None:
    """Refuse a write that Vectorize would refuse, before anything is sent."""
    if not vectors:
        raise VectorIndexError("a write needs at least one vector")
    if len(vectors) > MAX_BATCH:
        raise VectorIndexError(f"at most {MAX_BATCH} vectors per write, got {len(vectors)}")
    for vector in vectors:
        if not isinstance(vector.id, str) or not 0 < _utf8_len(vector.id) <= MAX_ID_BYTES:
            raise VectorIndexError(f"vector id {vector.id!r}: 1 to {MAX_ID_BYTES} bytes")
        check_values(vector.values, dimensions, what=f"vector {vector.id!r}")
        try:
            size = _utf8_len(json.dumps(vector.metadata, separators=(",", ":")))
        except (TypeError, ValueError) as exc:
            raise VectorIndexError(f"vector {vector.id!r}: metadata is not JSON: {exc}") from None
        if size > MAX_METADATA_BYTES:
            raise VectorIndexError(
                f"vector {vector.id!r}: {size} bytes of metadata, at most {MAX_METADATA_BYTES}"
            )
        check_namespace(vector.namespace)


def check_values(values: Sequence[float], dimensions: int, *, what: str) -> None:
    if len(values) != dimensions:
        raise VectorIndexError(f"{what}: {len(values)} dimensions, the index has {dimensions}")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise VectorIndexError(f"{what}: values must be finite numbers, got {value!r}")


def check_namespace(namespace: str | None) -> None:
    if namespace is not None and not 0 < _utf8_len(namespace) <= MAX_NAMESPACE_BYTES:
        raise VectorIndexError(f"namespace {namespace!r}: 1 to {MAX_NAMESPACE_BYTES} bytes")


def check_query(
    vector: Sequence[float],
    dimensions: int,
    *,
    top_k: int,
    filter: Mapping[str, Any] | None,
    namespace: str | None,
    return_metadata: bool,
    return_values: bool,
) -> None:
    check_values(vector, dimensions, what="query vector")
    limit = MAX_TOP_K_WITH_DATA if (return_metadata or return_values) else MAX_TOP_K
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limit:
        raise VectorIndexError(f"top_k must be from 1 to {limit} here, got {top_k!r}")
    check_namespace(namespace)
    if filter is not None:
        check_filter(filter)


_Scalar = str | int | float | bool


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, _Scalar)


def check_filter(filter: Mapping[str, Any]) -> None:
    """Refuse a filter Vectorize would refuse (its operators, sizes and value types)."""
    if not isinstance(filter, Mapping) or not filter:
        raise VectorIndexError("a filter is a non-empty object of metadata fields")
    try:
        size = _utf8_len(json.dumps(filter, separators=(",", ":")))
    except (TypeError, ValueError) as exc:
        raise VectorIndexError(f"the filter is not JSON: {exc}") from None
    if size > MAX_FILTER_BYTES:
        raise VectorIndexError(f"the filter is {size} bytes of JSON, at most {MAX_FILTER_BYTES}")
    for key, condition in filter.items():
        if not isinstance(key, str) or not key or key.startswith("$") or '"' in key:
            raise VectorIndexError(f"filter field {key!r}: a metadata field name")
        if _is_scalar(condition):
            continue
        if not isinstance(condition, Mapping) or not condition:
            raise VectorIndexError(
                f"filter field {key!r}: a value or an object of operators like {{'$eq': 1}}"
            )
        for op, operand in condition.items():
            if op not in FILTER_OPERATORS:
                raise VectorIndexError(
                    f"filter field {key!r}: unknown operator {op!r} "
                    f"(one of {', '.join(sorted(FILTER_OPERATORS))})"
                )
            if op in ("$in", "$nin"):
                if not isinstance(operand, list) or not all(_is_scalar(v) for v in operand):
                    raise VectorIndexError(f"filter field {key!r}: {op} takes a list of values")
            elif op in ("$lt", "$lte", "$gt", "$gte"):
                if isinstance(operand, bool) or not isinstance(operand, str | int | float):
                    raise VectorIndexError(f"filter field {key!r}: {op} takes a number or a string")
            elif not _is_scalar(operand):
                raise VectorIndexError(f"filter field {key!r}: {op} takes a single value")
