"""Sub-agents and companions over HTTP: a parent that delegates to a child agent (child
Workflow instances on Cloudflare), the child's chunks inside the parent's stream, the
snapshots of parent and child sessions, and an approval inside a child answered through
the parent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.ui_message import UIMessageAssembler

from .agents import boss, lead
from .harness import assistant_text, read_wire

pytestmark = pytest.mark.timeout(90)


async def chat(client: Any, agent: str, session: str, message: str) -> list[dict[str, Any]]:
    body = {"agentType": agent, "message": message, "sessionId": session}
    async with client.stream("POST", "/chat", json=body) as res:
        assert res.status_code == 200
        wire = await read_wire(res)
    assert wire.done
    return wire.chunks


def own(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parent's own chunks (a child's arrive as transient ``data-subagent-chunk``)."""
    return [c for c in chunks if c["type"] != "data-subagent-chunk"]


def forwarded(chunks: list[dict[str, Any]], agent: str) -> list[dict[str, Any]]:
    """The UI chunks of ``agent``'s runs, forwarded into the parent's stream."""
    found = []
    for c in chunks:
        if c["type"] == "data-subagent-chunk":
            assert c["transient"] is True
            if c["data"]["agent"] == agent:
                found.append(c["data"])
    return found


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c["type"] == "text-delta")


async def test_delegation_over_http(make_server: Any) -> None:
    server = await make_server(boss())
    async with server.client() as client:
        chunks = await chat(client, "boss", "sa1", "otters")
        parent = own(chunks)
        assert [c["type"] for c in parent] == [
            "start",
            "start-step",
            "tool-input-start",
            "tool-input-delta",
            "tool-input-available",
            "data-subagent",
            "data-subagent",
            "tool-output-available",
            "finish-step",
            "start-step",
            "text-start",
            "text-delta",
            "text-end",
            "finish-step",
            "finish",
        ]
        call_id = parent[2]["toolCallId"]
        assert parent[4]["input"] == {"message": "task: otters"}
        child_id = parent[5]["data"]["sessionId"]
        assert child_id.startswith("sub_")
        assert len(child_id) <= 64
        assert parent[5] == {
            "type": "data-subagent",
            "id": call_id,
            "data": {
                "toolCallId": call_id,
                "sessionId": child_id,
                "agentType": "researcher",
                "status": "running",
            },
        }
        assert parent[6]["data"] == {
            **parent[5]["data"],
            "status": "completed",
            "output": "found: task: otters",
        }
        assert parent[7] == {
            "type": "tool-output-available",
            "toolCallId": call_id,
            "output": "found: task: otters",
        }
        assert assistant_text(parent) == "report: success=found: task: otters"
        # The child's own stream, inside the parent's: a whole run of its own.
        child = forwarded(chunks, "researcher")
        assert {c["sessionId"] for c in child} == {child_id}
        inner = [c["chunk"] for c in child]
        assert [c["type"] for c in inner] == [
            "start",
            "start-step",
            "text-start",
            "text-delta",
            "text-end",
            "finish-step",
            "finish",
        ]
        assert inner[0] == {"type": "start", "messageId": f"{child_id}-t1"}
        assert text_of(inner) == "found: task: otters"
        assert inner[-1] == {"type": "finish", "finishReason": "stop"}

        snap = (await client.get("/chat/sa1")).json()
        child_snap = (await client.get(f"/chat/{child_id}")).json()
        assert (await client.get("/chat/sa1/stream")).status_code == 204
    assert snap["status"] == "completed"
    assert snap["output"] == "report: success=found: task: otters"
    assert snap["messages"][1]["parts"] == [
        {"type": "step-start"},
        {
            "type": "tool-ask_researcher",
            "toolCallId": call_id,
            "input": {"message": "task: otters"},
            "state": "output-available",
            "output": "found: task: otters",
        },
        {
            "type": "data-subagent",
            "id": call_id,
            "data": {**parent[5]["data"], "status": "completed", "output": "found: task: otters"},
        },
        {"type": "step-start"},
        {"type": "text", "text": "report: success=found: task: otters", "state": "done"},
    ]
    # The child is a session of its own, with its own history and usage.
    assert child_snap["sessionId"] == child_id
    assert child_snap["agentType"] == "researcher"
    assert child_snap["status"] == "completed"
    assert child_snap["runId"] == f"{child_id}--t1"
    assert child_snap["output"] == "found: task: otters"
    assert [m["role"] for m in child_snap["messages"]] == ["user", "assistant"]
    assert child_snap["messages"][0]["parts"] == [{"type": "text", "text": "task: otters"}]
    assert child_snap["messages"][1]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "found: task: otters", "state": "done"},
    ]
    assert child_snap["usage"]["requests"] == 1
    # The parent's usage rolls the child's up.
    assert snap["usage"]["requests"] == 3
    assert snap["usage"]["toolCalls"] == 1


async def test_approval_in_a_child_cascades_to_the_parent(make_server: Any) -> None:
    server = await make_server(boss())
    async with server.client() as client:
        chunks = await chat(client, "boss", "sa2", "publish it")
        assert own(chunks)[-1] == {"type": "finish", "finishReason": "tool-calls"}
        child = forwarded(chunks, "researcher")
        [child_id] = {c["sessionId"] for c in child}
        inner = [c["chunk"] for c in child]
        [request] = [c for c in inner if c["type"] == "tool-approval-request"]
        assert inner[-1] == {"type": "finish", "finishReason": "tool-calls"}
        [available] = [c for c in inner if c["type"] == "tool-input-available"]
        assert available["toolName"] == "publish"
        assert available["input"] == {"text": "draft"}

        snap = (await client.get("/chat/sa2")).json()
        assert snap["status"] == "suspended_awaiting_children"
        assert snap["messages"][1]["parts"][1]["state"] == "input-available"
        assert snap["messages"][1]["parts"][-1]["data"]["status"] == "running"
        child_snap = (await client.get(f"/chat/{child_id}")).json()
        assert child_snap["status"] == "suspended_client_tool"
        assert child_snap["messages"][1]["parts"][-1] == {
            "type": "tool-publish",
            "toolCallId": request["toolCallId"],
            "input": {"text": "draft"},
            "state": "approval-requested",
            "approval": {"id": request["approvalId"]},
        }
        assert (await client.get("/chat/sa2/stream")).status_code == 204

        # The client answers through the session it talks to: the parent. The hierarchy
        # resumes from its top, and the parent's resumed stream shows the child go on.
        async with client.stream(
            "POST",
            "/chat/sa2/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            assert res.headers["x-helix-run-id"] == "sa2--t1--r1"
            wire = await read_wire(res)
        assert wire.done
        resumed = [c["chunk"] for c in forwarded(wire.chunks, "researcher")]
        assert {
            "type": "tool-output-available",
            "toolCallId": request["toolCallId"],
            "output": "published draft",
        } in resumed
        assert text_of(resumed) == "child: published draft"
        parent = own(wire.chunks)
        [end] = [
            c for c in parent if c["type"] == "data-subagent" and c["data"]["status"] != "running"
        ]
        assert end["data"] == {
            "toolCallId": end["id"],
            "sessionId": child_id,
            "agentType": "researcher",
            "status": "completed",
            "output": "child: published draft",
        }
        assert assistant_text(parent) == "report: success=child: published draft"
        assert parent[-1] == {"type": "finish", "finishReason": "stop"}

        again = await client.post(
            "/chat/sa2/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
        )
        assert again.status_code == 409
        snap = (await client.get("/chat/sa2")).json()
        child_snap = (await client.get(f"/chat/{child_id}")).json()
    assert snap["status"] == "completed"
    assert snap["runId"] == "sa2--t1--r1"
    assert snap["output"] == "report: success=child: published draft"
    tool_part = snap["messages"][1]["parts"][1]
    assert (tool_part["state"], tool_part["output"]) == (
        "output-available",
        "child: published draft",
    )
    assert child_snap["status"] == "completed"
    assert child_snap["runId"] == f"{child_id}--t1--r1"
    publish = child_snap["messages"][1]["parts"][1]
    assert (publish["state"], publish["output"]) == ("output-available", "published draft")


async def test_companion_over_http(make_server: Any) -> None:
    server = await make_server(lead())
    async with server.client() as client:
        chunks = await chat(client, "lead", "sa3", "get reviews")
        parent = own(chunks)
        assert parent[-1] == {"type": "finish", "finishReason": "stop"}
        outputs = [c["output"] for c in parent if c["type"] == "tool-output-available"]
        [listed] = outputs[2]
        companion_id = listed["sessionId"]
        assert companion_id.startswith("cmp_")
        assert outputs == [
            "critic turn 1: review v1",
            "critic turn 2: review v2",  # it remembers the first exchange
            [
                {
                    "name": "c1",
                    "agentType": "critic",
                    "sessionId": companion_id,
                    "status": "completed",
                }
            ],
            {"name": "c1", "status": "completed", "output": "critic turn 2: review v2"},
        ]
        # Both blocking calls forwarded the companion's runs: one session, two turns.
        critic = forwarded(chunks, "critic")
        assert {c["sessionId"] for c in critic} == {companion_id}
        inner = [c["chunk"] for c in critic]
        assert [c["messageId"] for c in inner if c["type"] == "start"] == [
            f"{companion_id}-t1",
            f"{companion_id}-t2",
        ]
        assert text_of(inner) == "critic turn 1: review v1critic turn 2: review v2"
        statuses = [c["data"]["status"] for c in parent if c["type"] == "data-subagent"]
        assert statuses == ["running", "completed", "running", "completed"]

        snap = (await client.get("/chat/sa3")).json()
        # Each call that ran the companion has its part, where the stream put it.
        assert snap["messages"][-1] == rebuilt(chunks)
        companion = (await client.get(f"/chat/{companion_id}")).json()
    assert snap["status"] == "completed"
    assert [p["type"] for p in snap["messages"][1]["parts"] if "toolCallId" in p] == [
        "tool-spawn_agent",
        "tool-send_message",
        "tool-list_children",
        "tool-get_child_status",
    ]
    assert companion["agentType"] == "critic"
    assert companion["status"] == "completed"
    assert companion["turn"] == 2
    assert companion["runId"] == f"{companion_id}--t2"
    assert [
        (m["role"], [p.get("text") for p in m["parts"] if p["type"] == "text"])
        for m in companion["messages"]
    ] == [
        ("user", ["review v1"]),
        ("assistant", ["critic turn 1: review v1"]),
        ("user", ["review v2"]),
        ("assistant", ["critic turn 2: review v2"]),
    ]
    assert companion["usage"]["requests"] == 2
    assert snap["usage"]["requests"] == 7  # five of the lead's, two of the companion's


def rebuilt(*responses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The assistant message a ``useChat`` client holds after these responses of one turn."""
    client = UIMessageAssembler()
    for chunks in responses:
        for chunk in chunks:
            client.apply(chunk)
    return client.message


async def test_the_snapshot_holds_what_the_stream_built_after_a_delegation(
    make_server: Any,
) -> None:
    """The stream's ``data-subagent`` part (replaced in place by its id, from ``running`` to
    the child's end) is in the snapshot too, at the same place: a reloaded page starts from
    what a client that watched the turn holds. Once in one instance, and once across a
    child's approval (the start in the first instance, the end in the resumed one)."""
    server = await make_server(boss())
    async with server.client() as client:
        chunks = await chat(client, "boss", "sa4", "otters")
        snap = (await client.get("/chat/sa4")).json()
        assert snap["messages"][-1] == rebuilt(chunks)

        first = await chat(client, "boss", "sa5", "publish it")
        [request] = [
            c["chunk"]
            for c in forwarded(first, "researcher")
            if c["chunk"]["type"] == "tool-approval-request"
        ]
        waiting = (await client.get("/chat/sa5")).json()
        assert waiting["status"] == "suspended_awaiting_children"
        assert waiting["messages"][-1] == rebuilt(first)  # the child still "running"
        async with client.stream(
            "POST",
            "/chat/sa5/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            resumed = (await read_wire(res)).chunks
        done = (await client.get("/chat/sa5")).json()
    assert done["status"] == "completed"
    message = rebuilt(first, resumed)
    assert message is not None
    [frame] = [p for p in message["parts"] if p["type"] == "data-subagent"]
    assert frame["data"]["status"] == "completed"
    assert done["messages"][-1] == message
