"""A double of the Vectorize binding (``env.VECTORIZE``), for tests in CPython.

Why a double: the local runtime has no Vectorize (``wrangler dev`` only proxies the binding
to a real index on Cloudflare, which needs an account and the network). This one holds its
vectors in memory and checks every request against Vectorize's documented Worker API
before answering in its documented shapes:

- ``upsert(vectors)`` / ``insert(vectors)``: a list of ``{id, values, metadata?,
  namespace?}`` objects (nothing else), values as many as the index has dimensions;
  answered ``{"mutationId": ...}``. ``insert`` keeps an existing id as it is.
- ``query(vector, options)``: options among ``topK`` (default 5), ``filter``,
  ``namespace``, ``returnValues`` (bool), ``returnMetadata`` (``"none"``, ``"indexed"``,
  ``"all"`` or a bool); ``topK`` at most 100, or 50 with values or all metadata; answered
  ``{"count", "matches": [{id, score, values?, metadata?, namespace?}]}``.
- ``getByIds(ids)`` answers the vectors as objects; ``deleteByIds(ids)`` ``{mutationId}``;
  ``describe()`` ``{dimensions, vectorCount}``.

Its errors are :class:`FakeVectorizeError`, worded as Vectorize's (``VECTOR_QUERY_ERROR``
...). Test code: a Worker's upload leaves :mod:`helix_agents.testing` out.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from ..hosts.local.vectors import matches_filter, score
from ..ports.vectors import Metric

__all__ = ["FakeVectorizeBinding", "FakeVectorizeError"]

_VECTOR_KEYS = {"id", "values", "metadata", "namespace"}
_QUERY_KEYS = {"topK", "filter", "namespace", "returnValues", "returnMetadata"}
_RETURN_METADATA = {"none", "indexed", "all", True, False}


class FakeVectorizeError(Exception):
    """What the binding throws (a JS ``Error`` whose message starts with the error kind)."""


class FakeVectorizeBinding:
    def __init__(self, *, dimensions: int, metric: Metric = "cosine") -> None:
        self.dimensions = dimensions
        self.metric: Metric = metric
        self.vectors: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self._mutations = itertools.count(1)

    def _mutation(self) -> dict[str, str]:
        return {"mutationId": f"{next(self._mutations):08x}-fake-mutation"}

    def _check_vector(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise FakeVectorizeError("VECTOR_INSERT_ERROR: each vector must be an object")
        extra = set(item) - _VECTOR_KEYS
        if extra:
            raise FakeVectorizeError(f"VECTOR_INSERT_ERROR: unknown vector fields {sorted(extra)}")
        if not isinstance(item.get("id"), str):
            raise FakeVectorizeError("VECTOR_INSERT_ERROR: a vector id must be a string")
        values = item.get("values")
        if not isinstance(values, list) or len(values) != self.dimensions:
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise FakeVectorizeError(
                f"VECTOR_INSERT_ERROR (code = 40008): invalid vector for id={item['id']!r},"
                f" expected {self.dimensions} dimensions, and got {got} dimensions"
            )
        metadata = item.get("metadata", {})
        if not isinstance(metadata, Mapping):
            raise FakeVectorizeError("VECTOR_INSERT_ERROR: metadata must be an object")
        namespace = item.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise FakeVectorizeError("VECTOR_INSERT_ERROR: namespace must be a string")
        return {
            "id": item["id"],
            "values": [float(x) for x in values],
            "metadata": copy.deepcopy(dict(metadata)),
            "namespace": namespace,
        }

    async def upsert(self, vectors: Any) -> dict[str, str]:
        self.calls.append(("upsert", vectors))
        checked = self._write_items(vectors)
        for item in checked:
            self.vectors[item["id"]] = item
        return self._mutation()

    async def insert(self, vectors: Any) -> dict[str, str]:
        self.calls.append(("insert", vectors))
        for item in self._write_items(vectors):
            self.vectors.setdefault(item["id"], item)
        return self._mutation()

    def _write_items(self, vectors: Any) -> list[dict[str, Any]]:
        if not isinstance(vectors, list) or not vectors:
            raise FakeVectorizeError("VECTOR_INSERT_ERROR: expected a non-empty array of vectors")
        return [self._check_vector(item) for item in vectors]

    async def query(self, vector: Any, options: Any = None) -> dict[str, Any]:
        self.calls.append(("query", (vector, options)))
        options = dict(options or {})
        extra = set(options) - _QUERY_KEYS
        if extra:
            raise FakeVectorizeError(f"VECTOR_QUERY_ERROR: unknown query options {sorted(extra)}")
        if not isinstance(vector, list) or len(vector) != self.dimensions:
            got = len(vector) if isinstance(vector, list) else type(vector).__name__
            raise FakeVectorizeError(
                f"VECTOR_QUERY_ERROR (code = 40006): invalid query vector, expected"
                f" {self.dimensions} dimensions, and got {got} dimensions"
            )
        top_k = options.get("topK", 5)
        return_values = options.get("returnValues", False)
        return_metadata = options.get("returnMetadata", "none")
        if return_metadata not in _RETURN_METADATA or not isinstance(return_values, bool):
            raise FakeVectorizeError("VECTOR_QUERY_ERROR: invalid returnMetadata / returnValues")
        full = return_values or return_metadata in ("all", True)
        limit = 50 if full else 100
        if not isinstance(top_k, int) or not 1 <= top_k <= limit:
            raise FakeVectorizeError(
                f"VECTOR_QUERY_ERROR (code = 40025): topK must be from 1 to {limit} here"
            )
        namespace = options.get("namespace")
        flt = options.get("filter")
        candidates = [
            v
            for v in self.vectors.values()
            if (namespace is None or v["namespace"] == namespace)
            and (not flt or matches_filter(v["metadata"], flt))
        ]
        scored = sorted(
            ((score(self.metric, vector, v["values"]), v) for v in candidates),
            key=lambda s: (s[0] if self.metric == "euclidean" else -s[0], s[1]["id"]),
        )[:top_k]
        matches = []
        for value, v in scored:
            match: dict[str, Any] = {"id": v["id"], "score": value}
            if v["namespace"] is not None:
                match["namespace"] = v["namespace"]
            if return_values:
                match["values"] = list(v["values"])
            if return_metadata in ("all", "indexed", True):
                match["metadata"] = copy.deepcopy(v["metadata"])
            matches.append(match)
        return {"count": len(matches), "matches": matches}

    async def getByIds(self, ids: Any) -> list[dict[str, Any]]:
        self.calls.append(("getByIds", ids))
        if not isinstance(ids, list):
            raise FakeVectorizeError("VECTOR_GET_ERROR: expected an array of ids")
        return [copy.deepcopy(self.vectors[i]) for i in ids if i in self.vectors]

    async def deleteByIds(self, ids: Any) -> dict[str, str]:
        self.calls.append(("deleteByIds", ids))
        if not isinstance(ids, list):
            raise FakeVectorizeError("VECTOR_DELETE_ERROR: expected an array of ids")
        for i in ids:
            self.vectors.pop(i, None)
        return self._mutation()

    async def describe(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "vectorCount": len(self.vectors)}
