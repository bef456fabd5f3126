"""The httpx transport over the Workers ``fetch``, and model resolution inside the Worker.

The fetch here is a fake with the SDK's shape (``fetch(url, method=, headers=, body=)`` to a
response whose ``body`` is a JS ``ReadableStream``), so the OpenAI-compatible adapter runs
exactly as it would in a Worker: the response streams chunk by chunk, and a test can prove
that the first event is handled before the provider has sent the rest.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from helix_agents.hosts.cloudflare import WorkersFetchTransport
from helix_agents.hosts.cloudflare.models import model_resolver
from helix_agents.messages import UserMessage
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.ports.model import ModelRequest, ModelResponse, TextDelta
from helix_agents.testing import FakeAIBinding, TestModel
from helix_agents.testing.cloudflare.jsruntime import JsReadableStream
from helix_agents.testing.cloudflare.platform import FakeEnv
from helix_agents.testing.cloudflare.shim import workers_module


class StreamingFetch:
    """A provider that answers with a body the test feeds chunk by chunk."""

    def __init__(self, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = {"content-type": "text/event-stream", **(headers or {})}
        self.body = JsReadableStream(capacity=0)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, url: str, **options: Any) -> Any:
        self.requests.append((url, options))
        Response = workers_module().Response
        return Response(self.body, status=self.status, headers=self.headers)

    async def send(self, data: bytes) -> None:
        await self.body._put(data)

    async def end(self) -> None:
        await self.body._close()


def sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def delta(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


@pytest.mark.model_requests
async def test_a_streamed_completion_arrives_event_by_event() -> None:
    fetch = StreamingFetch(headers={"content-encoding": "gzip", "content-length": "999"})
    model = OpenAIChatModel(
        "gpt-test",
        base_url="https://llm.example/v1",
        api_key="k",
        transport=WorkersFetchTransport(fetch),
    )
    request = ModelRequest(system="be brief", messages=[UserMessage(content="hi")])
    events = model.stream(request)
    # Half a frame, then the rest: the SSE decoder joins them.
    first = asyncio.ensure_future(anext(events))
    await fetch.send(sse(delta("Hel"))[:10])
    await fetch.send(sse(delta("Hel"))[10:])
    assert await first == TextDelta("Hel")  # before the provider sent anything else
    await fetch.send(sse(delta("lo")))
    await fetch.send(
        sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        + sse(
            {
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
        )
        + b"data: [DONE]\n\n"
    )
    await fetch.end()
    rest = [event async for event in events]
    final = rest[-1]
    assert isinstance(final, ModelResponse)
    assert final.text == "Hello"
    assert final.usage.output_tokens == 2
    (url, options), *_ = fetch.requests
    assert url == "https://llm.example/v1/chat/completions"
    assert options["method"] == "POST"
    headers = options["headers"]
    assert headers["authorization"] == "Bearer k"
    assert "host" not in headers
    assert "accept-encoding" not in headers
    assert json.loads(options["body"])["stream"] is True


async def test_the_runtime_decodes_bodies_itself() -> None:
    fetch = StreamingFetch(headers={"content-encoding": "gzip", "content-type": "application/json"})
    async with httpx.AsyncClient(transport=WorkersFetchTransport(fetch)) as client:
        task = asyncio.ensure_future(client.get("https://api.example/x"))
        await fetch.send(b'{"plain": "json"}')
        await fetch.end()
        response = await task
    assert response.json() == {"plain": "json"}  # not decoded a second time
    assert "content-encoding" not in response.headers


async def test_failures_become_httpx_errors() -> None:
    async def broken(url: str, **options: Any) -> Any:
        raise OSError("Network connection lost.")

    async with httpx.AsyncClient(transport=WorkersFetchTransport(broken)) as client:
        with pytest.raises(httpx.ConnectError, match="Network connection lost"):
            await client.get("https://api.example/x")

    stalled = StreamingFetch()
    async with (
        httpx.AsyncClient(
            transport=WorkersFetchTransport(stalled), timeout=httpx.Timeout(5.0, read=0.05)
        ) as client,
        client.stream("GET", "https://api.example/x") as response,
    ):
        with pytest.raises(httpx.ReadTimeout):
            async for _ in response.aiter_bytes():
                pass


async def test_the_default_fetch_is_the_sdks() -> None:
    from helix_agents.testing.cloudflare.workers_sdk import set_fetch_handler

    seen: list[str] = []

    async def handler(request: Any) -> Any:
        seen.append(f"{request.method} {request.url}")
        return workers_module().Response("ok", status=201)

    set_fetch_handler(handler)
    try:
        async with httpx.AsyncClient(transport=WorkersFetchTransport()) as client:
            response = await client.post("https://api.example/y", content=b"body")
    finally:
        set_fetch_handler(None)
    assert (response.status_code, response.text) == (201, "ok")
    assert seen == ["POST https://api.example/y"]


def test_models_come_from_the_workers_env() -> None:
    openai_env = FakeEnv(OPENAI_API_KEY="sk", OPENAI_BASE_URL="https://llm.example/v1")
    resolve = model_resolver(openai_env, model_from_env=True)
    model = resolve("test")
    assert isinstance(model, OpenAIChatModel)
    assert (model.model_name, model.base_url) == ("gpt-4o-mini", "https://llm.example/v1")
    assert isinstance(model._transport, WorkersFetchTransport)
    assert resolve("test") is model  # built once per isolate

    ai = FakeAIBinding()
    explicit = model_resolver(
        FakeEnv(AI=ai, HELIX_MODEL="workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
        model_from_env=True,
    )("test")
    assert explicit.name == "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert isinstance(model_resolver(FakeEnv(), model_from_env=True)("test"), TestModel)
    # Without model_from_env, an agent's own choice stands.
    assert isinstance(model_resolver(openai_env)("test"), TestModel)


def test_an_openai_model_instance_goes_over_fetch_too() -> None:
    mine = OpenAIChatModel("gpt-test", base_url="https://llm.example/v1", api_key="k")
    assert model_resolver(FakeEnv())(mine) is mine
    assert isinstance(mine._transport, WorkersFetchTransport)
    custom = httpx.MockTransport(lambda request: httpx.Response(200))
    theirs = OpenAIChatModel("gpt-test", base_url="https://llm.example/v1", transport=custom)
    model_resolver(FakeEnv())(theirs)
    assert theirs._transport is custom
