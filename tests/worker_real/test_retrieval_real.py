"""Retrieval and queues on the real Worker (local workerd).

- Queues run for real there: the Worker's ``QUEUE`` producer passes the queue checks of the
  conformance suite inside the Worker (every shape of send accepted, limits refused before
  sending). The consumer side (the Worker's ``queue`` handler) is not built yet.
- Vectorize and Workers AI have no local simulation, so the Worker runs retrieval offline
  (``HELIX_RETRIEVAL=offline``: the hashing embedder, the index in D1): the vector index
  conformance suite runs inside the Worker over the real local D1, and the bundled ``docs``
  example answers over the Worker's HTTP API with its sources in the stream and in the
  snapshot. The Vectorize and Workers AI implementations run the same suites inside the
  Worker over JS objects standing for their bindings (their Python/JS conversions for
  real), and against their documented APIs in tests/services/ (test_vectors.py,
  test_embeddings.py).

One Worker for the module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from helix_agents.examples import example_registry
from tests.conformance import embeddings_suite, queues_suite, vectors_suite
from tests.http.harness import assistant_text, read_wire
from tests.worker_real.app import mount_path
from tests.worker_real.retrieval_route import RETRIEVAL_PATH

from .harness import RealWorker, WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def worker(worker_pool: WorkerPool) -> tuple[RealWorker, str]:
    config, _ = config_of((example_registry("demo").get("docs"),), {})
    chosen = worker_pool.get(root_env(config), "test_retrieval_real")
    return chosen, chosen.url + mount_path(config.app)


@pytest.fixture
async def client(worker: tuple[RealWorker, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker[0].url, timeout=120) as c:
        yield c


async def _run(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    res = await client.post(RETRIEVAL_PATH, json=body)
    assert res.status_code == 200, res.text
    answer = res.json()
    assert answer["ok"], answer["error"]


async def test_the_worker_builds_queue_and_offline_retrieval(client: httpx.AsyncClient) -> None:
    res = await client.get(RETRIEVAL_PATH)
    assert res.json() == {
        "queues": "CloudflareQueue('QUEUE')",
        "vectors": "SQLVectorIndex('default', dimensions=256, cosine)",
        "embeddings": "HashingEmbedder(dimensions=256)",
    }


@pytest.mark.parametrize("check", sorted(queues_suite.QUEUE_CHECKS))
async def test_queue_on_real_queues(client: httpx.AsyncClient, check: str) -> None:
    await _run(client, {"suite": "queues", "check": check})


@pytest.mark.parametrize("check", [c.__name__ for c in vectors_suite.CHECKS])
async def test_vector_index_on_real_d1(client: httpx.AsyncClient, check: str) -> None:
    await _run(client, {"suite": "vectors", "check": check, "prefix": f"real-{check}-"})


@pytest.mark.parametrize("check", [c.__name__ for c in vectors_suite.CHECKS])
async def test_vectorize_implementation_in_pyodide(client: httpx.AsyncClient, check: str) -> None:
    # VectorizeIndex over a JS object standing for the binding: its conversions for real.
    await _run(client, {"suite": "vectorize-js", "check": check})


@pytest.mark.parametrize("check", [c.__name__ for c in embeddings_suite.CHECKS])
async def test_workers_ai_embedder_in_pyodide(client: httpx.AsyncClient, check: str) -> None:
    await _run(client, {"suite": "workers-ai-js", "check": check})


async def test_the_docs_example_cites_its_sources_on_the_real_worker(
    worker: tuple[RealWorker, str],
) -> None:
    real, url = worker
    since = real.log_length()
    session = "docs-real-1"
    async with httpx.AsyncClient(base_url=url, timeout=120) as api:
        body = {
            "agentType": "docs",
            "message": "How do I deploy to Cloudflare?",
            "sessionId": session,
        }
        async with api.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert wire.done
        text = assistant_text(wire.chunks)
        assert "[1] Deploying to Cloudflare (docs/deploy.md)" in text
        streamed = [c for c in wire.chunks if c["type"].startswith("source-")]
        assert streamed[0] == {
            "type": "source-document",
            "sourceId": "docs/deploy.md",
            "mediaType": "text/markdown",
            "title": "Deploying to Cloudflare",
            "filename": "docs/deploy.md",
        }
        snapshot = (await api.get(f"/chat/{session}")).json()
        parts = snapshot["messages"][-1]["parts"]
        assert [p for p in parts if p["type"].startswith("source-")] == streamed
    assert real.error_lines(since) == []
