"""Interrupt, resume and abort over HTTP, seen on the stream and in the snapshot."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from .agents import ANSWER, gated, talker, tool_then_gate
from .harness import assistant_text, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)

#: From an accepted interrupt to the end of the reader's stream, on every host (the local
#: host's own figure is far lower: tests/loop/test_interrupt.py holds it to 200 ms).
STOP_BOUND = 1.0


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
    # The interrupt comes while step 1's model is silent (it waits on the gate): the call
    # is cut short, its text kept; resume makes a fresh call, which goes on to the tool.
    gate = asyncio.Event()
    server = await make_server(tool_then_gate(gate))
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "go", "sessionId": "ir"}) as res:
            reader = Reader(res)
            seen = await reader.until(lambda c: c.get("delta") == "before ")
            accepted = await client.post("/chat/ir/interrupt", json={"reason": "wait"})
            assert accepted.status_code == 202
            assert accepted.json() == {
                "sessionId": "ir",
                "runId": "ir--t1",
                "status": "interrupting",
            }
            rest = await reader.until()
        assert reader.done
        assert rest[-1] == {"type": "finish", "finishReason": "other"}
        assert assistant_text(seen + rest) == "before "
        snap = (await client.get("/chat/ir")).json()
        assert snap["status"] == "interrupted"
        assert snap["activeRun"] is None
        parts = snap["messages"][1]["parts"]
        assert [p["type"] for p in parts] == ["step-start", "text"]
        assert parts[1]["text"] == "before "
        assert (await client.post("/chat/ir/interrupt")).status_code == 409

        # Resume with a stream: the new instance's chunks, from its start.
        gate.set()
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
            "step-start",
            "text",
            "tool-lookup",
            "step-start",
            "text",
        ]
        assert parts[4]["state"] == "output-available"
        assert parts[4]["output"] == {"city": "Oslo", "sky": "clear"}
        assert any(
            c
            == {
                "type": "tool-output-available",
                "toolCallId": parts[4]["toolCallId"],
                "output": parts[4]["output"],
            }
            for c in wire.chunks
        )
        assert (await client.post("/chat/ir/resume")).status_code == 409


async def test_interrupt_cuts_a_streaming_answer_and_keeps_its_text(make_server: Any) -> None:
    server = await make_server(talker(delay=0.05))
    async with server.client() as client:
        body = {"message": "go", "sessionId": "cut", "agentType": "talker"}
        async with client.stream("POST", "/chat", json=body) as res:
            reader = Reader(res)
            seen = await reader.until(lambda c: c.get("delta") == "word3 ")
            accepted = await client.post("/chat/cut/interrupt")
            assert accepted.status_code == 202
            started = time.monotonic()
            rest = await reader.until()
            elapsed = time.monotonic() - started
        assert reader.done
        assert rest[-1] == {"type": "finish", "finishReason": "other"}
        # The model had 56 words (2.8 s) still to say: it was stopped, not waited for.
        assert elapsed < STOP_BOUND, elapsed
        said = assistant_text(seen + rest)
        assert said.startswith("word0 word1 word2 word3 ")
        assert len(said) < len(ANSWER)
        snap = (await client.get("/chat/cut")).json()
        assert snap["status"] == "interrupted"
        texts = [p for p in snap["messages"][1]["parts"] if p["type"] == "text"]
        assert [p["text"] for p in texts] == [said]
        assert texts[0]["state"] == "done"


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
            seen = await reader.until(lambda c: c.get("delta") == "a3 ")
            done = await client.post("/chat/ab/abort", json={"reason": "enough"})
            assert done.status_code == 200
            assert done.json() == {"sessionId": "ab", "runId": "ab--t1", "status": "aborted"}
            rest = await reader.until()
        assert reader.done
        assert rest[-1]["type"] == "abort"
        gate.set()
        snap = (await client.get("/chat/ab")).json()
        assert snap["status"] == "aborted"
        # What was streamed before the abort stays in the session.
        texts = [p["text"] for p in snap["messages"][1]["parts"] if p["type"] == "text"]
        assert texts == [assistant_text(seen + rest)] == ["a0 a1 a2 a3 "]
        for action in ["interrupt", "abort", "resume"]:
            assert (await client.post(f"/chat/ab/{action}")).status_code == 409
        assert (await client.get("/chat/ab/stream")).status_code == 204
