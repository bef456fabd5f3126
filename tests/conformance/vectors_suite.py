"""The VectorIndex conformance suite: what every implementation of the port must do.

Plain async checks (no pytest here), each taking a factory ``make(dimensions, metric)``
that returns a fresh, empty index; :data:`CHECKS` lists them and :func:`run_all` runs them
all, so the same suite runs under pytest (tests/services/test_vectors.py: the local index
and the Vectorize implementation over the documented-API double) and anywhere else.
It relies on writes being visible to the next query: true of the local index and of the
double, not of a real Vectorize index (its writes apply seconds later).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from helix_agents.errors import VectorIndexError
from helix_agents.ports.vectors import Metric, Vector, VectorIndex

__all__ = ["CHECKS", "MakeIndex", "run_all"]

MakeIndex = Callable[[int, Metric], Awaitable[VectorIndex]]


async def _raises(awaitable: Awaitable[Any], fragment: str) -> None:
    failure: VectorIndexError | None = None
    try:
        await awaitable
    except VectorIndexError as exc:
        failure = exc
    if failure is None:
        raise AssertionError(f"expected a VectorIndexError about {fragment!r}")
    assert fragment in str(failure), f"{fragment!r} not in {failure}"


def _unit(*values: float) -> list[float]:
    return list(values)


async def check_ranks_closest_first(make: MakeIndex) -> None:
    index = await make(3, "cosine")
    assert index.dimensions == 3
    assert index.metric == "cosine"
    assert (
        await index.upsert(
            [
                Vector("x", _unit(1, 0, 0), {"t": "x"}),
                Vector("y", _unit(0, 1, 0), {"t": "y"}),
                Vector("xy", _unit(1, 1, 0), {"t": "xy"}),
            ]
        )
        == 3
    )
    matches = await index.query([1, 0.1, 0], top_k=3)
    assert [m.id for m in matches] == ["x", "xy", "y"]
    assert matches[0].score > matches[1].score > matches[2].score
    assert matches[0].metadata == {"t": "x"}
    assert matches[0].values is None
    exact = await index.query([0, 2, 0], top_k=1, return_values=True)
    assert exact[0].id == "y"
    assert abs(exact[0].score - 1.0) < 1e-6
    assert exact[0].values == [0.0, 1.0, 0.0]
    bare = await index.query([0, 1, 0], top_k=2, return_metadata=False)
    assert [m.metadata for m in bare] == [None, None]


async def check_euclidean_is_a_distance(make: MakeIndex) -> None:
    index = await make(2, "euclidean")
    await index.upsert([Vector("near", [1, 1]), Vector("far", [5, 5])])
    matches = await index.query([1, 2], top_k=2)
    assert [m.id for m in matches] == ["near", "far"]
    assert abs(matches[0].score - 1.0) < 1e-6
    assert matches[0].score < matches[1].score


async def check_upsert_replaces_insert_keeps(make: MakeIndex) -> None:
    index = await make(2, "cosine")
    await index.upsert([Vector("a", [1, 0], {"v": 1})])
    await index.upsert([Vector("a", [0, 1], {"v": 2})])
    [got] = await index.get(["a"])
    assert got.metadata == {"v": 2}
    assert list(got.values) == [0.0, 1.0]
    await index.insert([Vector("a", [1, 0], {"v": 3}), Vector("b", [1, 0], {"v": 4})])
    by_id = {v.id: v for v in await index.get(["a", "b", "missing"])}
    assert set(by_id) == {"a", "b"}
    assert by_id["a"].metadata == {"v": 2}
    assert by_id["b"].metadata == {"v": 4}


async def check_filters(make: MakeIndex) -> None:
    index = await make(2, "cosine")
    await index.upsert(
        [
            Vector(
                "a", [1, 0], {"kind": "doc", "year": 2023, "draft": False, "meta": {"lang": "en"}}
            ),
            Vector(
                "b", [1, 0.1], {"kind": "doc", "year": 2025, "draft": True, "meta": {"lang": "de"}}
            ),
            Vector("c", [1, 0.2], {"kind": "faq", "year": 2024}),
            Vector("d", [1, 0.3], {}),
        ]
    )

    async def ids(flt: dict[str, Any]) -> set[str]:
        return {m.id for m in await index.query([1, 0], top_k=10, filter=flt)}

    assert await ids({"kind": "doc"}) == {"a", "b"}
    assert await ids({"kind": {"$eq": "faq"}}) == {"c"}
    assert await ids({"kind": {"$ne": "doc"}}) == {"c", "d"}  # a missing field passes $ne
    assert await ids({"kind": {"$in": ["faq", "blog"]}}) == {"c"}
    assert await ids({"kind": {"$nin": ["doc"]}}) == {"c", "d"}
    assert await ids({"year": {"$gte": 2024}}) == {"b", "c"}
    assert await ids({"year": {"$gt": 2023, "$lt": 2025}}) == {"c"}
    assert await ids({"year": {"$lte": 2023}}) == {"a"}
    assert await ids({"draft": True}) == {"b"}
    assert await ids({"draft": 1}) == set()  # JSON's view: true is not 1
    assert await ids({"meta.lang": "en"}) == {"a"}
    assert await ids({"kind": "doc", "year": 2025}) == {"b"}
    # The filter applies before top_k.
    assert [m.id for m in await index.query([1, 0], top_k=1, filter={"kind": "faq"})] == ["c"]


async def check_namespaces(make: MakeIndex) -> None:
    index = await make(2, "cosine")
    await index.upsert(
        [
            Vector("a", [1, 0], namespace="one"),
            Vector("b", [1, 0], namespace="two"),
            Vector("c", [1, 0]),
        ]
    )
    one = await index.query([1, 0], top_k=5, namespace="one")
    assert [(m.id, m.namespace) for m in one] == [("a", "one")]
    assert {m.id for m in await index.query([1, 0], top_k=5)} == {"a", "b", "c"}


async def check_delete(make: MakeIndex) -> None:
    index = await make(2, "cosine")
    await index.upsert([Vector("a", [1, 0]), Vector("b", [0, 1])])
    assert await index.delete(["a", "nope"]) == 2
    assert [v.id for v in await index.get(["a", "b"])] == ["b"]
    assert [m.id for m in await index.query([1, 0], top_k=5)] == ["b"]


async def check_limits(make: MakeIndex) -> None:
    index = await make(2, "cosine")
    await _raises(index.upsert([Vector("a", [1, 0, 0])]), "dimensions")
    await _raises(index.upsert([Vector("x" * 65, [1, 0])]), "bytes")
    await _raises(index.upsert([Vector("big", [1, 0], {"t": "x" * 11000})]), "metadata")
    await _raises(index.upsert([Vector("nan", [float("nan"), 0])]), "finite")
    await _raises(index.upsert([]), "at least one")
    await _raises(index.upsert([Vector(str(i), [1, 0]) for i in range(1001)]), "1000")
    await _raises(index.query([1, 0], top_k=0), "top_k")
    await _raises(index.query([1, 0], top_k=51), "top_k")
    await _raises(index.query([1, 0], top_k=101, return_metadata=False), "top_k")
    await _raises(index.query([1], top_k=1), "dimensions")
    await _raises(index.query([1, 0], filter={"a": {"$regex": "x"}}), "operator")
    await _raises(index.query([1, 0], filter={"a": {"$in": "x"}}), "$in")
    await _raises(index.query([1, 0], filter={}), "non-empty")
    # The index is as it was: nothing half-written.
    assert await index.query([1, 0], top_k=100, return_metadata=False) == []


CHECKS: list[Callable[[MakeIndex], Awaitable[None]]] = [
    check_ranks_closest_first,
    check_euclidean_is_a_distance,
    check_upsert_replaces_insert_keeps,
    check_filters,
    check_namespaces,
    check_delete,
    check_limits,
]


async def run_all(make: MakeIndex) -> dict[str, str]:
    """Every check, by name: ``"ok"`` or the failure's text."""
    results: dict[str, str] = {}
    for check in CHECKS:
        try:
            await check(make)
        except Exception as exc:
            results[check.__name__] = f"{type(exc).__name__}: {exc}"
        else:
            results[check.__name__] = "ok"
    return results
