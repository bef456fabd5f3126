"""The executor's reading and steering API on the local host: ``can_resume``, ``resume`` with
a new message, a run's outcome (output, error, suspension), its runs and current run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.support.agents import bank

from helix_agents import Agent, tool
from helix_agents.errors import ConflictError, SessionNotFoundError, StateValidationError
from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

pytestmark = pytest.mark.timeout(60)


async def runs_over_http(host: Any, session_id: str) -> dict[str, Any]:
    import httpx

    from helix_agents.http import create_app

    transport = httpx.ASGITransport(app=create_app(host, environ={}))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        res = await http.get(f"/sessions/{session_id}/runs")
        assert res.status_code == 200
        body: dict[str, Any] = res.json()
        return body


async def test_can_resume_and_resume_with_a_new_message(make_host: Callable[..., Any]) -> None:
    hosts: list[Any] = []

    @tool
    async def pause(ctx: ToolContext) -> str:
        """Stop here until someone says more."""
        await hosts[0].executor.interrupt(ctx.session_id, reason="wait")
        return "paused"

    def model(messages: list[Any], info: Any) -> Any:
        users = [m.content for m in messages if isinstance(m, UserMessage)]
        if users[-1] == "start" and not info.tool_results:
            return [call_tool("pause"), call_tool("pause")]
        return f"now: {users[-1]}"

    host = await make_host(Agent(name="p", tools=[pause], model=FunctionModel(model)))
    hosts.append(host)
    executor = host.executor
    handle = await executor.execute("p", "start", session_id="cr1")
    outcome = await handle.outcome()
    assert outcome.status == RunStatus.INTERRUPTED
    assert outcome.output is None
    assert await executor.can_resume("cr1") is True
    assert await handle.can_resume() is True
    assert (await executor.current_run("cr1")) is None
    assert (await runs_over_http(host, "cr1"))["canResume"] is True

    resumed = await handle.resume("go left instead")
    assert resumed.turn == 2
    outcome = await resumed.outcome()
    assert outcome.status == RunStatus.COMPLETED
    assert outcome.output == "now: go left instead"
    assert outcome.error is None
    assert await executor.can_resume("cr1") is False
    assert (await runs_over_http(host, "cr1"))["canResume"] is False
    with pytest.raises(ConflictError, match="no interrupted run"):
        await executor.resume("cr1", message="again")
    runs = await executor.runs("cr1")
    assert [(r.turn, r.status) for r in runs] == [
        (1, RunStatus.INTERRUPTED),
        (2, RunStatus.COMPLETED),
    ]


async def test_outcome_of_a_failed_and_of_a_suspended_run(make_host: Callable[..., Any]) -> None:
    @tool
    def again() -> str:
        """Once more."""
        return "more"

    looping = Agent(
        name="loop",
        tools=[again],
        model=FunctionModel(lambda m, i: call_tool("again")),
        max_steps=2,
    )
    host = await make_host(looping, bank([]))
    outcome = await (await host.executor.execute("loop", "go")).outcome()
    assert outcome.status == RunStatus.FAILED
    assert outcome.error is not None
    assert "limit of 2 steps" in outcome.error
    assert outcome.output is None

    handle = await host.executor.execute("bank", "pay")
    outcome = await handle.outcome()
    assert outcome.status == RunStatus.SUSPENDED_CLIENT_TOOL
    [pending] = outcome.pending
    assert pending.kind == "approval"
    assert pending.tool_name == "transfer"
    assert pending.arguments == {"amount": 100}
    assert await host.executor.can_resume(handle.session_id) is False


async def test_execute_with_a_history_and_a_state(make_host: Callable[..., Any]) -> None:
    seen: list[list[str]] = []

    def model(messages: list[Any], info: Any) -> str:
        seen.append([f"{m.role}:{getattr(m, 'content', '')}" for m in messages])
        return "ok"

    host = await make_host(Agent(name="h", model=FunctionModel(model)))
    executor = host.executor
    history = [
        UserMessage(content="earlier question"),
        AssistantMessage(tool_calls=[ToolCall(id="k1", name="lookup")]),
        ToolResultMessage(tool_call_id="k1", tool_name="lookup", content="found"),
        AssistantMessage(content="earlier answer"),
    ]
    handle = await executor.execute(
        "h", "now", session_id="seed1", messages=history, state={"plan": "free"}
    )
    assert (await handle.outcome()).output == "ok"
    assert seen[-1] == [
        "user:earlier question",
        "assistant:",
        "tool:found",
        "assistant:earlier answer",
        "user:now",
    ]
    assert len(await handle.messages()) == 6
    assert (await handle.get_state()).custom_state == {"plan": "free"}

    # A session with messages refuses a history, and nothing is written.
    with pytest.raises(ConflictError, match="already has messages"):
        await executor.execute("h", "again", session_id="seed1", messages=history)
    assert len(await handle.messages()) == 6
    # The state of an existing session is replaced before its next turn.
    h2 = await executor.execute("h", "more", session_id="seed1", state={"plan": "pro"})
    await h2.result()
    assert (await h2.get_state()).custom_state == {"plan": "pro"}

    # A history whose calls and results do not pair up is refused before anything starts.
    unanswered = [
        UserMessage(content="q"),
        AssistantMessage(tool_calls=[ToolCall(id="z", name="t")]),
    ]
    stray = [UserMessage(content="q"), ToolResultMessage(tool_call_id="z", tool_name="t")]
    for bad in (unanswered, stray):
        with pytest.raises(ValueError, match="tool"):
            await executor.execute("h", "x", session_id="seed2", messages=bad)
    with pytest.raises(SessionNotFoundError):
        await executor.get_session("seed2")
    with pytest.raises(StateValidationError):
        await executor.execute("h", "x", session_id="seed3", state=[1, 2])


async def test_a_typed_state_override_is_validated(make_host: Callable[..., Any]) -> None:
    from tests.state.notes import Notes, notes_agent

    host = await make_host(notes_agent())
    with pytest.raises(StateValidationError):
        await host.executor.execute("notes", "hi", session_id="ty1", state={"mood": 3})
    handle = await host.executor.execute(
        "notes", "hi", session_id="ty2", state=Notes(notes=["from before"], mood="busy")
    )
    await handle.result()
    state = (await handle.get_state()).custom_state
    assert state["mood"] == "busy"
    assert state["notes"][0] == "from before"
