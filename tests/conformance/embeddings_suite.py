"""The Embedder conformance suite: plain async checks over one embedder (no pytest here).

Every embedder passes them: the offline hashing embedder, Workers AI over its
documented-API double, and the OpenAI-compatible client against the local test server.
The ranking check asks only for what any useful embedder gives: a text is closer to itself
and to a text sharing its words than to an unrelated one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from helix_agents.errors import EmbeddingError
from helix_agents.ports.embeddings import Embedder

__all__ = ["CHECKS"]


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def check_shape_and_order(e: Embedder) -> None:
    texts = ["deploy the worker", "bind a queue", "index the documents"]
    vectors = await e.embed(texts)
    assert len(vectors) == 3
    assert all(len(v) == e.dimensions for v in vectors)
    assert all(isinstance(x, float) and math.isfinite(x) for v in vectors for x in v)
    one_by_one = [(await e.embed([t]))[0] for t in texts]
    for a, b in zip(vectors, one_by_one, strict=True):
        assert _cos(a, b) > 0.999  # the same text, the same vector, batched or not
    assert isinstance(e.model, str)
    assert e.model


async def check_empty(e: Embedder) -> None:
    assert await e.embed([]) == []
    for bad in ([""], ["ok", "   "]):
        failure: EmbeddingError | None = None
        try:
            await e.embed(bad)
        except EmbeddingError as exc:
            failure = exc
        if failure is None:
            raise AssertionError(f"{bad!r} was embedded")
        assert "non-empty" in str(failure)


async def check_lexical_ranking(e: Embedder) -> None:
    query, near, far = await e.embed(
        [
            "how do I deploy the worker",
            "To deploy the worker run helix worker deploy",
            "Bananas are rich in potassium",
        ]
    )
    assert _cos(query, near) > _cos(query, far)


async def check_many_texts_are_batched(e: Embedder) -> None:
    texts = [f"passage number {i} about topic {i % 7}" for i in range(230)]
    vectors = await e.embed(texts)
    assert len(vectors) == 230
    [again] = await e.embed([texts[150]])
    assert _cos(vectors[150], again) > 0.999


CHECKS: list[Callable[[Embedder], Awaitable[None]]] = [
    check_shape_and_order,
    check_empty,
    check_lexical_ranking,
    check_many_texts_are_batched,
]
