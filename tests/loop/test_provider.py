"""The loop over a real OpenAI-compatible HTTP server (the local test server): rate limits,
dropped streams and provider errors, as a run sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.openai_server import (
    OpenAIServer,
    ToolCallSpec,
    reply_error,
    reply_text,
    reply_tool_calls,
)

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.models.openai import OpenAIChatModel

pytestmark = [pytest.mark.timeout(60), pytest.mark.model_requests]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    server = OpenAIServer(api_key="test-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _model(server: OpenAIServer, waits: list[float]) -> OpenAIChatModel:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return OpenAIChatModel(
        "gpt-test", base_url=server.base_url, api_key="test-key", sleep=sleep, max_retries=3
    )


calls: list[str] = []


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    calls.append(key)
    return f"value of {key}"


async def test_rate_limited_then_succeeds(server: OpenAIServer, tmp_path: Path) -> None:
    waits: list[float] = []
    calls.clear()
    server.script(
        reply_error(429, "slow down", retry_after="2", error_type="rate_limit_error"),
        reply_tool_calls(ToolCallSpec("call_1", "lookup", {"key": "k"})),
        reply_error(503, "overloaded"),
        reply_text("The ", "value ", "is ", "known."),
    )
    agent = Agent(name="a", tools=[lookup], model=_model(server, waits))
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("a", "look it up")
        text = "".join(
            [c.chunk.delta async for c in handle.stream() if c.chunk.type == "text-delta"]  # type: ignore[union-attr]
        )
        run = await handle.result()
    assert run.status == "completed"
    assert text == "The value is known."
    assert calls == ["k"]
    assert waits[0] == 2.0  # Retry-After honoured
    assert len(waits) == 2
    assert len(server.requests) == 4
    # The second request carried the tool result back to the model.
    sent: list[Any] = server.requests[3].body["messages"]
    assert sent[-1]["role"] == "tool"
    assert sent[-1]["tool_call_id"] == "call_1"


async def test_a_stream_dropped_after_text_is_retried_without_duplicates(
    server: OpenAIServer, tmp_path: Path
) -> None:
    server.script(
        reply_text("Hello ", "there ", "friend", drop_after=3),
        reply_text("Hello ", "there ", "friend"),
    )
    agent = Agent(name="a", model=_model(server, []))
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("a", "hi")
        assert (await handle.result()).status == "completed"
        replay = [c async for c in handle.stream()]
    text = "".join(c.chunk.delta for c in replay if c.chunk.type == "text-delta")  # type: ignore[union-attr]
    assert text == "Hello there friend"
    assert any(c.chunk.type == "step-reset" for c in replay)


async def test_a_provider_error_fails_the_run_clearly(server: OpenAIServer, tmp_path: Path) -> None:
    server.script(reply_error(400, "model not found: gpt-test"))
    agent = Agent(name="a", model=_model(server, []))
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("a", "hi")
        chunks = [c async for c in handle.stream()]
        run = await handle.result()
        state = await handle.get_state()
    assert run.status == "failed"
    assert state.error is not None
    assert "model not found" in state.error
    errors = [c.chunk for c in chunks if c.chunk.type == "error"]
    assert len(errors) == 1
    assert "model not found" in errors[0].message  # type: ignore[union-attr]
    assert chunks[-1].chunk.type == "run-end"


async def test_a_provider_that_reuses_call_ids_gets_them_back(
    server: OpenAIServer, tmp_path: Path
) -> None:
    """The provider calls every step's tool ``call_0``: the session stores each call under an
    id of its own (results matched to the right call), and the provider is sent its own
    ``call_0`` back, in the assistant messages and the tool results alike."""
    calls.clear()
    server.script(
        reply_tool_calls(ToolCallSpec("call_0", "lookup", {"key": "a"})),
        reply_tool_calls(ToolCallSpec("call_0", "lookup", {"key": "b"})),
        reply_text("done"),
    )
    agent = Agent(name="a", tools=[lookup], model=_model(server, []))
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("a", "look both up")
        chunks = [c.chunk async for c in handle.stream()]
        assert (await handle.result()).status == "completed"
        messages = await handle.messages()
    assert calls == ["a", "b"]
    stored = [(m.tool_call_id, m.content) for m in messages if m.role == "tool"]  # type: ignore[union-attr]
    assert stored == [("call_0", "value of a"), ("call_0~1", "value of b")]
    outputs = [(c.tool_call_id, c.output) for c in chunks if c.type == "tool-output"]  # type: ignore[union-attr]
    assert outputs == stored
    starts = [c.tool_call_id for c in chunks if c.type == "tool-input-start"]  # type: ignore[union-attr]
    assert starts == ["call_0", "call_0~1"]
    sent: list[Any] = server.requests[-1].body["messages"]
    wire = [
        (m["role"], m.get("tool_call_id") or m["tool_calls"][0]["id"])
        for m in sent
        if m["role"] in ("tool", "assistant")
    ]
    assert wire == [("assistant", "call_0"), ("tool", "call_0")] * 2
