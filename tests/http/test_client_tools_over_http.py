"""Client-executed tools over HTTP: the run suspends on a tool the browser runs, the client
posts the result (``/submit-tool-result``, or inside its messages as ``useChat`` does), and
the turn goes on in a resume instance."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.hitl.ui_client import ChatClient

from .agents import locator
from .harness import assistant_text, read_wire

pytestmark = pytest.mark.timeout(60)

LOCATION_CALL = [
    "start",
    "start-step",
    "tool-input-start",
    "tool-input-delta",
    "tool-input-available",
    "finish-step",
    "finish",
]


async def ask(client: Any, session: str, message: str = "where am I?") -> list[dict[str, Any]]:
    async with client.stream(
        "POST", "/chat", json={"agentType": "locator", "message": message, "sessionId": session}
    ) as res:
        assert res.status_code == 200
        wire = await read_wire(res)
    assert wire.done
    assert wire.chunks[-1] == {"type": "finish", "finishReason": "tool-calls"}
    return wire.chunks


async def test_client_tool_result_over_submit_route(make_server: Any) -> None:
    server = await make_server(locator())
    async with server.client() as client:
        chunks = await ask(client, "ct1")
        assert [c["type"] for c in chunks] == LOCATION_CALL
        available = chunks[4]
        assert available == {
            "type": "tool-input-available",
            "toolCallId": available["toolCallId"],
            "toolName": "get_location",
            "input": {},
        }
        call_id = available["toolCallId"]
        assert "tool-approval-request" not in [c["type"] for c in chunks]
        snap = (await client.get("/chat/ct1")).json()
        assert snap["status"] == "suspended_client_tool"
        assert snap["messages"][1]["parts"][-1] == {
            "type": "tool-get_location",
            "toolCallId": call_id,
            "input": {},
            "state": "input-available",
        }
        assert (await client.get("/chat/ct1/stream")).status_code == 204

        # A result failing the tool's output schema, and a decision for a client tool, are
        # refused and change nothing.
        bad = await client.post(
            "/chat/ct1/submit-tool-result", json={"toolCallId": call_id, "output": {"city": "X"}}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_tool_submission"
        assert "accuracy_m" in bad.json()["error"]["message"]
        wrong = await client.post(
            "/chat/ct1/submit-tool-result", json={"toolCallId": call_id, "approved": True}
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["code"] == "invalid_tool_submission"
        assert (await client.get("/chat/ct1")).json()["status"] == "suspended_client_tool"

        async with client.stream(
            "POST",
            "/chat/ct1/submit-tool-result",
            json={"toolCallId": call_id, "output": {"city": "Oslo", "accuracy_m": 20}},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            assert res.headers["x-helix-run-id"] == "ct1--t1--r1"
            wire = await read_wire(res)
        assert wire.done
        assert wire.chunks[0] == {"type": "start", "messageId": "ct1-t1"}
        assert {
            "type": "tool-output-available",
            "toolCallId": call_id,
            "output": {"city": "Oslo", "accuracy_m": 20},
        } in wire.chunks
        text = "success: {'city': 'Oslo', 'accuracy_m': 20}"
        assert assistant_text(wire.chunks) == text
        assert wire.chunks[-1] == {"type": "finish", "finishReason": "stop"}

        # Once only.
        again = await client.post(
            "/chat/ct1/submit-tool-result",
            json={"toolCallId": call_id, "output": {"city": "Rome", "accuracy_m": 1}},
        )
        assert again.status_code == 409
        snap = (await client.get("/chat/ct1")).json()
    assert snap["status"] == "completed"
    assert snap["runId"] == "ct1--t1--r1"
    assert snap["output"] == text
    [user, assistant] = snap["messages"]
    assert user["parts"] == [{"type": "text", "text": "where am I?"}]
    assert assistant["id"] == "ct1-t1"
    assert assistant["parts"] == [
        {"type": "step-start"},
        {
            "type": "tool-get_location",
            "toolCallId": call_id,
            "input": {},
            "state": "output-available",
            "output": {"city": "Oslo", "accuracy_m": 20},
        },
        {"type": "step-start"},
        {"type": "text", "text": text, "state": "done"},
    ]
    assert snap["usage"]["requests"] == 2
    assert snap["usage"]["toolCalls"] == 1


async def test_client_error_result_and_reattach(make_server: Any) -> None:
    server = await make_server(locator())
    async with server.client() as client:
        chunks = await ask(client, "ct2")
        call_id = chunks[4]["toolCallId"]
        res = await client.post(
            "/chat/ct2/submit-tool-result",
            json={"toolCallId": call_id, "errorText": "permission denied by the browser"},
        )
        assert res.status_code == 200
        assert res.json() == {
            "sessionId": "ct2",
            "toolCallId": call_id,
            "kind": "client",
            "decision": None,
            "stillPending": [],
            "resumedRunId": "ct2--t1--r1",
        }
        # The resumed run's stream, read from the reattach route.
        async with client.stream("GET", "/chat/ct2/stream", params={"from": "0"}) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert {
            "type": "tool-output-error",
            "toolCallId": call_id,
            "errorText": "permission denied by the browser",
        } in wire.chunks
        assert assistant_text(wire.chunks) == "error: permission denied by the browser"
        snap = (await client.get("/chat/ct2")).json()
    assert snap["status"] == "completed"
    part = snap["messages"][1]["parts"][1]
    assert part == {
        "type": "tool-get_location",
        "toolCallId": call_id,
        "input": {},
        "state": "output-error",
        "errorText": "permission denied by the browser",
    }


async def test_use_chat_posts_client_results(make_server: Any) -> None:
    server = await make_server(locator())
    async with server.client() as http:
        chat = ChatClient(http, "ct3", agent="locator")
        wire = await chat.send_message("both, please")
        assert wire.chunks[-1] == {"type": "finish", "finishReason": "tool-calls"}
        location, question = chat.tool_parts()
        assert (location["type"], location["state"]) == ("tool-get_location", "input-available")
        assert (question["type"], question["state"]) == ("tool-confirm", "input-available")
        assert question["input"] == {"question": "ok?"}

        # One answer of two: the other call still waits (202), no resume yet.
        chat.add_tool_output(question["toolCallId"], {"ok": True})
        partial = await chat.post_raw(copy.deepcopy(chat.messages))
        assert partial.status_code == 202
        assert partial.json() == {
            "sessionId": "ct3",
            "status": "waiting",
            "stillPending": [location["toolCallId"]],
        }
        snap = (await http.get("/chat/ct3")).json()
        assert snap["status"] == "suspended_client_tool"
        assert snap["runId"] == "ct3--t1"

        # The client posts everything again with the second answer: the resumed run's
        # stream continues the same assistant message.
        chat.add_tool_output(location["toolCallId"], {"city": "Lima", "accuracy_m": 5})
        wire = await chat.send_automatically()
        assert wire.chunks[0] == {"type": "start", "messageId": "ct3-t1"}
        assert wire.chunks[-1] == {"type": "finish", "finishReason": "stop"}
        assert len(chat.messages) == 2
        assert [p["state"] for p in chat.tool_parts()] == ["output-available"] * 2
        # Results in the order of the calls, whatever the order of the answers.
        text = "success: {'city': 'Lima', 'accuracy_m': 5} | success: {'ok': True}"
        assert chat.text() == text
        snap = (await http.get("/chat/ct3")).json()
        # Posting the same answers again is refused and changes nothing.
        again = await chat.post_raw(chat.messages[:2])
        assert again.status_code in (409, 422)
        assert (await http.get("/chat/ct3")).json()["runId"] == "ct3--t1--r1"
    assert snap["status"] == "completed"
    assert snap["runId"] == "ct3--t1--r1"
    assert snap["output"] == text
    assert [p.get("output") for p in snap["messages"][1]["parts"] if "toolCallId" in p] == [
        {"city": "Lima", "accuracy_m": 5},
        {"ok": True},
    ]
