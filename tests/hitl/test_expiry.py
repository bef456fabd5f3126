"""Expiry of suspensions: the sweep fails expired runs with a clear reason, visible in the
snapshot (the session's state) and on the stream; the local host sweeps by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.errors import ConflictError
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from tests.hitl._helpers import collect

pytestmark = pytest.mark.timeout(60)


@tool(requires_approval=True, expires_in=600)
def deploy(env: str) -> str:
    """Deploy."""
    raise AssertionError("an expired call must never run")


@tool(execute="client")
def pick_file() -> str:  # type: ignore[empty-body]
    """Let the user pick a file."""


def deployer() -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("deploy", env="prod"), call_tool("pick_file")]
        return "never reached"

    return Agent(
        name="ops",
        tools=[deploy, pick_file],
        model=FunctionModel(model),
        pending_expires_in=30,
    )


async def test_expired_suspension_fails_the_run(make_host: Callable[..., Any]) -> None:
    host = await make_host(deployer(), sweep_interval=None)
    handle = await host.executor.execute("ops", "ship it")
    assert (await handle.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL
    state = await handle.get_state()
    by_name = {p.tool_name: p for p in state.pending_client_tool_calls}
    assert by_name["deploy"].expires_at is not None
    assert by_name["pick_file"].expires_at is not None
    # The tool's own expiry (600 s) and the agent's default (30 s): the earliest counts.
    assert by_name["deploy"].expires_at - by_name["pick_file"].expires_at == 570_000
    context = state.suspension_context
    assert context is not None
    assert context.expires_at == by_name["pick_file"].expires_at

    assert await host.executor.expire_suspensions(context.expires_at - 1) == []
    expired = await host.executor.expire_suspensions(context.expires_at)
    assert expired == [handle.session_id]
    resumed = await host.executor.get_handle(handle.session_id)
    assert resumed is not None
    assert resumed.run_id.endswith("--r1")
    chunks = await collect(resumed)
    run = await resumed.result()
    assert run.status == RunStatus.FAILED
    state = await resumed.get_state()
    assert state.status == RunStatus.FAILED
    assert state.failure_reason == "suspension_expired"
    assert state.error is not None
    assert "pick_file" in state.error
    assert "expired" in state.error
    assert state.suspension_context is None
    assert state.pending_client_tool_calls == []
    types = [c.chunk.type for c in chunks]
    assert types.count("tool-error") == 1  # the client tool's
    assert types.count("tool-output-denied") == 1  # the approval nobody gave
    assert "error" in types
    assert types[-1] == "run-end"
    # Every call has a result: the session can take a new turn.
    messages = await resumed.messages()
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]
    statuses = [m.status for m in messages[2:] if isinstance(m, ToolResultMessage)]
    assert statuses == ["denied", "error"]  # the unanswered approval; the client tool
    # Too late now; and the sweep does not expire it twice.
    late = messages[2]
    assert isinstance(late, ToolResultMessage)
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=late.tool_call_id, approved=True
        )
    assert await host.executor.expire_suspensions(context.expires_at + 10**9) == []


async def test_a_decided_suspension_is_not_expired(make_host: Callable[..., Any]) -> None:
    @tool(requires_approval=True, expires_in=1)
    def act() -> str:
        """Act."""
        return "acted"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("act") if not info.tool_results else "done"

    host = await make_host(
        Agent(name="a", tools=[act], model=FunctionModel(model)), sweep_interval=None
    )
    handle = await host.executor.execute("a", "go")
    await handle.result()
    state = await handle.get_state()
    [pending] = state.pending_client_tool_calls
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=True
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    # The resumed run cleared the suspension: a late sweep finds nothing to expire.
    assert await host.executor.expire_suspensions(10**15) == []
    assert (await resumed.get_state()).status == RunStatus.COMPLETED


async def test_the_local_host_sweeps_periodically(make_host: Callable[..., Any]) -> None:
    @tool(requires_approval=True, expires_in=0.05)
    def act() -> str:
        """Act."""
        raise AssertionError("never approved")

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("act") if not info.tool_results else "unreachable"

    host = await make_host(
        Agent(name="a", tools=[act], model=FunctionModel(model)), sweep_interval=0.02
    )
    handle = await host.executor.execute("a", "go")
    await handle.result()
    while True:  # bounded by the test's timeout
        state = await handle.get_state()
        if state.status == RunStatus.FAILED:
            break
        await asyncio.sleep(0.02)
    assert state.failure_reason == "suspension_expired"


@pytest.mark.parametrize("ui_version", [6, 7])
async def test_an_expired_approval_is_shown_alike_by_the_stream_and_the_snapshot(
    make_host: Callable[..., Any], ui_version: Any
) -> None:
    # A client that watched the turn (the approval request, then the expiry) and one that
    # loads the snapshot must hold the same tool parts. Nobody answered the approval: in
    # the AI SDK's terms it ended not approved (``output-denied``, ``approval: {id,
    # approved: false, reason}``), never an ``output-error`` with an unanswered ``{id}``
    # (``approval`` on an error is an approved one only). The client tool's call is an
    # error, without approval.
    from helix_agents.http.ui_messages import to_ui_messages
    from tests.support.ui_message import UIMessageAssembler

    host = await make_host(deployer(), sweep_interval=None)
    handle = await host.executor.execute("ops", "ship it")
    first = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL
    state = await handle.get_state()
    assert state.suspension_context is not None
    expires_at = state.suspension_context.expires_at
    assert expires_at is not None
    assert await host.executor.expire_suspensions(expires_at) == [handle.session_id]
    resumed = await host.executor.get_handle(handle.session_id)
    assert resumed is not None
    second = await collect(resumed)

    client = UIMessageAssembler(ui_version=ui_version)
    client.feed(first)
    client.feed(second)
    assert client.message is not None
    streamed = {p["type"]: p for p in client.message["parts"] if "toolCallId" in p}
    history = await host.store.load_messages(handle.session_id)
    [snapshot] = [m for m in to_ui_messages(handle.session_id, history) if m["role"] == "assistant"]
    stored: dict[str, Any] = {p["type"]: p for p in snapshot["parts"] if "toolCallId" in p}
    assert stored.keys() == streamed.keys() == {"tool-deploy", "tool-pick_file"}

    deploy = stored["tool-deploy"]
    assert deploy["state"] == streamed["tool-deploy"]["state"] == "output-denied"
    approval = deploy["approval"]
    assert approval["approved"] is False
    assert "expired" in approval["reason"]
    if ui_version == 7:  # v7 carries the decision; v6 has no chunk for one
        assert streamed["tool-deploy"]["approval"] == approval
    else:
        assert streamed["tool-deploy"]["approval"]["id"] == approval["id"]
    picked = stored["tool-pick_file"]
    assert picked["state"] == streamed["tool-pick_file"]["state"] == "output-error"
    assert picked["errorText"] == streamed["tool-pick_file"]["errorText"]
    assert "approval" not in picked
    assert "approval" not in streamed["tool-pick_file"]
