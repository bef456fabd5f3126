"""The embeddings port: the conformance suite against the offline hashing embedder, Workers
AI over its documented-API double, and the OpenAI-compatible client over a real socket to
the local test server (retries, errors, usage)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from helix_agents.errors import ConfigurationError, EmbeddingError
from helix_agents.hosts.cloudflare.embeddings import WorkersAIEmbedder
from helix_agents.hosts.local.embeddings import HashingEmbedder
from helix_agents.models.openai_embeddings import OpenAIEmbedder
from helix_agents.ports.embeddings import Embedder
from helix_agents.testing import allow_model_requests, forbid_model_requests
from helix_agents.testing.services_doubles import FakeEmbeddingAI
from tests.conformance.embeddings_suite import CHECKS
from tests.support.openai_server import OpenAIServer


@pytest.fixture(autouse=True)
def _local_providers_allowed() -> Iterator[None]:
    # The providers here are the local test server and the Workers AI double.
    with allow_model_requests():
        yield


async def test_provider_embedders_obey_forbid_model_requests() -> None:
    with forbid_model_requests():
        with pytest.raises(EmbeddingError, match="forbidden"):
            await WorkersAIEmbedder(FakeEmbeddingAI(768)).embed(["x"])
        with pytest.raises(EmbeddingError, match="forbidden"):
            await OpenAIEmbedder("m", dimensions=8, base_url="http://127.0.0.1:9/v1").embed(["x"])
        assert len(await HashingEmbedder().embed(["x"])) == 1


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key="test-key") as s:
        yield s


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(params=["hashing", "workers-ai-double", "openai-server"])
async def embedder(request: pytest.FixtureRequest, server: OpenAIServer) -> AsyncIterator[Embedder]:
    server.reset()
    if request.param == "hashing":
        yield HashingEmbedder(128)
    elif request.param == "workers-ai-double":
        yield WorkersAIEmbedder(FakeEmbeddingAI(768))
    else:
        yield OpenAIEmbedder(
            "test-embed",
            dimensions=64,
            base_url=server.base_url,
            api_key="test-key",
            batch_size=100,
        )


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_conformance(
    embedder: Embedder, check: Callable[[Embedder], Awaitable[None]]
) -> None:
    await check(embedder)


async def test_hashing_embedder_is_deterministic_normalized_and_lexical() -> None:
    e = HashingEmbedder(64)
    [a] = await e.embed(["Queues retry messages"])
    assert a == HashingEmbedder(64).embed_one("queues RETRY messages!")
    assert abs(math.sqrt(sum(x * x for x in a)) - 1.0) < 1e-9
    # Not semantic: a synonym shares no word, so it scores no better than noise.
    [ship, deploy] = await e.embed(["ship", "deploy"])
    assert abs(sum(x * y for x, y in zip(ship, deploy, strict=True))) < 0.5
    assert e.model == "helix-hashing-64"


async def test_workers_ai_calls_have_the_documented_shape() -> None:
    ai = FakeEmbeddingAI(768)
    e = WorkersAIEmbedder(ai)
    await e.embed([f"t{i}" for i in range(150)])
    assert [(model, len(inputs["text"])) for model, inputs in ai.calls] == [
        ("@cf/baai/bge-base-en-v1.5", 100),
        ("@cf/baai/bge-base-en-v1.5", 50),
    ]
    ai.fail_with = "InferenceUpstreamError: 3040: capacity exceeded"
    with pytest.raises(EmbeddingError, match="capacity exceeded"):
        await e.embed(["x"])
    with pytest.raises(EmbeddingError, match="dimensions"):
        WorkersAIEmbedder(ai, "@cf/unknown/model")


async def test_workers_ai_answer_of_the_wrong_shape_is_refused() -> None:
    class Short(FakeEmbeddingAI):
        async def run(
            self, model: str, inputs: object, options: object = None
        ) -> dict[str, object]:
            answer = await super().run(model, inputs)
            answer["data"] = answer["data"][:-1]  # type: ignore[index]
            return answer

    with pytest.raises(EmbeddingError, match="expected 2 vectors"):
        await WorkersAIEmbedder(Short(768)).embed(["a", "b"])


async def test_openai_request_retries_and_usage(server: OpenAIServer) -> None:
    server.reset()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    e = OpenAIEmbedder(
        "text-embedding-3-small",
        dimensions=32,
        base_url=server.base_url,
        api_key="test-key",
        sleep=sleep,
    )
    server.embedding_errors.append((429, "Rate limit reached", {"retry-after": "2"}))
    server.embedding_errors.append((503, "overloaded", {}))
    vectors = await e.embed(["alpha beta", "gamma"])
    assert len(vectors) == 2
    assert len(vectors[0]) == 32
    assert waits[0] == 2.0
    assert len(waits) == 2
    body = server.requests[-1].body
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["alpha beta", "gamma"],
        "encoding_format": "float",
        "dimensions": 32,
    }
    assert e.tokens_used == 3


async def test_openai_errors(server: OpenAIServer) -> None:
    server.reset()
    e = OpenAIEmbedder(
        "m", dimensions=8, base_url=server.base_url, api_key="wrong", sleep=_no_sleep
    )
    with pytest.raises(EmbeddingError, match="401: Incorrect API key"):
        await e.embed(["x"])
    server.embedding_errors.append((400, "input too long", {}))
    ok_key = OpenAIEmbedder("m", dimensions=8, base_url=server.base_url, api_key="test-key")
    with pytest.raises(EmbeddingError, match="400: input too long"):
        await ok_key.embed(["x"])
    assert len(server.requests) == 2  # a 400 is not retried
    with pytest.raises(ConfigurationError, match="dimensions"):
        OpenAIEmbedder("unknown-model", base_url=server.base_url)
    closed = OpenAIEmbedder(
        "m",
        dimensions=8,
        base_url="http://127.0.0.1:9/v1",
        api_key="k",
        max_retries=1,
        sleep=_no_sleep,
    )
    with pytest.raises(EmbeddingError, match="ConnectError"):
        await closed.embed(["x"])
