"""cached_model: a repeated request answered from KV on the local host, with no tokens
spent and the hit in the stream (a ``data-cache`` part) and in usage; tool-call ids do not
stop a second session from hitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, RunHandle, tool
from helix_agents.chunks import CustomDataChunk, TextDeltaChunk
from helix_agents.errors import ConfigurationError, ServiceNotConfiguredError
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import AssistantMessage
from helix_agents.ports.model import ModelRequest
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import cached_model

pytestmark = pytest.mark.timeout(60)


async def cache_parts(handle: RunHandle) -> list[Any]:
    """The run's ``data-cache`` parts, with a text delta's position marked ``"text"``."""
    parts: list[Any] = []
    async for sequenced in handle.stream():
        chunk = sequenced.chunk
        if isinstance(chunk, CustomDataChunk) and chunk.name == "cache":
            parts.append(chunk.data)
        elif isinstance(chunk, TextDeltaChunk) and parts[-1:] != ["text"]:
            parts.append("text")
    return parts


async def test_a_repeated_conversation_is_answered_from_kv(tmp_path: Path) -> None:
    requests: list[int] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    def respond(messages: list[Any], info: Any) -> Any:
        requests.append(len(messages))
        if info.tool_results:
            return f"the sum is {info.tool_results[-1].content}"
        return call_tool("add", a=2, b=3)

    agent = Agent(
        "adder", tools=[add], model=cached_model(FunctionModel(respond, name="fn"), ttl=300)
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        first = await host.executor.execute("adder", "2+3?")
        assert (await first.result()).status == RunStatus.COMPLETED
        second = await host.executor.execute("adder", "2+3?")
        assert (await second.result()).status == RunStatus.COMPLETED
        other = await host.executor.execute("adder", "something else")
        assert (await other.result()).status == RunStatus.COMPLETED
        # Two model steps per conversation: the first ran both, the second none (its
        # history matches, call ids aside), the third (another question) both.
        assert len(requests) == 4
        answers = []
        for handle in (first, second):
            messages = await handle.messages()
            answers.append([m.content for m in messages if isinstance(m, AssistantMessage)])
            [call] = [c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
            assert call.arguments == {"a": 2, "b": 3}
        assert answers[0] == answers[1] == ["", "the sum is 5"]
        missed, hit = await first.run_usage(), await second.run_usage()
        assert missed.custom == {"model_cache.miss": 2}
        assert missed.total_tokens > 0
        assert missed.requests == 2
        assert hit.custom == {"model_cache.hit": 2}
        assert hit.total_tokens == 0
        assert hit.input_tokens == 0
        # The stream says so too: a part per model step, a hit's before its text.
        missed_parts, hit_parts = await cache_parts(first), await cache_parts(second)
        assert [p if p == "text" else p["hit"] for p in missed_parts] == [False, "text", False]
        assert [p if p == "text" else p["hit"] for p in hit_parts] == [True, True, "text"]
        assert [p["key"] for p in hit_parts if p != "text"] == [
            p["key"] for p in missed_parts if p != "text"
        ]
        assert all(p["model"] == "fn" for p in hit_parts if p != "text")
        assert hit_parts[0]["key"].startswith("cache/models/")
        # And each hit's own usage record (one per model step): no tokens, the hit counted.
        records = await host.store.usage_records(second.session_id, run_id=second.run_id)
        model_records = [r for r in records if r.kind == "model"]
        assert len(model_records) == 2
        assert all(r.usage.total_tokens == 0 for r in model_records)
        assert all(r.usage.requests == 1 for r in model_records)
        assert all(r.usage.custom == {"model_cache.hit": 1} for r in model_records)


async def test_cached_model_needs_a_host_and_a_sane_ttl() -> None:
    with pytest.raises(ConfigurationError, match="at least 60"):
        cached_model("test", ttl=1)
    model = cached_model("test")
    with pytest.raises(ServiceNotConfiguredError, match="needs the host's key-value store"):
        async for _ in model.stream(ModelRequest(system="", messages=[])):
            pass
