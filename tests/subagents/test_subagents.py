"""Sub-agents end to end on the real local host: delegation, forwarded chunks, usage
rollups, a child's suspension cascading to the parent and back, interrupt and abort."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.chunks import SequencedChunk, ToolApprovalRequestChunk
from helix_agents.errors import ConflictError
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
from tests.hitl._helpers import collect, text_of

pytestmark = pytest.mark.timeout(60)


def researcher(tools: list[Any] | None = None, answer: Callable[[Any], Any] | None = None) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if answer is not None:
            return answer(info)
        return f"found: {info.last_user_message}"

    return Agent(name="researcher", tools=tools or [], model=FunctionModel(model))


def boss(child: Agent, *, calls: int = 1) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("ask_researcher", message=f"topic {i}") for i in range(calls)]
        return "report: " + "; ".join(f"{r.status}={r.content}" for r in info.tool_results)

    return Agent(name="boss", tools=[subagent_tool(child)], model=FunctionModel(model))


def child_chunks(chunks: list[SequencedChunk]) -> list[SequencedChunk]:
    return [c for c in chunks if c.chunk.agent == "researcher"]


async def test_delegation_streams_and_rolls_up(make_host: Callable[..., Any]) -> None:
    host = await make_host(boss(researcher()))
    assert "researcher" in host.registry  # registered through the parent's tool
    handle = await host.executor.execute("boss", "write a report", user_id="u")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert text_of(chunks) == "report: success=found: topic 0"
    types = [c.chunk.type for c in chunks if c.chunk.agent is None]
    assert types.index("subagent-start") < types.index("subagent-end") < types.index("tool-output")
    forwarded = child_chunks(chunks)
    assert forwarded, "the child's chunks reach the parent's stream"
    child_id = forwarded[0].chunk.source_session_id
    assert child_id is not None
    assert len(child_id) <= 64
    assert "".join(getattr(c.chunk, "delta", "") for c in forwarded) == "found: topic 0"
    assert [c.chunk.type for c in forwarded][-1] == "run-end"
    # The child is its own session, linked to the parent.
    child = await host.store.require_session(child_id)
    assert child.parent_session_id == handle.session_id
    assert child.status == RunStatus.COMPLETED
    assert child.user_id == "u"
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    assert ref.sub_session_id == child_id
    assert ref.status == "completed"
    usage = await handle.usage()
    assert usage.by_session[child_id].requests == 1
    assert usage.usage.requests == 3  # two parent requests and the child's one
    assert usage.usage.tool_calls == 1
    alone = await handle.usage(include_sub_sessions=False)
    assert alone.usage.requests == 2


async def test_parallel_children(make_host: Callable[..., Any]) -> None:
    host = await make_host(boss(researcher(), calls=3))
    handle = await host.executor.execute("boss", "three topics")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert text_of(chunks) == (
        "report: success=found: topic 0; success=found: topic 1; success=found: topic 2"
    )
    assert len(await host.store.list_sub_sessions(handle.session_id)) == 3


async def test_failing_child_is_an_error_result(make_host: Callable[..., Any]) -> None:
    child = Agent(name="researcher", model=FunctionModel(lambda m, i: call_tool("x")), max_steps=1)
    host = await make_host(boss(child))
    handle = await host.executor.execute("boss", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert text_of(chunks).startswith("report: error=The agent 'researcher' failed")


async def test_child_suspension_cascades_up_and_back(make_host: Callable[..., Any]) -> None:
    executions: list[str] = []

    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return f"published {text}"

    def child_answer(info: Any) -> Any:
        if not info.tool_results:
            return call_tool("publish", text="draft")
        return f"child: {info.tool_results[-1].content}"

    host = await make_host(boss(researcher([publish], child_answer)))
    handle = await host.executor.execute("boss", "publish something", user_id="u")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    state = await handle.get_state()
    assert state.suspension_context is not None
    [child_id] = state.suspension_context.suspended_awaiting_children
    child = await host.store.require_session(child_id)
    assert child.status == RunStatus.SUSPENDED_CLIENT_TOOL
    # The child's approval request reached the parent's stream, marked as the child's.
    [request] = [c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk)]
    assert request.agent == "researcher"
    assert request.source_session_id == child_id
    assert executions == []

    # The client answers through the session it talks to: the parent.
    submission = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=request.tool_call_id,
        approved=True,
        approval_id=request.approval_id,
        user_id="u",
    )
    assert submission.session_id == child_id
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert resumed.session_id == handle.session_id  # the hierarchy resumes from its top
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == ["draft"]
    assert text_of(chunks) == "report: success=child: published draft"
    forwarded = child_chunks(chunks)
    assert any(c.chunk.type == "tool-output" for c in forwarded)
    parent_runs = [r.run_id for r in await host.store.list_runs(handle.session_id)]
    child_runs = [r.run_id for r in await host.store.list_runs(child_id)]
    assert parent_runs == [f"{handle.session_id}--t1", f"{handle.session_id}--t1--r1"]
    assert child_runs == [f"{child_id}--t1", f"{child_id}--t1--r1"]
    assert (await host.store.require_session(child_id)).status == RunStatus.COMPLETED
    # One result per call in the parent's history.
    messages = await resumed.messages()
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]


async def test_interrupt_reaches_the_child_and_resume_restarts_both(
    make_host: Callable[..., Any],
) -> None:
    started = asyncio.Event()
    runs: list[str] = []

    @tool
    async def dig(ctx: ToolContext) -> str:
        """Dig until interrupted."""
        runs.append("dig")
        started.set()
        while not await ctx.is_interrupted():  # noqa: ASYNC110 - a tool polls its flag
            await asyncio.sleep(0.01)
        return "dug partially"

    @tool
    def summarize() -> str:
        """Summarize."""
        runs.append("summarize")
        return "summary"

    def child_answer(info: Any) -> Any:
        done = [r.tool_name for r in info.tool_results]
        if not done:
            return call_tool("dig")
        if done == ["dig"]:
            return call_tool("summarize")
        return "child done"

    host = await make_host(boss(researcher([dig, summarize], child_answer)))
    handle = await host.executor.execute("boss", "go")
    await started.wait()
    await handle.interrupt("stop")
    assert (await handle.result()).status == RunStatus.INTERRUPTED
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    assert (await host.store.require_session(ref.sub_session_id)).status == RunStatus.INTERRUPTED
    assert runs == ["dig"]

    resumed = await handle.resume()
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert runs == ["dig", "summarize"]
    assert text_of(chunks) == "report: success=child done"
    child_runs = await host.store.list_runs(ref.sub_session_id)
    assert [r.status for r in child_runs] == [RunStatus.INTERRUPTED, RunStatus.COMPLETED]


async def test_abort_reaches_the_child(make_host: Callable[..., Any]) -> None:
    started = asyncio.Event()

    @tool
    async def forever() -> str:
        """Never ends."""
        started.set()
        await asyncio.sleep(3600)
        return "never"

    host = await make_host(boss(researcher([forever], lambda info: call_tool("forever"))))
    handle = await host.executor.execute("boss", "go")
    await started.wait()
    await handle.abort("enough")
    assert (await handle.result()).status == RunStatus.ABORTED
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    child = await host.store.require_session(ref.sub_session_id)
    assert child.status == RunStatus.ABORTED


async def test_a_session_can_continue_after_a_subagent_turn(make_host: Callable[..., Any]) -> None:
    host = await make_host(boss(researcher()))
    first = await host.executor.execute("boss", "one")
    assert (await first.result()).status == RunStatus.COMPLETED
    second = await first.send("two")
    assert (await second.result()).status == RunStatus.COMPLETED
    assert len(await host.store.list_sub_sessions(first.session_id)) == 2
    results = [m for m in await second.messages() if isinstance(m, ToolResultMessage)]
    assert [r.content for r in results] == ["found: topic 0", "found: topic 0"]


async def test_a_childs_expired_approval_fails_the_child_not_the_parent(
    make_host: Callable[..., Any],
) -> None:
    @tool(requires_approval=True, expires_in=60)
    def publish(text: str) -> str:
        """Publish."""
        raise AssertionError("an expired call never runs")

    def child_answer(info: Any) -> Any:
        return call_tool("publish", text="draft") if not info.tool_results else "unreachable"

    host = await make_host(boss(researcher([publish], child_answer)))
    handle = await host.executor.execute("boss", "publish something")
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    child = await host.store.require_session(ref.sub_session_id)
    assert child.suspension_context is not None
    expires_at = child.suspension_context.expires_at
    assert expires_at is not None
    # The parent has no expiry of its own: the child's drives the cascade.
    assert await host.executor.expire_suspensions(expires_at) == [ref.sub_session_id]
    resumed = await host.executor.get_handle(handle.session_id)
    assert resumed is not None
    assert resumed.run_id.endswith("--r1")
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    child = await host.store.require_session(ref.sub_session_id)
    assert child.status == RunStatus.FAILED
    assert child.failure_reason == "suspension_expired"
    assert text_of(chunks).startswith("report: error=The agent 'researcher' failed: The wait")


async def test_a_new_turn_abandons_the_children_it_waited_on(
    make_host: Callable[..., Any],
) -> None:
    executions: list[str] = []

    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return "published"

    def child_answer(info: Any) -> Any:
        return call_tool("publish", text="draft") if not info.tool_results else "child done"

    host = await make_host(boss(researcher([publish], child_answer)))
    handle = await host.executor.execute("boss", "publish something")
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    [ref] = await host.store.list_sub_sessions(handle.session_id)
    [pending] = (await host.store.require_session(ref.sub_session_id)).pending_client_tool_calls
    nxt = await handle.send("forget it")
    assert (await nxt.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN  # asks anew
    abandoned = await host.store.require_session(ref.sub_session_id)
    assert abandoned.status == RunStatus.ABORTED
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=pending.tool_call_id, approved=True
        )
    assert executions == []


async def test_a_child_that_dies_at_its_last_write(make_host: Callable[..., Any]) -> None:
    # A child writing into its parent's stream ends its run with a write that does not end
    # the stream. If its step dies after the commit, before that write, the retry cannot
    # tell whether it landed: it streams the stored answer again after resets of the dead
    # attempt, which void whatever that attempt wrote, its run-end included.
    async def words(messages: list[Any], info: Any) -> Any:
        for i in range(8):
            await asyncio.sleep(0.01)
            yield f"c{i} "

    child = Agent(name="researcher", model=FunctionModel(stream_function=words))
    host = await make_host(boss(child))
    real_write = host.streams.write
    crashes: list[int] = []

    async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
        if not crashes and any(c.type == "run-end" and c.agent == "researcher" for c in chunks):
            crashes.append(1)
            raise RuntimeError("the process died here")
        return await real_write(stream_id, chunks, status=status)

    host.streams.write = write  # type: ignore[method-assign]
    handle = await host.executor.execute("boss", "write a report")
    await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert crashes == [1]
    replay = child_chunks((await host.streams.read(handle.stream_id, limit=10_000)).chunks)
    assert "".join(getattr(c.chunk, "delta", "") for c in replay) == "".join(
        f"c{i} " for i in range(8)
    )
    assert [c.chunk.type for c in replay].count("run-end") == 1
    assert replay[-1].chunk.type == "run-end"


async def test_parallel_childrens_calls_have_ids_unique_in_the_parents_hierarchy(
    make_host: Callable[..., Any],
) -> None:
    # Every child's model names its first call alike (``call_1_0``, numbered per request):
    # answered through the parent's session, the calls must still be told apart.
    executions: list[str] = []

    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return f"published {text}"

    def child_answer(info: Any) -> Any:
        if not info.tool_results:
            return call_tool("publish", text=info.last_user_message)
        return f"child: {info.tool_results[-1].content}"

    host = await make_host(boss(researcher([publish], child_answer), calls=2))
    handle = await host.executor.execute("boss", "publish two", user_id="u")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    requests = [c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk)]
    assert len(requests) == 2
    ids = [r.tool_call_id for r in requests]
    assert len(set(ids)) == 2, ids  # the ids a UI sees on the parent's stream
    assert len({r.approval_id for r in requests}) == 2
    # The provider's own id is kept for the provider.
    for request in requests:
        child_id = request.source_session_id
        assert child_id is not None
        messages = await host.store.load_messages(child_id)
        [call] = [c for _, m in messages for c in getattr(m, "tool_calls", [])]
        assert call.id == request.tool_call_id
        assert call.provider_id == "call_1_0"
    # Each call is answered through the parent and reaches its own child.
    owners = set()
    for request in requests:
        submission = await host.executor.submit_tool_result(
            handle.session_id,
            tool_call_id=request.tool_call_id,
            approved=True,
            approval_id=request.approval_id,
            user_id="u",
        )
        owners.add(submission.session_id)
    assert owners == {r.source_session_id for r in requests}
    resumed = await host.executor.get_handle(handle.session_id)
    assert resumed is not None
    await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert sorted(executions) == ["topic 0", "topic 1"]
