"""Remote sub-agents on the real local host: the child is served by a second local host
under uvicorn on a real socket, and the parent's tool reaches it over its HTTP API."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.chunks import CustomDataChunk, SequencedChunk
from helix_agents.errors import ConfigurationError
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.subagents import RemoteSubagentTool, remote_subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from tests.hitl._helpers import collect, text_of

pytestmark = pytest.mark.timeout(60)


def researcher(*, delay: float = 0.0, gate: asyncio.Event | None = None) -> Agent:
    async def model(messages: list[Any], info: Any) -> Any:
        yield "looking "
        if gate is not None:
            await gate.wait()
        if delay:
            await asyncio.sleep(delay)
        yield f"found: {info.last_user_message}"

    return Agent(name="researcher", model=FunctionModel(stream_function=model))


def boss(url: str, **options: Any) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_remote", message="otters")
        result = info.tool_results[-1]
        return f"report: {result.status}={result.content}"

    tool = remote_subagent_tool("ask_remote", url, "researcher", **options)
    return Agent(name="boss", tools=[tool], model=FunctionModel(model))


def proxied(chunks: list[SequencedChunk]) -> list[dict[str, Any]]:
    return [
        c.chunk.data["chunk"]
        for c in chunks
        if isinstance(c.chunk, CustomDataChunk) and c.chunk.name == "subagent-chunk"
    ]


def remote_runs(server: Any, session_id: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(Path(server.host.data_dir) / "state.db")
    try:
        return db.execute(
            "SELECT run_id, status FROM __agents_runs WHERE session_id = ? ORDER BY run_id",
            [session_id],
        ).fetchall()
    finally:
        db.close()


async def test_remote_delegation_streams_and_records(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    remote = await make_server(researcher())
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "write a report", session_id="parent")
    chunks = await collect(handle)
    result = await handle.result()
    assert result.status == RunStatus.COMPLETED, result.error
    assert text_of(chunks) == "report: success=looking found: otters"

    # The remote's stream, proxied as the transient parts a local child's chunks become.
    ui = proxied(chunks)
    assert next(c["type"] for c in ui) == "start"
    assert "".join(c.get("delta", "") for c in ui) == "looking found: otters"
    assert ui[-1]["type"] == "finish"
    types = [c.chunk.type for c in chunks]
    assert types.index("subagent-start") < types.index("data") < types.index("subagent-end")

    # The reference row, with remote_json, and the deterministic child id.
    child = "parent-remote-" + next(
        m.tool_call_id
        for _, m in await host.store.load_messages("parent")
        if isinstance(m, ToolResultMessage)
    )
    ref = await host.store.get_sub_session("parent", child)
    assert ref is not None
    assert ref.status == "completed"
    assert ref.remote_json == {
        "url": remote.url,
        "agentType": "researcher",
        "sessionId": child,
        "messageId": f"{child}-task",
    }
    # One run on the remote, and its session is the child.
    assert remote_runs(remote, child) == [(f"{child}--t1", "completed")]


async def _remote_running(remote: Any, host: Any, parent: str) -> str:
    """The child's id once the remote runs it."""
    for _ in range(500):
        refs = await host.store.list_sub_sessions(parent)
        if refs:
            latest = await remote.host.store.latest_run(refs[0].sub_session_id)
            if latest is not None and latest.status == RunStatus.ACTIVE:
                return str(refs[0].sub_session_id)
        await asyncio.sleep(0.01)
    raise AssertionError("the remote child never ran")


async def test_interrupt_reaches_the_remote_and_resume_resumes_it(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    gate = asyncio.Event()
    remote = await make_server(researcher(gate=gate))
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    child = await _remote_running(remote, host, "parent")
    await host.executor.interrupt("parent")
    assert (await handle.result(timeout=20)).status == RunStatus.INTERRUPTED
    remote_latest = await remote.host.store.latest_run(child)
    assert remote_latest is not None
    assert remote_latest.status == RunStatus.INTERRUPTED
    assert (await host.store.get_sub_session("parent", child)).status == "interrupted"  # type: ignore[union-attr]

    gate.set()
    resumed = await host.executor.resume("parent")
    chunks = await collect(resumed)
    result = await resumed.result(timeout=20)
    assert result.status == RunStatus.COMPLETED, result.error
    assert text_of(chunks).startswith("report: success=")
    # The remote turn was resumed (a second instance of turn 1), not started again.
    assert [r for r, _ in remote_runs(remote, child)] == [f"{child}--t1", f"{child}--t1--r1"]
    assert proxied(chunks), "the resumed remote stream reaches the parent's"


async def test_timeout_aborts_the_remote_and_tells_the_model(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    remote = await make_server(researcher(gate=asyncio.Event()))  # never answers
    host = await make_host(boss(remote.url, timeout="1 second"))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    chunks = await collect(handle)
    result = await handle.result(timeout=20)
    assert result.status == RunStatus.COMPLETED, result.error
    (ref,) = await host.store.list_sub_sessions("parent")
    assert text_of(chunks) == (
        f"report: error=The agent in session {ref.sub_session_id!r} did not finish within "
        "1 second and was stopped."
    )
    assert ref.status == "aborted"
    assert remote_runs(remote, ref.sub_session_id) == [(f"{ref.sub_session_id}--t1", "aborted")]
    ends = [c.chunk for c in chunks if c.chunk.type == "subagent-end"]
    assert [getattr(e, "status", None) for e in ends] == ["aborted"]


async def test_parent_abort_aborts_the_remote(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    remote = await make_server(researcher(gate=asyncio.Event()))
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    child = await _remote_running(remote, host, "parent")
    await host.executor.abort("parent")
    assert (await handle.result(timeout=20)).status == RunStatus.ABORTED
    for _ in range(300):
        latest = await remote.host.store.latest_run(child)
        if latest is not None and latest.status == RunStatus.ABORTED:
            break
        await asyncio.sleep(0.02)
    assert remote_runs(remote, child) == [(f"{child}--t1", "aborted")]


async def test_unreachable_remote_is_a_tool_error(make_host: Callable[..., Any]) -> None:
    host = await make_host(boss("http://127.0.0.1:9", timeout="1 second"))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    chunks = await collect(handle)
    assert (await handle.result(timeout=20)).status == RunStatus.COMPLETED
    assert "did not finish within 1 second" in text_of(chunks)
    assert "The remote agent could not be reached" in text_of(chunks)


async def test_a_finished_remote_is_not_asked_again(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    """The step's body run twice (a replay after a crash past the remote's end): the
    second run takes the stored outcome from the snapshot, starting nothing."""
    remote = await make_server(researcher())
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    await collect(handle)
    (ref,) = await host.store.list_sub_sessions("parent")
    from helix_agents.core.remote_http import RemoteAgentClient

    client = RemoteAgentClient(remote.url)
    try:
        async with client.start(
            agent_type="researcher",
            message="otters",
            session_id=ref.sub_session_id,
            message_id=f"{ref.sub_session_id}-task",
        ) as events:
            replayed = [e.chunk async for e in events]
    finally:
        await client.aclose()
    assert replayed[0]["type"] == "start"
    assert replayed[-1]["type"] == "finish"
    assert len(remote_runs(remote, ref.sub_session_id)) == 1


def test_declaration() -> None:
    tool = remote_subagent_tool("ask", "https://agents.example/", "researcher", timeout=5000)
    assert isinstance(tool, RemoteSubagentTool)
    assert tool.url == "https://agents.example"
    assert tool.function is None
    assert tool.step_config == {
        "retries": {"limit": 3, "delay": 1000, "backoff": "exponential"},
        "timeout": 65_000,
    }
    assert tool.parameters["required"] == ["message"]
    with pytest.raises(ConfigurationError):
        remote_subagent_tool("ask", "ftp://x", "researcher")
    with pytest.raises(ConfigurationError):
        remote_subagent_tool("ask", "https://x", "")
    with pytest.raises(ConfigurationError):
        remote_subagent_tool("ask", "https://x", "r", timeout=0)


async def test_parent_over_http_shows_the_remote_part(make_server: Callable[..., Any]) -> None:
    """Both deployments over HTTP: the parent's SSE carries the remote child's chunks as
    ``data-subagent-chunk`` parts inside the call's ``data-subagent`` part, and the parent's
    snapshot rebuilds that part from the reference row."""
    from tests.http.harness import read_wire

    remote = await make_server(researcher())
    parent = await make_server(boss(remote.url))
    async with parent.client() as client:
        async with client.stream(
            "POST", "/chat", json={"agentType": "boss", "message": "go", "sessionId": "p1"}
        ) as response:
            assert response.status_code == 200
            wire = await read_wire(response)
        assert wire.done
        kinds = [c["type"] for c in wire.chunks]
        sub = [c for c in wire.chunks if c["type"] == "data-subagent-chunk"]
        assert sub
        assert all(c["transient"] for c in sub)
        assert {c["data"]["agent"] for c in sub} == {"researcher"}
        assert "".join(c["data"]["chunk"].get("delta", "") for c in sub) == "looking found: otters"
        parts = [c for c in wire.chunks if c["type"] == "data-subagent"]
        assert [p["data"]["status"] for p in parts] == ["running", "completed"]
        assert kinds.index("data-subagent") < kinds.index("data-subagent-chunk")
        snapshot = (await client.get("/chat/p1")).json()
    (assistant,) = [m for m in snapshot["messages"] if m["role"] == "assistant"]
    (part,) = [p for p in assistant["parts"] if p["type"] == "data-subagent"]
    assert part["data"]["status"] == "completed"
    assert part["data"]["agentType"] == "researcher"
    assert part["data"]["sessionId"].startswith("p1-remote-")
    assert part["data"]["output"] == "looking found: otters"


async def test_url_and_token_from_host_variables(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    """A deployment names the remote in its variables (a Worker's env vars and secrets):
    the URL and the token are read when the call starts; without the token the remote
    refuses, and the refusal is the model's error result at once (asking again would not
    change it)."""
    remote = await make_server(researcher(), environ={"HELIX_API_TOKEN": "s3cret"})

    def agent(**options: Any) -> Agent:
        def model(messages: list[Any], info: Any) -> Any:
            if not info.tool_results:
                return call_tool("ask_remote", message="otters")
            return f"report: {info.tool_results[-1].content}"

        tool = remote_subagent_tool("ask_remote", None, "researcher", url_var="R_URL", **options)
        return Agent(name="boss", tools=[tool], model=FunctionModel(model))

    host = await make_host(
        agent(token_var="R_TOKEN"), vars={"R_URL": remote.url, "R_TOKEN": "s3cret"}
    )
    handle = await host.executor.execute("boss", "go", session_id="parent")
    chunks = await collect(handle)
    assert text_of(chunks) == "report: looking found: otters"
    (ref,) = await host.store.list_sub_sessions("parent")
    assert ref.remote_json is not None
    assert ref.remote_json["url"] == remote.url
    assert "s3cret" not in str(ref.remote_json)

    other = await make_host(agent(), vars={"R_URL": remote.url})
    handle = await other.executor.execute("boss", "go", session_id="parent")
    text = text_of(await collect(handle))
    assert text.startswith(f"report: The remote agent 'researcher' at {remote.url} refused")
    assert "HTTP 401" in text


async def test_interrupt_while_the_remote_is_unreachable(make_host: Callable[..., Any]) -> None:
    """The call retries an unreachable remote until its timeout, but an interrupt of the
    parent stops it at once (nothing runs on the remote to wait for)."""
    host = await make_host(boss("http://127.0.0.1:9", timeout="1 minute"))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    for _ in range(500):
        if await host.store.list_sub_sessions("parent"):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    await host.executor.interrupt("parent")
    assert (await handle.result(timeout=20)).status == RunStatus.INTERRUPTED
    assert asyncio.get_running_loop().time() - started < 5


def test_child_session_ids_are_derived() -> None:
    from helix_agents.core.remote_subagent import remote_session_id

    assert remote_session_id("p1", "call_1_0") == "p1-remote-call_1_0"
    # Not a valid session id (a renamed call id, or too long): a derived one, still stable.
    odd = remote_session_id("p1", "call_0~1")
    assert odd.startswith("remote_")
    assert odd == remote_session_id("p1", "call_0~1")
    assert odd != remote_session_id("p2", "call_0~1")
    long = remote_session_id("s" * 60, "call_1_0")
    assert long.startswith("remote_")
    assert len(long) <= 64
