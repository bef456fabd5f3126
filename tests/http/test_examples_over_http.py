"""The bundled examples on the offline demo model, over real sockets: what the chat page of
``helix dev`` sees when someone tries them with no model configured."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents.examples import example_registry
from helix_agents.models.demo import DemoModel
from helix_agents.streaming.ui_schema import ui_chunk_problems

from .harness import assistant_text, read_wire

pytestmark = pytest.mark.timeout(60)


async def examples_server(make_server: Any) -> Any:
    return await make_server(*example_registry(DemoModel()))


def valid(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for chunk in chunks:
        assert not ui_chunk_problems(chunk), (chunk, ui_chunk_problems(chunk))
    return chunks


async def test_use_chat_asks_the_assistant_a_sum(make_server: Any) -> None:
    server = await examples_server(make_server)
    body = {
        "id": "sum",
        "trigger": "submit-message",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "what is 12*7?"}]}
        ],
    }
    async with server.client() as client:
        async with client.stream("POST", "/chat?agent=assistant", json=body) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        snapshot = (await client.get("/chat/sum")).json()
    assert wire.done
    chunks = valid(wire.chunks)
    [call] = [c for c in chunks if c["type"] == "tool-input-available"]
    assert (call["toolName"], call["input"]) == ("calculate", {"expression": "12*7"})
    [output] = [c for c in chunks if c["type"] == "tool-output-available"]
    assert (output["toolCallId"], output["output"]) == (call["toolCallId"], 84.0)
    # Streamed in pieces, before and after the tool.
    assert len([c for c in chunks if c["type"] == "text-delta"]) > 4
    assert assistant_text(chunks) == "Let me work out 12*7.12*7 = 84."
    assert snapshot["status"] == "completed"
    assert snapshot["messages"][-1]["parts"][-1] == {
        "type": "text",
        "text": "12*7 = 84.",
        "state": "done",
    }


async def test_ops_deploy_waits_for_approval_then_rolls_out(make_server: Any) -> None:
    server = await examples_server(make_server)
    async with server.client() as client:
        body = {"agentType": "ops", "message": "deploy billing 1.5.0", "sessionId": "ship"}
        async with client.stream("POST", "/chat", json=body) as res:
            wire = await read_wire(res)
        chunks = valid(wire.chunks)
        checked = [c for c in chunks if c["type"] == "tool-output-available"]
        assert [c["output"]["version"] for c in checked] == ["1.4.2"]
        [request] = [c for c in chunks if c["type"] == "tool-approval-request"]
        assert (await client.get("/chat/ship")).json()["status"] == "suspended_client_tool"
        async with client.stream(
            "POST",
            "/chat/ship/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            resumed = await read_wire(res)
    assert {
        "type": "tool-output-available",
        "toolCallId": request["toolCallId"],
        "output": "billing 1.5.0 is rolling out",
    } in valid(resumed.chunks)
    assert assistant_text(resumed.chunks) == "Done: billing 1.5.0 is rolling out."
