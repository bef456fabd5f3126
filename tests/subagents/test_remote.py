"""Remote sub-agents on the real local host: the child is served by a second local host
under uvicorn on a real socket, and the parent's tool reaches it over its HTTP API."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.chunks import CustomDataChunk, SequencedChunk
from helix_agents.errors import ConfigurationError, ConflictError
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.subagents import RemoteSubagentTool, remote_subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
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


def searching_researcher() -> Agent:
    """A remote agent that spends something of every kind: two model requests (tokens
    counted in words), two tool calls and a custom counter."""

    @tool
    def search(ctx: ToolContext, query: str) -> str:
        """Search."""
        ctx.record_usage("searches", 2)
        return f"results for {query}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("search", query="otters"), call_tool("search", query="rivers")]
        return f"found: {info.tool_results[-1].content}"

    return Agent(name="researcher", tools=[search], model=FunctionModel(model))


async def test_the_remote_usage_rolls_up_into_the_parent(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    remote = await make_server(searching_researcher())
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "write a report", session_id="parent")
    await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    (ref,) = await host.store.list_sub_sessions("parent")
    child = ref.sub_session_id

    # What the remote itself counted for the child's session, to the token.
    remote_own = (await remote.host.store.usage_rollup(child, include_sub_sessions=True)).usage
    assert remote_own.requests == 2
    assert remote_own.tool_calls == 2
    assert remote_own.custom == {"searches": 4}
    assert remote_own.total_tokens > 0

    rollup = await handle.usage()
    assert rollup.by_session[child] == remote_own
    own = rollup.by_session["parent"]
    assert own == await handle.run_usage()  # the remote's tokens are not the parent's run's
    assert (own.requests, own.tool_calls) == (2, 1)
    assert rollup.usage == own + remote_own

    # One record, under the child's session and the remote's run, keyed by the call: a
    # replayed step (or the resumed parent ending the call) inserts nothing more.
    (record,) = await host.store.usage_records(child)
    assert record.kind == "subagent"
    assert record.run_id == f"{child}--t1"
    assert record.record_id == f"parent/remote/{ref.parent_tool_call_id}"
    assert record.metadata == {
        "remote": remote.url,
        "parentRunId": handle.run_id,
        "toolCallId": ref.parent_tool_call_id,
    }
    assert await host.store.record_usage(record) is False
    assert (await handle.usage()).usage == rollup.usage


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


async def _running_parent(
    make_host: Callable[..., Any], make_server: Callable[..., Any], gate: asyncio.Event
) -> tuple[Any, Any, Any, str]:
    """A parent whose remote child runs until ``gate`` is set: (host, remote, the
    parent's handle, the child's id)."""
    remote = await make_server(researcher(gate=gate))
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    return host, remote, handle, await _remote_running(remote, host, "parent")


async def test_interrupt_reaches_the_remote_and_resume_resumes_it(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    gate = asyncio.Event()
    host, remote, handle, child = await _running_parent(make_host, make_server, gate)
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
    # The remote's usage over both of its instances, recorded once, by the resumed parent.
    remote_own = await remote.host.store.usage_rollup(child, include_sub_sessions=True)
    assert remote_own.usage.requests == 2
    assert (await resumed.usage()).by_session[child] == remote_own.usage
    assert len(await host.store.usage_records(child)) == 1


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
    host, remote, handle, child = await _running_parent(make_host, make_server, asyncio.Event())
    await host.executor.abort("parent")
    assert (await handle.result(timeout=20)).status == RunStatus.ABORTED
    for _ in range(300):
        latest = await remote.host.store.latest_run(child)
        if latest is not None and latest.status == RunStatus.ABORTED:
            break
        await asyncio.sleep(0.02)
    assert remote_runs(remote, child) == [(f"{child}--t1", "aborted")]


async def _interrupted_parent(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> tuple[Any, Any, str]:
    """A parent interrupted while its remote child ran: (host, remote, the child's id)."""
    host, remote, handle, child = await _running_parent(make_host, make_server, asyncio.Event())
    await host.executor.interrupt("parent")
    assert (await handle.result(timeout=20)).status == RunStatus.INTERRUPTED
    assert remote_runs(remote, child) == [(f"{child}--t1", "interrupted")]
    return host, remote, child


async def test_aborting_an_interrupted_parent_aborts_its_remote(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    # Interrupted, the parent runs nothing that could tell the remote of the abort: the
    # abort itself does, and the reference ends aborted.
    host, remote, child = await _interrupted_parent(make_host, make_server)
    await host.executor.abort("parent", reason="not needed")
    assert remote_runs(remote, child) == [(f"{child}--t1", "aborted")]
    ref = await host.store.get_sub_session("parent", child)
    assert ref is not None
    assert ref.status == "aborted"
    # Aborted once: a second abort of the parent has no run to stop and sends nothing.
    with pytest.raises(ConflictError):
        await host.executor.abort("parent")


async def test_aborting_a_parent_with_an_unreachable_remote_still_aborts_it(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    host, remote, child = await _interrupted_parent(make_host, make_server)
    await remote.stop()  # the remote deployment is gone
    ended = await host.executor.abort("parent")
    assert ended.status == RunStatus.ABORTED
    ref = await host.store.get_sub_session("parent", child)
    assert ref is not None
    assert ref.status == "aborted"


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


def approving_researcher(executions: list[str]) -> Agent:
    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return f"published {text}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("publish", text="draft")
        result = info.tool_results[-1]
        return f"child: {result.status}={result.content}"

    return Agent(name="researcher", tools=[publish], model=FunctionModel(model))


async def test_a_remote_approval_is_answered_through_the_parent(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    """The remote child stops for an approval: the parent's call suspends as a local
    child's does, the client answers through the parent, the answer reaches the remote when
    the parent resumes, and the parent follows the remote's resumed turn to its end."""
    from helix_agents.errors import ConflictError, SessionNotFoundError, ToolSubmissionError

    executions: list[str] = []
    remote = await make_server(approving_researcher(executions))
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "publish", session_id="parent", user_id="u")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    (ref,) = await host.store.list_sub_sessions("parent")
    child = ref.sub_session_id
    state = await handle.get_state()
    assert state.suspension_context is not None
    assert state.suspension_context.suspended_awaiting_children == [child]
    assert remote_runs(remote, child) == [(f"{child}--t1", "suspended_client_tool")]
    # The remote's request reached the parent's stream (proxied), and is mirrored.
    (request,) = [c for c in proxied(chunks) if c["type"] == "tool-approval-request"]
    assert ref.status == "suspended"
    assert ref.remote_json is not None
    assert ref.remote_json["pending"] == [
        {
            "toolCallId": request["toolCallId"],
            "toolName": "publish",
            "kind": "approval",
            "approvalId": request["approvalId"],
        }
    ]
    parts = [c.chunk for c in chunks if c.chunk.type in ("subagent-start", "subagent-end")]
    assert [p.type for p in parts] == ["subagent-start"]  # the call's part stays running

    # Refused as a local call's would be: another user, a wrong approval id, a result.
    call_id = request["toolCallId"]
    with pytest.raises(SessionNotFoundError):
        await host.executor.submit_tool_result(
            "parent", tool_call_id=call_id, approved=True, user_id="mallory"
        )
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            "parent", tool_call_id=call_id, approved=True, approval_id="apr_x", user_id="u"
        )
    with pytest.raises(ToolSubmissionError):
        await host.executor.submit_tool_result(
            "parent", tool_call_id=call_id, result="x", user_id="u"
        )
    assert executions == []

    submission = await host.executor.submit_tool_result(
        "parent",
        tool_call_id=call_id,
        approved=True,
        approval_id=request["approvalId"],
        user_id="u",
    )
    assert (submission.session_id, submission.decision) == (child, "approved")
    assert submission.still_pending == []
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert resumed.session_id == "parent"
    with pytest.raises(ConflictError):  # once
        await host.executor.submit_tool_result(
            "parent", tool_call_id=call_id, approved=False, user_id="u"
        )
    chunks = await collect(resumed)
    result = await resumed.result(timeout=20)
    assert result.status == RunStatus.COMPLETED, result.error
    assert text_of(chunks) == "report: success=child: success=published draft"
    assert executions == ["draft"]
    assert any(c.get("type") == "tool-output-available" for c in proxied(chunks))
    # The remote resumed its turn (one more instance), and nothing is left mirrored.
    assert remote_runs(remote, child) == [
        (f"{child}--t1", "suspended_client_tool"),
        (f"{child}--t1--r1", "completed"),
    ]
    ref = await host.store.get_sub_session("parent", child)  # type: ignore[assignment]
    assert ref is not None
    assert ref.status == "completed"
    assert ref.remote_json is not None
    assert "pending" not in ref.remote_json
    assert "answers" not in ref.remote_json
    # And the remote's usage, both instances, rolls up once.
    remote_own = await remote.host.store.usage_rollup(child, include_sub_sessions=True)
    assert (await resumed.usage()).by_session[child] == remote_own.usage


async def test_aborting_a_parent_suspended_on_a_remote_aborts_the_remote(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    executions: list[str] = []
    remote = await make_server(approving_researcher(executions))
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "publish", session_id="parent")
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    (ref,) = await host.store.list_sub_sessions("parent")
    child = ref.sub_session_id
    assert remote_runs(remote, child) == [(f"{child}--t1", "suspended_client_tool")]
    await host.executor.abort("parent")
    # The remote does not wait for its own expiry: its run is aborted now.
    assert remote_runs(remote, child) == [(f"{child}--t1", "aborted")]
    after = await host.store.get_sub_session("parent", child)
    assert after is not None
    assert after.status == "aborted"
    assert executions == []


async def test_a_remote_client_tool_answered_over_the_parents_api(
    make_server: Callable[..., Any],
) -> None:
    """Both deployments over HTTP: the remote waits on a client tool; the client posts its
    result to the parent's ``submit-tool-result`` and reads the resumed parent's stream,
    which follows the remote's resumed turn. A denial by approval id only, likewise."""
    from tests.http.harness import read_wire

    @tool(execute="client")
    def locate() -> str:
        """The user's city (the browser knows)."""
        raise AssertionError("runs on the client")

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("locate")
        return f"you are in {info.tool_results[-1].content}"

    remote = await make_server(Agent(name="researcher", tools=[locate], model=FunctionModel(model)))
    parent = await make_server(boss(remote.url))
    async with parent.client() as client:
        async with client.stream(
            "POST", "/chat", json={"agentType": "boss", "message": "go", "sessionId": "p1"}
        ) as response:
            wire = await read_wire(response)
        sub = [c["data"]["chunk"] for c in wire.chunks if c["type"] == "data-subagent-chunk"]
        (call,) = [c for c in sub if c["type"] == "tool-input-available"]
        snapshot = (await client.get("/chat/p1")).json()
        assert snapshot["status"] == "suspended_awaiting_children"

        unknown = await client.post(
            "/chat/p1/submit-tool-result", json={"toolCallId": "nope", "output": "x"}
        )
        assert unknown.status_code == 409
        async with client.stream(
            "POST",
            "/chat/p1/submit-tool-result",
            json={"toolCallId": call["toolCallId"], "output": "Lyon"},
            headers={"accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200
            resumed = await read_wire(response)
        assert resumed.done
        text = "".join(c.get("delta", "") for c in resumed.chunks if c["type"] == "text-delta")
        assert text == "report: success=you are in Lyon"
        again = await client.post(
            "/chat/p1/submit-tool-result", json={"toolCallId": call["toolCallId"], "output": "x"}
        )
        assert again.status_code == 409
        final = (await client.get("/chat/p1")).json()
    assert final["status"] == "completed"
    (assistant, *_) = [m for m in final["messages"] if m["role"] == "assistant"]
    (part,) = [p for p in assistant["parts"] if p["type"] == "data-subagent"]
    assert part["data"]["status"] == "completed"


async def test_two_remote_approvals_resume_once_both_are_answered(
    make_host: Callable[..., Any], make_server: Callable[..., Any]
) -> None:
    executions: list[str] = []

    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return f"published {text}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("publish", text="a"), call_tool("publish", text="b")]
        return " ".join(f"{r.status}" for r in info.tool_results)

    remote = await make_server(
        Agent(name="researcher", tools=[publish], model=FunctionModel(model))
    )
    host = await make_host(boss(remote.url))
    handle = await host.executor.execute("boss", "go", session_id="parent")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    first, second = [c for c in proxied(chunks) if c["type"] == "tool-approval-request"]
    one = await host.executor.submit_tool_result(
        "parent", tool_call_id=first["toolCallId"], approved=True
    )
    assert one.resumed is None  # the remote still waits on the other call
    assert one.still_pending == [second["toolCallId"]]
    assert (await host.store.load_session("parent")).status == (  # type: ignore[union-attr]
        RunStatus.SUSPENDED_AWAITING_CHILDREN
    )
    two = await host.executor.submit_tool_result(
        "parent", tool_call_id=second["toolCallId"], approved=False, reason="not b"
    )
    assert (two.decision, two.still_pending) == ("denied", [])
    resumed = host.executor.resumed_handle(two)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result(timeout=20)).status == RunStatus.COMPLETED
    assert executions == ["a"]
    assert text_of(chunks) == "report: success=success denied"
