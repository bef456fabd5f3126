"""Client-executed tools on the real local host: suspend, submit, validate, resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.chunks import ToolInputAvailableChunk
from helix_agents.errors import ConflictError, ToolSubmissionError
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from tests.hitl._helpers import collect, kinds, text_of

pytestmark = pytest.mark.timeout(60)


class Location(BaseModel):
    city: str
    accuracy_m: int


@tool(execute="client", output_schema=Location)
def get_location() -> Location:  # type: ignore[empty-body]
    """The user's location, from the browser."""


@tool(execute="client", output_schema={"type": "object", "required": ["ok"]})
def confirm(question: str) -> dict[str, Any]:  # type: ignore[empty-body]
    """Ask the user a yes/no question in the page."""


def locator(calls: Callable[[Any], Any] | None = None) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return calls(info) if calls else call_tool("get_location")
        return " | ".join(f"{r.status}: {r.content}" for r in info.tool_results)

    return Agent(
        name="loc", tools=[get_location, confirm], model=FunctionModel(model), pending_expires_in=60
    )


async def test_client_tool_round_trip(make_host: Callable[..., Any]) -> None:
    host = await make_host(locator())
    handle = await host.executor.execute("loc", "where am I?", user_id="u1")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL
    available = [c.chunk for c in chunks if isinstance(c.chunk, ToolInputAvailableChunk)]
    assert available[0].client is True
    assert "tool-approval-request" not in kinds(chunks)
    [pending] = (await handle.get_state()).pending_client_tool_calls
    assert pending.kind == "client"
    call_id = pending.tool_call_id

    with pytest.raises(ToolSubmissionError, match="accuracy_m"):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=call_id, result={"city": "Oslo"}, user_id="u1"
        )
    with pytest.raises(ToolSubmissionError, match="client"):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=call_id, approved=True, user_id="u1"
        )
    state = await handle.get_state()
    assert state.pending_client_tool_calls[0].result_status is None

    submission = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=call_id,
        result={"city": "Oslo", "accuracy_m": 20},
        user_id="u1",
    )
    assert submission.kind == "client"
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    # Submitting again changes nothing.
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=call_id, result={"city": "Rome", "accuracy_m": 1}
        )
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert "tool-output" in kinds(chunks)
    result = (await resumed.messages())[2]
    assert isinstance(result, ToolResultMessage)
    assert result.content == {"city": "Oslo", "accuracy_m": 20}
    assert "Oslo" in text_of(chunks)
    usage = await resumed.usage()
    assert usage.usage.tool_calls == 1


async def test_client_error_result_reaches_the_model(make_host: Callable[..., Any]) -> None:
    host = await make_host(locator())
    handle = await host.executor.execute("loc", "where am I?")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    submission = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=pending.tool_call_id,
        result="permission denied by the browser",
        is_error=True,
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert "tool-error" in kinds(chunks)
    assert text_of(chunks) == "error: permission denied by the browser"


async def test_two_client_calls_resume_after_the_last(make_host: Callable[..., Any]) -> None:
    host = await make_host(
        locator(lambda info: [call_tool("get_location"), call_tool("confirm", question="ok?")])
    )
    handle = await host.executor.execute("loc", "go")
    await handle.result()
    first, second = (await handle.get_state()).pending_client_tool_calls
    with pytest.raises(ToolSubmissionError, match="ok"):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=second.tool_call_id, result={}
        )
    sub1 = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=second.tool_call_id, result={"ok": True}
    )
    assert sub1.resumed is None
    assert sub1.still_pending == [first.tool_call_id]
    with pytest.raises(ConflictError):
        await host.executor.submit_tool_result(
            handle.session_id, tool_call_id=second.tool_call_id, result={"ok": False}
        )
    sub2 = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=first.tool_call_id,
        result={"city": "Lima", "accuracy_m": 5},
    )
    resumed = host.executor.resumed_handle(sub2)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    # Results land in the order of the calls, whatever the order of the submissions.
    assert text_of(chunks).startswith("success: {'city': 'Lima'")


async def test_invalid_arguments_never_reach_the_client(make_host: Callable[..., Any]) -> None:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("confirm", wrong="x")
        return "corrected"

    host = await make_host(Agent(name="c", tools=[confirm], model=FunctionModel(model)))
    handle = await host.executor.execute("c", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    errors = [c.chunk for c in chunks if c.chunk.type == "tool-error"]
    assert errors
    assert errors[0].input_error
    assert (await handle.get_state()).pending_client_tool_calls == []
