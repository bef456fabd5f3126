"""The vector index port: the conformance suite against the local index (SQLite) and the
Vectorize implementation over the documented-API double, plus what each adds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import VectorIndexError
from helix_agents.hosts.cloudflare.vectors import VectorizeIndex
from helix_agents.hosts.local.vectors import SQLVectorIndex
from helix_agents.ports.vectors import Metric, Vector, VectorIndex
from helix_agents.testing.vectorize import FakeVectorizeBinding, FakeVectorizeError
from tests.conformance.vectors_suite import CHECKS, MakeIndex


@pytest.fixture(params=["sqlite", "vectorize-double"])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeIndex]:
    dbs: list[SQLiteDatabase] = []
    counter = iter(range(1000))

    async def make_index(dimensions: int, metric: Metric) -> VectorIndex:
        if request.param == "sqlite":
            db = SQLiteDatabase(tmp_path / "vectors.db")
            dbs.append(db)
            return SQLVectorIndex(db, f"idx{next(counter)}", dimensions=dimensions, metric=metric)
        binding = FakeVectorizeBinding(dimensions=dimensions, metric=metric)
        return VectorizeIndex(binding, dimensions=dimensions, metric=metric)

    yield make_index
    for db in dbs:
        await db.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_conformance(make: MakeIndex, check: Callable[[MakeIndex], Awaitable[None]]) -> None:
    await check(make)


async def test_local_index_persists_and_indexes_are_separate(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "v.db")
    a = SQLVectorIndex(db, "a", dimensions=2)
    b = SQLVectorIndex(db, "b", dimensions=2)
    await a.upsert([Vector("same-id", [1, 0], {"in": "a"})])
    await b.upsert([Vector("same-id", [0, 1], {"in": "b"})])
    await db.close()
    db = SQLiteDatabase(tmp_path / "v.db")
    again = SQLVectorIndex(db, "a", dimensions=2)
    [match] = await again.query([1, 0], top_k=5)
    assert (match.id, match.metadata) == ("same-id", {"in": "a"})
    await db.close()


async def test_vectorize_requests_have_the_documented_shape() -> None:
    binding = FakeVectorizeBinding(dimensions=2)
    index = VectorizeIndex(binding, dimensions=2)
    await index.upsert([Vector("a", [1, 0], {"k": "v"}, namespace="ns"), Vector("b", [0, 1])])
    await index.query([1, 0], top_k=3, filter={"k": "v"}, namespace="ns")
    (_, sent), (_, (vector, options)) = binding.calls
    assert sent == [
        {"id": "a", "values": [1.0, 0.0], "metadata": {"k": "v"}, "namespace": "ns"},
        {"id": "b", "values": [0.0, 1.0]},
    ]
    assert vector == [1.0, 0.0]
    assert options == {
        "topK": 3,
        "returnMetadata": "all",
        "returnValues": False,
        "filter": {"k": "v"},
        "namespace": "ns",
    }


async def test_vectorize_errors_become_vector_index_errors() -> None:
    class Broken(FakeVectorizeBinding):
        async def query(self, vector: object, options: object = None) -> dict[str, object]:
            raise FakeVectorizeError("VECTOR_QUERY_ERROR (code = 40000): index is busy")

    index = VectorizeIndex(Broken(dimensions=2), dimensions=2)
    with pytest.raises(VectorIndexError, match="index is busy"):
        await index.query([1, 0])


async def test_the_double_refuses_what_vectorize_refuses() -> None:
    binding = FakeVectorizeBinding(dimensions=2)
    with pytest.raises(FakeVectorizeError, match="40008"):
        await binding.upsert([{"id": "a", "values": [1, 0, 0]}])
    with pytest.raises(FakeVectorizeError, match="unknown vector fields"):
        await binding.upsert([{"id": "a", "values": [1, 0], "vector": []}])
    with pytest.raises(FakeVectorizeError, match="topK"):
        await binding.query([1, 0], {"topK": 51, "returnValues": True})
    with pytest.raises(FakeVectorizeError, match="unknown query options"):
        await binding.query([1, 0], {"top_k": 1})
    answer = await binding.query([1, 0], {"topK": 100})
    assert answer == {"count": 0, "matches": []}


def test_the_worker_builds_its_retrieval_services_from_bindings_and_vars() -> None:
    from types import SimpleNamespace

    from helix_agents.errors import ConfigurationError
    from helix_agents.hosts.cloudflare.embeddings import WorkersAIEmbedder, retrieval_services
    from helix_agents.testing.services_doubles import FakeEmbeddingAI

    ai, vectorize = FakeEmbeddingAI(768), FakeVectorizeBinding(dimensions=768)
    embedder, index = retrieval_services(ai, vectorize, SimpleNamespace())
    assert isinstance(embedder, WorkersAIEmbedder)
    assert (embedder.model, embedder.dimensions) == ("@cf/baai/bge-base-en-v1.5", 768)
    assert isinstance(index, VectorizeIndex)
    assert (index.dimensions, index.metric) == (768, "cosine")
    env = SimpleNamespace(
        HELIX_EMBEDDING_MODEL="@cf/baai/bge-small-en-v1.5", HELIX_VECTORIZE_METRIC="euclidean"
    )
    embedder, index = retrieval_services(ai, vectorize, env)
    assert embedder is not None
    assert index is not None
    assert (embedder.dimensions, index.dimensions, index.metric) == (384, 384, "euclidean")
    assert retrieval_services(None, None, env) == (None, None)
    with pytest.raises(ConfigurationError, match="HELIX_VECTORIZE_METRIC"):
        retrieval_services(ai, vectorize, SimpleNamespace(HELIX_VECTORIZE_METRIC="l2"))
