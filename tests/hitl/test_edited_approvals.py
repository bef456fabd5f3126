"""Approving a call with edited arguments: checked against the tool's schema when submitted,
run with them, recorded on the result; over Python and over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents.chunks import ToolApprovalRequestChunk
from helix_agents.errors import ToolSubmissionError
from helix_agents.messages import AssistantMessage, ToolResultMessage
from helix_agents.state import RunStatus
from tests.hitl._helpers import collect, text_of
from tests.support.agents import bank

pytestmark = pytest.mark.timeout(60)


async def test_approve_with_edited_arguments(make_host: Callable[..., Any]) -> None:
    executions: list[int] = []
    host = await make_host(bank(executions))
    handle = await host.executor.execute("bank", "pay bob")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL
    request = next(c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk))
    session = handle.session_id
    # Refused, changing nothing: arguments that do not fit, with a denial, not an object.
    for kwargs, match in [
        ({"approved": True, "arguments": {"amount": "lots"}}, "do not fit"),
        ({"approved": True, "arguments": {"sum": 5}}, "do not fit"),
        ({"approved": False, "arguments": {"amount": 5}}, "only with approved=true"),
        ({"approved": True, "arguments": [5]}, "JSON object"),
    ]:
        with pytest.raises(ToolSubmissionError, match=match):
            await host.executor.submit_tool_result(
                session, tool_call_id=request.tool_call_id, **kwargs
            )
    state = await handle.get_state()
    assert state.pending_client_tool_calls[0].decision is None

    submission = await host.executor.submit_tool_result(
        session, tool_call_id=request.tool_call_id, approved=True, arguments={"amount": 40}
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == [40]
    assert text_of(chunks) == "success: sent 40"
    messages = await resumed.messages()
    call = next(m for m in messages if isinstance(m, AssistantMessage) and m.tool_calls)
    assert call.tool_calls[0].arguments == {"amount": 100}  # what the model asked for
    result = next(m for m in messages if isinstance(m, ToolResultMessage))
    assert result.content == "sent 40"
    assert result.approval is not None
    assert result.approval.approved is True
    assert result.approval.arguments == {"amount": 40}


async def test_approve_with_edited_arguments_over_http(make_server: Any) -> None:
    executions: list[int] = []
    server = await make_server(bank(executions))
    handle = await server.host.executor.execute("bank", "pay bob", session_id="edit1")
    await handle.result()
    [pending] = (await handle.get_state()).pending_client_tool_calls
    async with server.client() as http:
        res = await http.post(
            "/chat/edit1/submit-tool-result",
            json={"toolCallId": pending.tool_call_id, "approved": True, "arguments": {"x": 1}},
        )
        assert res.status_code == 422
        assert "do not fit" in res.json()["error"]["message"]
        res = await http.post(
            "/chat/edit1/submit-tool-result",
            json={
                "approvalId": pending.approval_id,
                "approved": True,
                "arguments": {"amount": 7},
            },
        )
        assert res.status_code == 200, res.text
        run_id = res.json()["resumedRunId"]
    resumed = await server.host.executor.get_handle("edit1")
    assert resumed is not None
    assert resumed.run_id == run_id
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert executions == [7]
