"""The cache and file toolkits on the real local host: KV in SQLite, files under the data
directory; the stream and usage say what the cache did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.chunks import CustomDataChunk, SequencedChunk
from helix_agents.errors import ConfigurationError
from helix_agents.executor import RunHandle
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import cache_toolkit, cached, file_toolkit
from helix_agents.tools import ToolContext

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


def per_turn(*turns: Any) -> FunctionModel:
    """Turn n makes the calls of ``turns[n-1]`` (a call or a list), then says "done"."""

    def respond(messages: list[Any], info: Any) -> Any:
        if info.tool_results:
            return "done"
        turn = sum(1 for m in messages if getattr(m, "role", None) == "user")
        return turns[turn - 1]

    return FunctionModel(respond)


async def turn(host: LocalHost, agent: str, text: str, session: str | None = None) -> RunHandle:
    if session is None:
        handle = await host.executor.execute(agent, text)
    else:
        handle = await host.executor.send(session, text)
    assert (await handle.result()).status == RunStatus.COMPLETED
    return handle


async def chunks_of(handle: RunHandle) -> list[SequencedChunk]:
    return [c async for c in handle.stream()]


def cache_parts(chunks: list[SequencedChunk]) -> list[dict[str, Any]]:
    return [
        c.chunk.data
        for c in chunks
        if isinstance(c.chunk, CustomDataChunk) and c.chunk.name == "cache"
    ]


async def last_results(handle: RunHandle) -> list[ToolResultMessage]:
    results = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
    return results


async def test_a_repeated_call_is_served_from_kv_and_shows_in_stream_and_usage(
    tmp_path: Path,
) -> None:
    runs: list[str] = []

    @tool
    async def forecast(city: str, days: int = 1) -> dict[str, Any]:
        """The weather forecast for a city."""
        runs.append(city)
        return {"city": city, "days": days, "sky": "clear"}

    paris = call_tool("forecast", city="Paris", days=2)
    agent = Agent(
        "weather",
        tools=[cached(forecast, ttl=600, namespace="weather")],
        model=per_turn(paris, paris, call_tool("forecast", city="Oslo", days=2), paris),
    )
    clock = Clock()
    async with LocalHost(agent, tmp_path / "data", clock=clock) as host:
        first = await turn(host, "weather", "paris?")
        second = await turn(host, "weather", "again", first.session_id)
        third = await turn(host, "weather", "oslo?", first.session_id)
        assert runs == ["Paris", "Oslo"]  # the second Paris call never ran the function
        assert [p["hit"] for p in cache_parts(await chunks_of(first))] == [False]
        [hit] = cache_parts(await chunks_of(second))
        assert hit["hit"] is True
        assert hit["tool"] == "forecast"
        assert hit["key"].startswith("cache/weather/forecast/")
        assert [p["hit"] for p in cache_parts(await chunks_of(third))] == [False]
        results = await last_results(third)
        assert [r.content for r in results[:2]] == [
            {"city": "Paris", "days": 2, "sky": "clear"}
        ] * 2
        assert (await second.run_usage()).custom == {"cache.hit": 1}
        assert (await first.run_usage()).custom == {"cache.miss": 1}
        session = await first.usage()
        assert session.usage.custom == {"cache.hit": 1, "cache.miss": 2}
        # Past the TTL the entry is gone: the call runs again.
        clock.ms += 601_000
        fourth = await turn(host, "weather", "paris later", first.session_id)
        assert runs == ["Paris", "Oslo", "Paris"]
        assert [p["hit"] for p in cache_parts(await chunks_of(fourth))] == [False]


async def test_errors_are_never_cached_and_context_tools_keep_their_context(
    tmp_path: Path,
) -> None:
    calls: list[str] = []

    @tool
    async def flaky(ctx: ToolContext, q: str) -> str:
        """Answer q, failing the first time."""
        calls.append(ctx.agent_name)
        if len(calls) == 1:
            raise RuntimeError("upstream down")
        return f"answer to {q}"

    agent = Agent(
        "flaky",
        tools=cache_toolkit(flaky, ttl=120),
        model=per_turn(*[call_tool("flaky", q="x")] * 3),
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        first = await turn(host, "flaky", "1")
        await turn(host, "flaky", "2", first.session_id)
        last = await turn(host, "flaky", "3", first.session_id)
        results = await last_results(last)
    assert [r.status for r in results] == ["error", "success", "success"]
    assert "upstream down" in results[0].content
    assert calls == ["flaky", "flaky"]  # the third call was a hit


def test_cache_configuration_is_checked() -> None:
    @tool
    def f(x: int) -> int:
        """F."""
        return x

    with pytest.raises(ConfigurationError, match="at least 60"):
        cached(f, ttl=5)
    with pytest.raises(ConfigurationError, match="namespace"):
        cached(f, namespace="a/b")
    client = tool(execute="client")(f.function)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="runs in the client"):
        cached(client)
    wrapped = cached(f)
    assert wrapped.name == "f"
    assert wrapped.parameters == f.parameters
    assert wrapped.metadata["cache"] == {"ttl": 3600, "namespace": "tools"}


async def test_file_tools_write_read_list_and_delete_under_their_prefix(tmp_path: Path) -> None:
    agent = Agent(
        "scribe",
        tools=file_toolkit(prefix="notes/", approve_deletes=False),
        model=per_turn(
            [
                call_tool("write_file", path="plans/q3.md", content="# Q3\nship it"),
                call_tool("write_file", path="todo.txt", content="é ✓"),
            ],
            [
                call_tool("read_file", path="plans/q3.md"),
                call_tool("list_files"),
                call_tool("list_files", folder="plans"),
            ],
            [call_tool("delete_file", path="todo.txt"), call_tool("read_file", path="todo.txt")],
            [
                call_tool("read_file", path="../escape"),
                call_tool("write_file", path="/abs", content="x"),
            ],
        ),
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        first = await turn(host, "scribe", "write")
        second = await turn(host, "scribe", "read", first.session_id)
        stored = await host.services.objects.get("notes/plans/q3.md")
        assert stored is not None
        assert stored.text() == "# Q3\nship it"
        assert stored.info.content_type == "text/plain"
        assert stored.info.metadata["writtenBy"] == "scribe"
        third = await turn(host, "scribe", "delete", first.session_id)
        fourth = await turn(host, "scribe", "escape", first.session_id)
        results = await last_results(fourth)
        assert await host.services.objects.head("notes/todo.txt") is None
    writes, reads, deletes, escapes = results[:2], results[2:5], results[5:7], results[7:]
    assert [r.content["size"] for r in writes] == [len("# Q3\nship it"), len("é ✓".encode())]
    read, listed, folder = (r.content for r in reads)
    assert read == {
        "path": "plans/q3.md",
        "content": "# Q3\nship it",
        "truncated": False,
        "size": 12,
    }
    assert [f["path"] for f in listed["files"]] == ["plans/q3.md", "todo.txt"]
    assert [f["path"] for f in folder["files"]] == ["plans/q3.md"]
    assert deletes[0].content == {"deleted": "todo.txt"}
    assert deletes[1].status == "error"
    assert "no file at 'todo.txt'" in deletes[1].content
    assert [r.status for r in escapes] == ["error", "error"]
    assert "'..' segments" in escapes[0].content
    assert "relative path" in escapes[1].content
    assert second.session_id == third.session_id
    # The bodies are files under the data directory.
    assert any((tmp_path / "data" / "objects" / "default").iterdir())


async def test_session_scope_read_only_and_approval_by_default(tmp_path: Path) -> None:
    names = [t.name for t in file_toolkit(writable=False)]
    assert names == ["list_files", "read_file"]
    [*_, delete] = file_toolkit()
    assert delete.requires_approval is True
    with pytest.raises(ConfigurationError, match="must end with '/'"):
        file_toolkit(prefix="notes")
    agent = Agent(
        "private",
        tools=file_toolkit(prefix="chats/", scope="session"),
        model=per_turn(call_tool("write_file", path="a.txt", content="mine")),
    )
    async with LocalHost(agent, tmp_path / "data") as host:
        handle = await turn(host, "private", "go")
        listing = await host.services.objects.list(prefix="chats/")
    assert [o.key for o in listing.objects] == [f"chats/{handle.session_id}/a.txt"]
