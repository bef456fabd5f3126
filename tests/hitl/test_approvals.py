"""Approval-gated tools on the real local host: request, approve, deny, and every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.chunks import ToolApprovalRequestChunk
from helix_agents.errors import ConflictError, SessionNotFoundError, ToolSubmissionError
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import AssistantMessage, ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
from tests.hitl._helpers import collect, kinds, text_of
from tests.support.agents import bank

pytestmark = pytest.mark.timeout(60)


async def raw_row(host: LocalHost, session_id: str) -> dict[str, Any]:
    rows = await host.db.query(
        "SELECT status, pending_client_tool_calls, suspension_context, step_count "
        "FROM __agents_states WHERE session_id = ?",
        [session_id],
    )
    return dict(rows[0])


async def test_approve_runs_the_tool_once(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob", user_id="alice")
    chunks = await collect(handle)
    run = await handle.result()
    assert run.status == RunStatus.SUSPENDED_CLIENT_TOOL
    assert executions == []
    seen = kinds(chunks)
    assert seen.index("tool-input-available") < seen.index("tool-approval-request")
    assert seen[-1] == "run-end"
    request = next(c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk))
    state = await handle.get_state()
    assert state.status == RunStatus.SUSPENDED_CLIENT_TOOL
    [pending] = state.pending_client_tool_calls
    assert pending.kind == "approval"
    assert pending.approval_id == request.approval_id
    assert pending.expires_at is not None
    assert state.suspension_context is not None
    assert state.suspension_context.run_id == handle.run_id

    submission = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=request.tool_call_id,
        approved=True,
        approval_id=request.approval_id,
        user_id="alice",
    )
    assert submission.decision == "approved"
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert resumed.run_id == f"{handle.session_id}--t1--r1"
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == [100]
    assert "tool-output" in kinds(chunks)
    assert text_of(chunks) == "success: sent 100"
    messages = await resumed.messages()
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    state = await resumed.get_state()
    assert state.pending_client_tool_calls == []
    assert state.suspension_context is None
    # A late second decision is refused and changes nothing.
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=request.tool_call_id, approved=False
        )
    assert executions == [100]


async def test_deny_gives_the_model_a_result(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=False, reason="too much"
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == []
    denied = [c.chunk for c in chunks if c.chunk.type == "tool-output-denied"]
    assert len(denied) == 1
    messages = await resumed.messages()
    result = messages[2]
    assert isinstance(result, ToolResultMessage)
    assert result.status == "denied"
    assert "too much" in str(result.content)
    assert text_of(chunks).startswith("denied: The user denied this tool call")


async def test_forged_foreign_unknown_and_duplicate_submissions_change_nothing(
    make_host: Callable[..., Any],
) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob", user_id="alice")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    call_id = pending.tool_call_id
    before = await raw_row(host, handle.session_id)

    refusals: list[tuple[type[Exception], dict[str, Any]]] = [
        (SessionNotFoundError, {"tool_call_id": call_id, "approved": True, "user_id": "mallory"}),
        (ConflictError, {"tool_call_id": "call_made_up", "approved": True, "user_id": "alice"}),
        (ToolSubmissionError, {"tool_call_id": call_id, "result": "done", "user_id": "alice"}),
        (ToolSubmissionError, {"tool_call_id": call_id, "user_id": "alice"}),
        (
            ToolSubmissionError,
            {"tool_call_id": call_id, "approved": True, "result": 1, "user_id": "alice"},
        ),
        (
            ConflictError,
            {"tool_call_id": call_id, "approved": True, "approval_id": "apr_forged"},
        ),
    ]
    for error, kwargs in refusals:
        with pytest.raises(error):
            await host.executor.submit_tool_result(handle.session_id, **kwargs)
        assert await raw_row(host, handle.session_id) == before, kwargs
    with pytest.raises(SessionNotFoundError):
        await host.executor.submit_tool_result(
            "no-such-session", tool_call_id=call_id, approved=True
        )
    assert executions == []
    latest = await host.store.latest_run(handle.session_id)
    assert latest is not None
    assert latest.run_id == handle.run_id

    first = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=call_id, approved=True, user_id="alice"
    )
    resumed = host.executor.resumed_handle(first)
    assert resumed is not None
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=call_id, approved=False, user_id="alice"
        )
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == [100]
    runs = await host.store.list_runs(handle.session_id)
    assert [r.run_id for r in runs] == [handle.run_id, resumed.run_id]


async def test_concurrent_decisions_one_wins(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls

    async def decide(approved: bool) -> Any:
        try:
            return await host.executor.submit_tool_result(
                handle.session_id, tool_call_id=pending.tool_call_id, approved=approved
            )
        except ConflictError as exc:
            return exc

    outcomes = await asyncio.gather(*(decide(i % 2 == 0) for i in range(6)))
    accepted = [o for o in outcomes if not isinstance(o, ConflictError)]
    assert len(accepted) == 1
    resumed = host.executor.resumed_handle(accepted[0])
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == ([100] if accepted[0].decision == "approved" else [])


async def test_predicate_decides_per_call(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []

    def big(args: dict[str, Any], ctx: ToolContext) -> bool:
        return int(args["amount"]) > 100

    @tool(requires_approval=big)
    def transfer(amount: int) -> str:
        """Move money."""
        executions.append(amount)
        return f"sent {amount}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("transfer", amount=50), call_tool("transfer", amount=500)]
        return "ok"

    host = await make_host(Agent(name="bank", tools=[transfer], model=FunctionModel(model)))
    handle = await host.executor.execute("bank", "pay")
    chunks = await collect(handle)
    run = await handle.result()
    # The small transfer ran at once; the big one waits: a mixed step.
    assert run.status == RunStatus.SUSPENDED_STEP_PARTIAL
    assert executions == [50]
    requests = [c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk)]
    assert len(requests) == 1
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=requests[0].tool_call_id, approved=True
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == [50, 500]


async def test_decision_during_the_server_tools_resumes_at_the_boundary(
    make_host: Callable[..., Any],
) -> None:
    release = asyncio.Event()
    executions: list[str] = []

    @tool
    async def slow() -> str:
        """A slow server tool."""
        await release.wait()
        executions.append("slow")
        return "slow done"

    @tool(requires_approval=True)
    def risky() -> str:
        """Needs a yes."""
        executions.append("risky")
        return "risky done"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("slow"), call_tool("risky")]
        return "both: " + ", ".join(str(r.content) for r in info.tool_results)

    host = await make_host(Agent(name="mix", tools=[slow, risky], model=FunctionModel(model)))
    handle = await host.executor.execute("mix", "go")
    request: ToolApprovalRequestChunk | None = None
    async for item in handle.stream():
        if isinstance(item.chunk, ToolApprovalRequestChunk):
            request = item.chunk
            break
    assert request is not None
    # The run is still active (its server tool runs): the decision is recorded, no resume.
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=request.tool_call_id, approved=True
    )
    assert submission.resumed is None
    release.set()
    assert (await handle.result()).status == RunStatus.SUSPENDED_STEP_PARTIAL
    # The boundary step saw the decision and started the resume itself.
    resumed = await host.executor.get_handle(handle.session_id)
    assert resumed is not None
    assert resumed.run_id.endswith("--r1")
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert sorted(executions) == ["risky", "slow"]
    roles = [m.role for m in await resumed.messages()]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]


async def test_interrupt_and_resume_never_bypass_an_approval(
    make_host: Callable[..., Any],
) -> None:
    streaming, release = asyncio.Event(), asyncio.Event()
    executions: list[str] = []

    @tool
    def safe() -> str:
        """Safe."""
        executions.append("safe")
        return "safe done"

    @tool(requires_approval=True)
    def risky() -> str:
        """Needs a yes."""
        executions.append("risky")
        return "risky done"

    async def stream(messages: list[Any], info: Any) -> Any:
        if info.tool_results:
            yield "done"
            return
        yield "thinking "
        streaming.set()
        await release.wait()
        yield call_tool("safe")
        yield call_tool("risky")

    host = await make_host(
        Agent(name="m", tools=[safe, risky], model=FunctionModel(stream_function=stream))
    )
    handle = await host.executor.execute("m", "go")
    await streaming.wait()
    await handle.interrupt()
    release.set()
    assert (await handle.result()).status == RunStatus.INTERRUPTED
    assert executions == []
    resumed = await handle.resume()
    # The server tool runs; the gated one still waits: the run suspends again.
    assert (await resumed.result()).status == RunStatus.SUSPENDED_STEP_PARTIAL
    assert executions == ["safe"]
    [pending] = list((await resumed.get_state()).pending_client_tool_calls)
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=True
    )
    final = host.executor.resumed_handle(submission)
    assert final is not None
    assert (await final.result()).status == RunStatus.COMPLETED
    assert executions == ["safe", "risky"]


async def test_new_turn_closes_the_unanswered_call(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    nxt = await handle.send("never mind")
    assert (await nxt.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL  # it asks again
    messages = await nxt.messages()
    closed = messages[2]
    assert isinstance(closed, ToolResultMessage)
    assert closed.tool_call_id == pending.tool_call_id
    assert closed.status == "error"
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=pending.tool_call_id, approved=True
        )
    assert executions == []
    # Every call in the history has exactly one result, at the place the model expects.
    calls = [c.id for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
    results = [m.tool_call_id for m in messages if isinstance(m, ToolResultMessage)]
    assert results == calls[: len(results)]


async def test_abort_a_suspended_run(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    ended = await host.executor.abort(handle.session_id, reason="changed my mind")
    assert ended.status == RunStatus.ABORTED
    state = await handle.get_state()
    assert state.status == RunStatus.ABORTED
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=pending.tool_call_id, approved=True
        )
    assert executions == []
