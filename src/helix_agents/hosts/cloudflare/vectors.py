"""The VectorIndex port over a Vectorize binding (``env.VECTORIZE``).

Vectorize's Worker API: ``upsert(vectors)`` / ``insert(vectors)`` with ``{id, values,
metadata, namespace}`` objects (answered ``{mutationId}``; the write is applied a few
seconds later), ``query(vector, {topK, filter, namespace, returnMetadata, returnValues})``
answered ``{count, matches: [{id, score, metadata?, values?, namespace?}]}``,
``getByIds(ids)`` and ``deleteByIds(ids)``. The port's limits are checked here before a
call (:mod:`helix_agents.ports.vectors`), so a bad request fails the same way as on the
local index; what Vectorize itself throws becomes a
:class:`~helix_agents.errors.VectorIndexError`.

The local runtime has no Vectorize (``wrangler dev`` can only proxy the binding to a real
index on Cloudflare), so this module is tested against a double that checks requests and
shapes answers as Vectorize's documentation gives them
(:mod:`helix_agents.testing.vectorize`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import VectorIndexError
from ...ports.vectors import Metric, Vector, VectorMatch, check_query, check_vectors
from ._convert import js_arg, py, raw

__all__ = ["VectorizeIndex"]


class VectorizeIndex:
    """A :class:`~helix_agents.ports.VectorIndex` over ``binding``. ``dimensions`` and
    ``metric`` must be those the index was created with (``wrangler vectorize create NAME
    --dimensions=768 --metric=cosine``)."""

    def __init__(self, binding: Any, *, dimensions: int, metric: Metric = "cosine") -> None:
        self.binding = binding
        self._dimensions = dimensions
        self._metric: Metric = metric

    def __repr__(self) -> str:
        return f"VectorizeIndex(dimensions={self._dimensions}, metric={self._metric!r})"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def metric(self) -> Metric:
        return self._metric

    async def upsert(self, vectors: Sequence[Vector]) -> int:
        return await self._write("upsert", vectors)

    async def insert(self, vectors: Sequence[Vector]) -> int:
        return await self._write("insert", vectors)

    async def _write(self, method: str, vectors: Sequence[Vector]) -> int:
        check_vectors(vectors, self._dimensions)
        payload = [_vector_json(v) for v in vectors]
        await self._call(method, js_arg(payload))
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
        options: dict[str, Any] = {
            "topK": top_k,
            "returnMetadata": "all" if return_metadata else "none",
            "returnValues": return_values,
        }
        if filter:
            options["filter"] = dict(filter)
        if namespace is not None:
            options["namespace"] = namespace
        result = py(await self._call("query", js_arg([float(x) for x in vector]), js_arg(options)))
        matches = _field(result, "matches")
        if not isinstance(matches, list):
            raise VectorIndexError(f"Vectorize answered a query without matches: {result!r}")
        out: list[VectorMatch] = []
        for match in matches:
            match = py(match)
            metadata = py(_field(match, "metadata"))
            values = py(_field(match, "values"))
            out.append(
                VectorMatch(
                    id=str(_field(match, "id")),
                    score=float(_field(match, "score")),
                    metadata=dict(metadata or {}) if return_metadata else None,
                    values=[float(x) for x in values] if return_values and values else None,
                    namespace=_field(match, "namespace"),
                )
            )
        return out

    async def get(self, ids: Sequence[str]) -> list[Vector]:
        if not ids:
            return []
        result = py(await self._call("getByIds", js_arg(list(ids))))
        out: list[Vector] = []
        for item in result or []:
            item = py(item)
            out.append(
                Vector(
                    id=str(_field(item, "id")),
                    values=[float(x) for x in py(_field(item, "values")) or []],
                    metadata=dict(py(_field(item, "metadata")) or {}),
                    namespace=_field(item, "namespace"),
                )
            )
        return out

    async def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        await self._call("deleteByIds", js_arg(list(ids)))
        return len(ids)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(raw(self.binding), method)(*args)
        except VectorIndexError:
            raise
        except Exception as exc:  # a JsException in a Worker; its text is Vectorize's
            raise VectorIndexError(f"Vectorize {method}: {_message(exc)}") from None


def _vector_json(vector: Vector) -> dict[str, Any]:
    out: dict[str, Any] = {"id": vector.id, "values": [float(x) for x in vector.values]}
    if vector.metadata:
        out["metadata"] = dict(vector.metadata)
    if vector.namespace is not None:
        out["namespace"] = vector.namespace
    return out


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    text = str(exc)
    if isinstance(message, str) and message and message not in text:
        text = f"{text}: {message}" if text else message
    return text or type(exc).__name__
