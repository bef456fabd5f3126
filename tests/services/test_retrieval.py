"""The retrieval toolkit on the real local host (SQLite index, offline embedder): chunking,
indexing through a tool step, search results with sources and scores, the sources in the
UI stream and in the snapshot (the same parts a ``useChat`` client built from the stream)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.chunks import SourceChunk
from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.errors import ConfigurationError
from helix_agents.hosts.local.embeddings import HashingEmbedder
from helix_agents.hosts.local.host import LocalHost
from helix_agents.hosts.local.vectors import SQLVectorIndex
from helix_agents.http.snapshot import build_snapshot
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import index_documents, retrieval_toolkit, search_passages
from helix_agents.toolkits.chunking import chunk_text
from helix_agents.toolkits.retrieval import chunk_id
from tests.support.ui_message import UIMessageAssembler

pytestmark = pytest.mark.timeout(60)

DOCS = [
    {
        "source": "docs/queues.md",
        "title": "Queues",
        "text": "A queue hands work to another agent. Messages are retried and then go to the "
        "dead letter queue after max_retries.",
    },
    {
        "source": "docs/deploy.md",
        "title": "Deploying",
        "url": "https://example.test/deploy",
        "text": "Deploy the worker with helix worker deploy. Wrangler uploads the bundle.",
    },
    {"source": "docs/cats.md", "text": "Cats sleep most of the day and purr."},
]


def test_chunks_overlap_and_respect_the_size() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(60))
    passages = chunk_text(text, max_chars=200, overlap=50)
    assert len(passages) > 5
    assert all(len(p) <= 200 for p in passages)
    for before, after in itertools.pairwise(passages):
        assert after.split()[0] in before  # each passage starts inside the one before
    assert chunk_text(text, max_chars=200, overlap=50) == passages  # deterministic
    assert chunk_text("  \n ") == []
    assert chunk_text("short", max_chars=100, overlap=0) == ["short"]
    with pytest.raises(ValueError):
        chunk_text(text, max_chars=100, overlap=60)
    first = "The first paragraph, long enough to end past the middle."
    paragraphs = first + "\n\n" + "x " * 30 + "\n\nThird one."
    assert chunk_text(paragraphs, max_chars=80, overlap=0)[0] == first


def test_chunk_ids_fit_vectorize() -> None:
    assert chunk_id("docs/a.md", 3) == "docs/a.md#3"
    long = chunk_id("https://example.test/" + "x" * 100, 12)
    assert len(long.encode()) <= 64
    assert long.endswith("#12")
    assert long == chunk_id("https://example.test/" + "x" * 100, 12)


async def test_index_and_search_directly(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "v.db")
    embedder = HashingEmbedder()
    index = SQLVectorIndex(db, "docs", dimensions=embedder.dimensions)
    counts = await index_documents(DOCS, embedder=embedder, index=index, metadata={"set": "t"})
    assert counts == {"documents": 3, "chunks": 3}
    again = await index_documents(DOCS, embedder=embedder, index=index)  # idempotent
    assert again == counts
    assert len(await index.query([1.0] + [0.0] * 255, top_k=50, return_metadata=False)) == 3
    [best, *_] = await search_passages("dead letter queue retries", embedder=embedder, index=index)
    assert (best.source, best.title, best.chunk) == ("docs/queues.md", "Queues", 0)
    assert "dead letter" in best.text
    assert 0 < best.score <= 1
    only = await search_passages(
        "deploy", embedder=embedder, index=index, filter={"source": "docs/deploy.md"}, top_k=5
    )
    assert [p.url for p in only] == ["https://example.test/deploy"]
    wrong = SQLVectorIndex(db, "other", dimensions=8)
    with pytest.raises(ConfigurationError, match="--dimensions=256"):
        await index_documents(DOCS, embedder=embedder, index=wrong)
    await db.close()


def scripted(*steps: Any) -> FunctionModel:
    """Each turn: the calls of ``steps[turn-1]``, then a text answer."""

    def respond(messages: list[Any], info: Any) -> Any:
        if info.tool_results:
            return "Answered from the sources."
        turn = sum(1 for m in messages if getattr(m, "role", None) == "user")
        return steps[turn - 1]

    return FunctionModel(respond)


async def test_agent_indexes_searches_and_cites(tmp_path: Path) -> None:
    agent = Agent(
        "librarian",
        tools=retrieval_toolkit(indexing=True, top_k=2),
        model=scripted(
            call_tool("index_documents", documents=DOCS),
            call_tool("search", query="how are queue messages retried"),
        ),
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        first = await host.executor.execute("librarian", "index these")
        assert (await first.result()).status == RunStatus.COMPLETED
        second = await host.executor.send(first.session_id, "how are messages retried?")
        assert (await second.result()).status == RunStatus.COMPLETED
        messages = await second.messages()
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        assert results[0].content == {"documents": 3, "chunks": 3}
        search = results[1]
        assert search.status == "success"
        hits = search.content["results"]
        assert len(hits) == 2
        assert hits[0]["source"] == "docs/queues.md"
        assert hits[0]["score"] >= hits[1]["score"]
        assert set(hits[0]) == {"text", "source", "title", "chunk", "score"}
        # The sources: in the stream, in the stored result, in the snapshot.
        chunks = [c async for c in second.stream()]
        sources = [c.chunk for c in chunks if isinstance(c.chunk, SourceChunk)]
        assert [s.source_id for s in sources] == [h.get("url", h["source"]) for h in hits]
        assert search.sources is not None
        assert [s.source_id for s in search.sources] == [s.source_id for s in sources]
        reader = UIMessageAssembler()
        reader.feed(chunks)
        assert reader.message is not None
        ui_sources = [p for p in reader.message["parts"] if p["type"].startswith("source-")]
        assert ui_sources[0] == {
            "type": "source-document",
            "sourceId": "docs/queues.md",
            "mediaType": "text/markdown",
            "title": "Queues",
            "filename": "docs/queues.md",
        }
        state = await host.executor.get_session(first.session_id)
        snapshot = await build_snapshot(host.executor, state)
        last = snapshot["messages"][-1]
        assert last["id"] == reader.message["id"]
        assert last["parts"] == reader.message["parts"]
        usage = await second.run_usage()
        assert usage.custom == {"embeddings.texts": 1, "vectors.queries": 1}


async def test_search_reports_a_missing_service_to_the_model(tmp_path: Path) -> None:
    agent = Agent(
        "librarian",
        tools=retrieval_toolkit(),
        model=scripted(call_tool("search", query="anything")),
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        host.services._ports["vectors"] = None  # as on a Worker without a [[vectorize]] binding
        handle = await host.executor.execute("librarian", "search")
        assert (await handle.result()).status == RunStatus.COMPLETED
        [result] = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
    assert result.status == "error"
    assert "(ctx.services.vectors)" in result.content
    assert "LocalHost(services=Services(vectors=...))" in result.content


def test_toolkit_refuses_bad_settings() -> None:
    with pytest.raises(ConfigurationError):
        retrieval_toolkit(top_k=0)
    with pytest.raises(ValueError):
        retrieval_toolkit(max_chars=100, overlap=80)
    names = [t.name for t in retrieval_toolkit(indexing=True)]
    assert names == ["search", "index_documents"]
    schema = retrieval_toolkit(indexing=True)[1].parameters
    assert "documents" in schema["properties"]
