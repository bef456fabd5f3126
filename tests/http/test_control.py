"""Interrupt, resume and abort over HTTP, seen on the stream and in the snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .agents import gated, tool_then_gate
from .harness import assistant_text, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)


class Reader:
    """One SSE response read in pieces."""

    def __init__(self, res: Any) -> None:
        self.blocks = sse_blocks(res)
        self.done = False

    async def until(self, predicate: Any = None) -> list[dict[str, Any]]:
        chunks = []
        async for item in self.blocks:
            if isinstance(item, str):
                continue
            if item.data == "[DONE]":
                self.done = True
                continue
            chunks.append(item.data)
            if predicate is not None and predicate(item.data):
                break
        return chunks


async def test_interrupt_then_resume(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(tool_then_gate(gate))
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "go", "sessionId": "ir"}) as res:
            reader = Reader(res)
            await reader.until(lambda c: c.get("delta") == "before ")
            accepted = await client.post("/chat/ir/interrupt", json={"reason": "wait"})
            assert accepted.status_code == 202
            assert accepted.json() == {
                "sessionId": "ir",
                "runId": "ir--t1",
                "status": "interrupting",
            }
            gate.set()
            rest = await reader.until()
        assert reader.done
        assert rest[-1] == {"type": "finish", "finishReason": "other"}
        snap = (await client.get("/chat/ir")).json()
        assert snap["status"] == "interrupted"
        assert snap["activeRun"] is None
        tool = snap["messages"][1]["parts"][2]
        assert tool["type"] == "tool-lookup"
        assert tool["state"] == "input-available"
        assert (await client.post("/chat/ir/interrupt")).status_code == 409

        # Resume with a stream: the new instance's chunks, from its start.
        async with client.stream(
            "POST", "/chat/ir/resume", headers={"accept": "text/event-stream"}
        ) as res:
            assert res.status_code == 200
            assert res.headers["x-helix-run-id"] == "ir--t1--r1"
            wire = await read_wire(res)
        assert wire.chunks[0] == {"type": "start", "messageId": "ir-t1"}
        assert wire.chunks[-1] == {"type": "finish", "finishReason": "stop"}
        assert "after" in assistant_text(wire.chunks)
        snap = (await client.get("/chat/ir")).json()
        assert snap["status"] == "completed"
        assert snap["runId"] == "ir--t1--r1"
        # One assistant message for the whole turn, across both instances.
        assert [m["role"] for m in snap["messages"]] == ["user", "assistant"]
        parts = snap["messages"][1]["parts"]
        assert [p["type"] for p in parts] == [
            "step-start",
            "text",
            "tool-lookup",
            "step-start",
            "text",
        ]
        assert parts[2]["state"] == "output-available"
        assert parts[2]["output"] == {"city": "Oslo", "sky": "clear"}
        assert any(
            c
            == {
                "type": "tool-output-available",
                "toolCallId": parts[2]["toolCallId"],
                "output": parts[2]["output"],
            }
            for c in wire.chunks
        )
        assert (await client.post("/chat/ir/resume")).status_code == 409


async def test_resume_answers_202_by_default(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(tool_then_gate(gate))
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "go", "sessionId": "r2"}) as res:
            reader = Reader(res)
            await reader.until(lambda c: c.get("delta") == "before ")
            assert (await client.post("/chat/r2/interrupt")).status_code == 202
            gate.set()
            await reader.until()
        res = await client.post("/chat/r2/resume")
        assert res.status_code == 202
        assert res.json() == {
            "sessionId": "r2",
            "runId": "r2--t1--r1",
            "turn": 1,
            "status": "active",
        }
        async with client.stream("GET", "/chat/r2/stream", params={"from": "0"}) as res:
            wire = await read_wire(res)
        assert wire.done
        assert wire.chunks[-1]["type"] == "finish"


async def test_abort(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=4))
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "go", "sessionId": "ab"}) as res:
            reader = Reader(res)
            await reader.until(lambda c: c.get("delta") == "a3 ")
            done = await client.post("/chat/ab/abort", json={"reason": "enough"})
            assert done.status_code == 200
            assert done.json() == {"sessionId": "ab", "runId": "ab--t1", "status": "aborted"}
            rest = await reader.until()
        assert reader.done
        assert rest[-1]["type"] == "abort"
        gate.set()
        snap = (await client.get("/chat/ab")).json()
        assert snap["status"] == "aborted"
        for action in ["interrupt", "abort", "resume"]:
            assert (await client.post(f"/chat/ab/{action}")).status_code == 409
        assert (await client.get("/chat/ab/stream")).status_code == 204
