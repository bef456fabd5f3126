"""A turn that runs as several instances (an approval, an interrupt): reattaching replays
the whole turn's response, cursors work across its instances, and the snapshot shows a
decided call as the client that decided it holds it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .agents import gated_bank
from .harness import Event, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)

R1 = 10**9  # the position of the sequence before the first chunk of a turn's first resume


async def events_until(response: httpx.Response, kind: str) -> list[Event]:
    """The response's events up to the first of type ``kind`` (then the reader leaves)."""
    events: list[Event] = []
    async for item in sse_blocks(response):
        if isinstance(item, Event):
            events.append(item)
            if item.type == kind:
                return events
    raise AssertionError(f"no {kind} event")


async def read_all(client: httpx.AsyncClient, url: str, **headers: str) -> list[Event]:
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.status_code
        wire = await read_wire(response)
    assert wire.done
    return [e for e in wire.events if isinstance(e.data, dict)]


def types(events: list[Event]) -> list[str | None]:
    return [e.type for e in events]


async def suspend_then_approve(
    client: httpx.AsyncClient, session: str, **decision: Any
) -> tuple[list[Event], list[Event]]:
    """The turn's first instance (to its suspension), then the decision with its resumed
    instance's stream up to its first text (the reader leaves there; the run waits)."""
    async with client.stream(
        "POST", "/chat", json={"message": "pay", "sessionId": session}
    ) as response:
        first = [e for e in (await read_wire(response)).events if isinstance(e.data, dict)]
    request = next(e.data for e in first if e.type == "tool-approval-request")
    async with client.stream(
        "POST",
        f"/chat/{session}/submit-tool-result",
        json={"approvalId": request["approvalId"], **decision},
        headers={"accept": "text/event-stream"},
    ) as response:
        assert response.headers["x-helix-run-id"] == f"{session}--t1--r1"
        resumed = await events_until(response, "text-delta")
    return first, resumed


async def test_reattaching_without_a_cursor_replays_every_instance_of_the_turn(
    make_server: Any,
) -> None:
    gate = asyncio.Event()
    executed: list[int] = []
    server = await make_server(gated_bank(gate, executed))
    async with server.client() as client:
        first, resumed = await suspend_then_approve(client, "turn", approved=True)
        # The first instance's ids are its sequences; the resume's are positions past R1.
        assert [e.id for e in first] == sorted({e.id for e in first})
        assert all(e.id is not None and e.id < R1 for e in first)
        assert first[-1].data == {"type": "finish", "finishReason": "tool-calls"}
        assert all(e.id is not None and e.id > R1 for e in resumed)
        assert resumed[0].data == {"type": "start", "messageId": "turn-t1"}

        # While the resume runs, the snapshot leaves the turn's message out: the replay
        # brings all of it.
        snap = (await client.get("/chat/turn")).json()
        assert snap["activeRun"]["runId"] == "turn--t1--r1"
        assert [m["role"] for m in snap["messages"]] == ["user"]
        assert snap["activeRun"]["lastSequence"] == snap["lastSequence"] >= resumed[-1].id

        replay: list[Event] = []
        async with client.stream("GET", "/chat/turn/stream") as response:
            assert response.status_code == 200
            assert response.headers["x-helix-run-id"] == "turn--t1--r1"
            async for item in sse_blocks(response):
                if isinstance(item, Event) and isinstance(item.data, dict):
                    replay.append(item)
                    if item.data == {
                        "type": "text-delta",
                        "id": resumed[-1].data["id"],
                        "delta": "success ",
                    }:
                        gate.set()  # the replay reached where the run waits: let it end

    # One message from one start to one finish: the first instance's end and the resume's
    # start are left out, everything else of both is there once, in order.
    assert types(replay).count("start") == 1
    assert types(replay).count("finish") == 1
    assert replay[0].data == {"type": "start", "messageId": "turn-t1"}
    assert replay[-1].data == {"type": "finish", "finishReason": "stop"}
    ids = [e.id for e in replay]
    assert ids == sorted(set(ids))  # type: ignore[type-var]
    assert replay[: len(first) - 1] == first[:-1]
    later = replay[len(first) - 1 :]
    assert [e.data["toolCallId"] for e in later if e.type == "tool-output-available"] == [
        first[-3].data["toolCallId"]
    ]
    text = "".join(e.data["delta"] for e in replay if e.type == "text-delta")
    assert text == "paying success done"
    assert executed == [7]


async def test_cursors_work_across_the_instances_of_a_turn(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated_bank(gate, []))
    async with server.client() as client:
        first, resumed = await suspend_then_approve(client, "cur", approved=True)
        gate.set()
        # The turn as a whole, and the resume's stream alone, once the run is over.
        whole = await read_all(client, "/chat/cur/stream", **{"x-resume-from-sequence": "0"})
        alone = await read_all(client, f"/chat/cur/stream?from={R1}")
        assert alone[0].data == {"type": "start", "messageId": "cur-t1"}
        assert alone[: len(resumed)] == resumed
        # The reader of the resume that left after its first text comes back with its last
        # id and gets the rest of the resume, exactly once.
        rest = await read_all(client, "/chat/cur/stream", **{"last-event-id": str(resumed[-1].id)})
        assert rest == alone[len(resumed) :]
        # A reader that saw the first instance to its end (its finish) gets the resume
        # whole, from its own start.
        rest = await read_all(client, "/chat/cur/stream", **{"last-event-id": str(first[-1].id)})
        assert rest == alone
        # A reader that left inside the first instance gets the rest of the turn.
        inside = first[3].id
        rest = await read_all(client, "/chat/cur/stream", **{"last-event-id": str(inside)})
        assert rest == [e for e in whole if e.id is not None and e.id > inside]
        # Everything read: nothing more; a cursor past the end of the turn: nothing.
        end = whole[-1].id
        assert (await client.get("/chat/cur/stream", params={"from": end})).status_code == 204
        snap = (await client.get("/chat/cur")).json()
        assert snap["activeRun"] is None
        assert snap["lastSequence"] == end


async def test_a_cursor_past_the_end_of_the_running_turn_is_refused(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated_bank(gate, []))
    async with server.client() as client:
        await suspend_then_approve(client, "past", approved=True)
        snap = (await client.get("/chat/past")).json()
        end = snap["activeRun"]["lastSequence"]
        answer = await client.get("/chat/past/stream", params={"from": str(end + 1)})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_cursor"
        gate.set()


@pytest.mark.parametrize(
    ("decision", "state"),
    [
        ({"approved": True}, "output-available"),
        ({"approved": True, "reason": "fine"}, "output-available"),
        ({"approved": False, "reason": "too much"}, "output-denied"),
        ({"approved": False}, "output-denied"),
    ],
)
async def test_a_decided_call_keeps_its_approval_in_the_snapshot(
    make_server: Any, decision: dict[str, Any], state: str
) -> None:
    gate = asyncio.Event()
    gate.set()
    server = await make_server(gated_bank(gate, []))
    async with server.client() as client:
        first, _ = await suspend_then_approve(client, "dec", **decision)
        approval_id = next(e.data for e in first if e.type == "tool-approval-request")["approvalId"]
        await read_all(client, f"/chat/dec/stream?from={R1}")
        snap = (await client.get("/chat/dec")).json()
    assert snap["status"] == "completed"
    part = next(p for p in snap["messages"][1]["parts"] if p["type"] == "tool-transfer")
    assert part["state"] == state
    # The approval id of the request (not the call's id) and the person's own reason (not
    # the sentence the model was told), exactly what the deciding client holds.
    assert part["approval"] == {"id": approval_id, **decision}


@pytest.mark.parametrize("approved", [True, False])
async def test_the_resume_streams_the_decision_to_ai_sdk_7(
    make_server: Any, approved: bool
) -> None:
    gate = asyncio.Event()
    gate.set()
    server = await make_server(gated_bank(gate, []), ui_version=7)
    async with server.client() as client:
        first, _ = await suspend_then_approve(client, "v7", approved=approved, reason="why")
        request = next(e.data for e in first if e.type == "tool-approval-request")
        whole = await read_all(client, "/chat/v7/stream?from=0")
    decision = {
        "type": "tool-approval-response",
        "approvalId": request["approvalId"],
        "approved": approved,
        "reason": "why",
    }
    outcome = "tool-output-available" if approved else "tool-output-denied"
    kinds = types(whole)
    assert decision in [e.data for e in whole]
    assert kinds.index("tool-approval-request") < kinds.index("tool-approval-response")
    assert kinds.index("tool-approval-response") < kinds.index(outcome)
