"""The bundled ``docs`` example end to end on the local host: the shipped corpus indexed on
the first search, answers that cite their sources, on the offline demo model and on an
OpenAI-compatible model (the local test server over a real socket)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helix_agents.chunks import SourceChunk, TextDeltaChunk
from helix_agents.examples import example_registry
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import AssistantMessage, ToolResultMessage
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.state import RunStatus
from helix_agents.testing import allow_model_requests
from tests.support.openai_server import OpenAIServer, ToolCallSpec, reply_text, reply_tool_calls

pytestmark = pytest.mark.timeout(60)


async def test_docs_agent_on_the_demo_model_cites_the_deploy_page(tmp_path: Path) -> None:
    async with LocalHost(example_registry("demo"), tmp_path / "data") as host:
        handle = await host.executor.execute("docs", "How do I deploy to Cloudflare?")
        assert (await handle.result()).status == RunStatus.COMPLETED
        chunks = [c.chunk async for c in handle.stream()]
        text = "".join(c.delta for c in chunks if isinstance(c, TextDeltaChunk))
        assert "Let me look that up." in text
        assert "[1] Deploying to Cloudflare (docs/deploy.md)" in text
        assert "pywrangler deploy" in text
        sources = [c.source_id for c in chunks if isinstance(c, SourceChunk)]
        assert sources[0] == "docs/deploy.md"
        assert len(sources) == len(set(sources)) <= 3
        usage = await handle.run_usage()
        assert usage.custom["vectors.queries"] == 1
        assert usage.custom["vectors.writes"] >= 11  # the corpus, indexed on this first search
        # A second question: the corpus is not indexed again.
        again = await host.executor.send(handle.session_id, "What does a queue do?")
        assert (await again.result()).status == RunStatus.COMPLETED
        assert "vectors.writes" not in (await again.run_usage()).custom
        [*_, last] = await again.messages()
        assert isinstance(last, AssistantMessage)
        assert "docs/services.md" in last.content


async def test_docs_agent_greets_with_a_suggestion(tmp_path: Path) -> None:
    async with LocalHost(example_registry("demo"), tmp_path / "data") as host:
        handle = await host.executor.execute("docs", "hello")
        assert (await handle.result()).status == RunStatus.COMPLETED
        [*_, last] = await handle.messages()
    assert '"how do I deploy to Cloudflare?"' in last.content


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key="test-key") as s:
        yield s


async def test_docs_agent_on_an_openai_compatible_model(
    tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(
        reply_tool_calls(
            ToolCallSpec("call_1", "search", {"query": "a pending approval of a tool"})
        ),
        reply_text("Tools with requires_approval wait for a person [1]."),
    )
    model = OpenAIChatModel("test-model", base_url=server.base_url, api_key="test-key")
    with allow_model_requests():
        await _ask_the_docs_agent(tmp_path, server, model)


async def _ask_the_docs_agent(tmp_path: Path, server: OpenAIServer, model: OpenAIChatModel) -> None:
    async with LocalHost(example_registry(model), tmp_path / "data") as host:
        handle = await host.executor.execute("docs", "Can a human approve a tool call?")
        record = await handle.result()
        assert record.status == RunStatus.COMPLETED
        messages = await handle.messages()
    [result] = [m for m in messages if isinstance(m, ToolResultMessage)]
    assert result.content["results"][0]["source"] == "docs/hitl.md"
    assert result.sources is not None
    assert result.sources[0].source_id == "docs/hitl.md"
    # The model was sent the passages it cites.
    second = server.requests[-1].body["messages"]
    assert any("requires_approval" in str(m.get("content")) for m in second if m["role"] == "tool")
    assert messages[-1].content == "Tools with requires_approval wait for a person [1]."
