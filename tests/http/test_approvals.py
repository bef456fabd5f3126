"""Approvals and client tools over HTTP: the stream, the snapshot and submit-tool-result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.agents import bank

from .harness import assistant_text, read_wire

pytestmark = pytest.mark.timeout(60)


async def suspended(client: Any, session: str, headers: Any = None) -> dict[str, Any]:
    async with client.stream(
        "POST", "/chat", json={"message": "pay", "sessionId": session}, headers=headers
    ) as res:
        wire = await read_wire(res)
    kinds = [c["type"] for c in wire.chunks]
    assert kinds[-3:] == ["tool-approval-request", "finish-step", "finish"] or kinds[-2:] == [
        "tool-approval-request",
        "finish",
    ], kinds
    assert wire.chunks[-1] == {"type": "finish", "finishReason": "tool-calls"}
    request = next(c for c in wire.chunks if c["type"] == "tool-approval-request")
    return request


async def test_approve_over_http(make_server: Any) -> None:
    executed: list[int] = []
    server = await make_server(bank(executed))
    async with server.client() as client:
        request = await suspended(client, "pay1")
        snap = (await client.get("/chat/pay1")).json()
        assert snap["status"] == "suspended_client_tool"
        assert (await client.get("/chat/pay1/stream")).status_code == 204
        part = snap["messages"][1]["parts"][-1]
        assert part["type"] == "tool-transfer"
        assert part["state"] == "approval-requested"
        assert part["approval"] == {"id": request["approvalId"]}
        # The AI SDK knows the approval by its id: that is enough to decide.
        async with client.stream(
            "POST",
            "/chat/pay1/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            assert res.headers["x-helix-run-id"] == "pay1--t1--r1"
            wire = await read_wire(res)
        assert executed == [100]
        assert {
            "type": "tool-output-available",
            "toolCallId": request["toolCallId"],
            "output": "sent 100",
        } in wire.chunks
        assert assistant_text(wire.chunks) == "success: sent 100"
        # Once only.
        again = await client.post(
            "/chat/pay1/submit-tool-result",
            json={"toolCallId": request["toolCallId"], "approved": True},
        )
        assert again.status_code == 409
        snap = (await client.get("/chat/pay1")).json()
        part = next(p for p in snap["messages"][1]["parts"] if p["type"] == "tool-transfer")
        assert part["state"] == "output-available"
        assert executed == [100]


async def test_approve_with_edited_arguments_over_http(make_server: Any) -> None:
    executed: list[int] = []
    server = await make_server(bank(executed))
    async with server.client() as client:
        request = await suspended(client, "pay9")
        # Arguments that do not fit the tool's schema change nothing.
        bad = await client.post(
            "/chat/pay9/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True, "arguments": {"x": 1}},
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_tool_submission"
        async with client.stream(
            "POST",
            "/chat/pay9/submit-tool-result",
            json={
                "approvalId": request["approvalId"],
                "approved": True,
                "arguments": {"amount": 5},
            },
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert executed == [5]
        assert assistant_text(wire.chunks) == "success: sent 5"
        snap = (await client.get("/chat/pay9")).json()
        part = next(p for p in snap["messages"][1]["parts"] if p["type"] == "tool-transfer")
        assert part["state"] == "output-available"
        assert part["input"] == {"amount": 100}  # what the model asked for
        assert part["output"] == "sent 5"


async def test_deny_over_http(make_server: Any) -> None:
    executed: list[int] = []
    server = await make_server(bank(executed))
    async with server.client() as client:
        request = await suspended(client, "pay2")
        res = await client.post(
            "/chat/pay2/submit-tool-result",
            json={"toolCallId": request["toolCallId"], "approved": False, "reason": "no"},
        )
        assert res.status_code == 200
        answer = res.json()
        assert answer["decision"] == "denied"
        assert answer["resumedRunId"] == "pay2--t1--r1"
        async with client.stream("GET", "/chat/pay2/stream", params={"from": "0"}) as res:
            wire = await read_wire(res)
        assert {"type": "tool-output-denied", "toolCallId": request["toolCallId"]} in wire.chunks
        snap = (await client.get("/chat/pay2")).json()
    assert executed == []
    part = next(p for p in snap["messages"][1]["parts"] if p["type"] == "tool-transfer")
    assert part["state"] == "output-denied"


async def test_another_user_cannot_decide(make_server: Any) -> None:
    executed: list[int] = []
    server = await make_server(bank(executed), token={"ta": "alice", "tb": "bob"})
    alice, bob = {"Authorization": "Bearer ta"}, {"Authorization": "Bearer tb"}
    async with server.client() as client:
        request = await suspended(client, "pay3", headers=alice)
        res = await client.post(
            "/chat/pay3/submit-tool-result",
            json={"toolCallId": request["toolCallId"], "approved": True},
            headers=bob,
        )
        assert res.status_code == 404
        snap = (await client.get("/chat/pay3", headers=alice)).json()
    assert snap["status"] == "suspended_client_tool"
    assert executed == []
