"""The Embedder port over the Workers AI binding (``env.AI``).

``await env.AI.run("@cf/baai/bge-base-en-v1.5", {"text": [...]})`` answers ``{"shape":
[n, dims], "data": [[...], ...]}``: one vector per text, in order. Texts are sent at most
100 to a call (the BGE models' batch limit). Workers AI has no local simulation
(``wrangler dev`` proxies ``AI`` to Cloudflare, which needs an account and the network), so
this is tested against the documented shapes with a double (:mod:`helix_agents.testing.
workers_ai_embeddings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import ConfigurationError, EmbeddingError
from ...ports.embeddings import (
    Embedder,
    check_request_allowed,
    check_texts,
    check_vectors_shape,
)
from ...ports.vectors import VectorIndex
from ._convert import js_arg, py, raw

__all__ = ["BGE_DIMENSIONS", "DEFAULT_EMBEDDING_MODEL", "WorkersAIEmbedder", "retrieval_services"]

DEFAULT_EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5"
#: The dimensions of the Workers AI embedding models, as their model pages give them.
BGE_DIMENSIONS = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
    "@cf/baai/bge-m3": 1024,
}
_BATCH = 100


class WorkersAIEmbedder:
    """An :class:`~helix_agents.ports.Embedder` over ``binding`` (``env.AI``)."""

    def __init__(
        self, binding: Any, model: str = DEFAULT_EMBEDDING_MODEL, *, dimensions: int | None = None
    ) -> None:
        dims = dimensions if dimensions is not None else BGE_DIMENSIONS.get(model)
        if dims is None:
            raise EmbeddingError(f"unknown dimensions for {model!r}: pass dimensions=")
        self.binding = binding
        self._model = model
        self._dimensions = dims

    def __repr__(self) -> str:
        return f"WorkersAIEmbedder({self._model!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        if items:
            check_request_allowed(f"workers-ai:{self._model}")
        out: list[list[float]] = []
        for start in range(0, len(items), _BATCH):
            part = items[start : start + _BATCH]
            try:
                result = await raw(self.binding).run(self._model, js_arg({"text": part}))
            except Exception as exc:  # InferenceUpstreamError and the like, as JsException
                raise EmbeddingError(f"workers-ai:{self._model}: {exc}") from None
            result = py(result)
            data = (
                result.get("data") if isinstance(result, Mapping) else getattr(result, "data", None)
            )
            vectors = [[float(x) for x in py(v)] for v in py(data)] if data is not None else None
            check_vectors_shape(vectors, len(part), self._dimensions, f"workers-ai:{self._model}")
            assert vectors is not None
            out.extend(vectors)
        return out


def retrieval_services(
    ai: Any | None, vectorize: Any | None, env: Any, database: Any | None = None
) -> tuple[Embedder | None, VectorIndex | None]:
    """The Worker's embedder and vector index, from its ``AI`` and ``VECTORIZE`` bindings
    (either may be absent) and its vars: ``HELIX_EMBEDDING_MODEL`` (default
    ``@cf/baai/bge-base-en-v1.5``; ``HELIX_EMBEDDING_DIMENSIONS`` for a model not in
    :data:`BGE_DIMENSIONS`), ``HELIX_VECTORIZE_DIMENSIONS`` (default: the embedder's) and
    ``HELIX_VECTORIZE_METRIC`` (default ``cosine``): what ``wrangler vectorize create`` was
    given. Nothing is called here.

    ``HELIX_RETRIEVAL=offline`` gives the local host's pair instead, whatever is bound: the
    offline hashing embedder and the SQLite index in ``database`` (the Worker's D1). That is
    how retrieval runs in local workerd, which has neither Vectorize nor Workers AI, and on a
    Worker not yet given them."""
    from ...ports.vectors import Metric
    from .models import env_var
    from .vectors import VectorizeIndex

    if (env_var(env, "HELIX_RETRIEVAL") or "").strip().lower() == "offline":
        if database is None:
            raise ConfigurationError("HELIX_RETRIEVAL=offline keeps its index in D1: bind DB")
        from ..local.embeddings import HashingEmbedder
        from ..local.vectors import SQLVectorIndex

        offline = HashingEmbedder()
        return offline, SQLVectorIndex(database, "default", dimensions=offline.dimensions)

    model = env_var(env, "HELIX_EMBEDDING_MODEL") or DEFAULT_EMBEDDING_MODEL
    dims_var = env_var(env, "HELIX_EMBEDDING_DIMENSIONS")
    embedder = (
        None
        if ai is None
        else WorkersAIEmbedder(ai, model, dimensions=int(dims_var) if dims_var else None)
    )
    if vectorize is None:
        return embedder, None
    index_dims = env_var(env, "HELIX_VECTORIZE_DIMENSIONS")
    dimensions = (
        int(index_dims)
        if index_dims
        else embedder.dimensions
        if embedder is not None
        else BGE_DIMENSIONS[DEFAULT_EMBEDDING_MODEL]
    )
    metrics: dict[str, Metric] = {
        "cosine": "cosine",
        "euclidean": "euclidean",
        "dot-product": "dot-product",
    }
    metric = env_var(env, "HELIX_VECTORIZE_METRIC") or "cosine"
    if metric in metrics:
        return embedder, VectorizeIndex(vectorize, dimensions=dimensions, metric=metrics[metric])
    raise ConfigurationError(f"HELIX_VECTORIZE_METRIC {metric!r}: cosine, euclidean or dot-product")
