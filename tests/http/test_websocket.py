"""GET /chat/{sessionId}/ws with a real WebSocket client (the ``websockets`` package)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .agents import gated, gated_text
from .harness import assistant_text, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)


async def frames_until_close(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    try:
        async for text in ws:
            frames.append(json.loads(text))
    except ConnectionClosed:
        pass
    return frames


async def start_gated(server: Any, client: Any, session: str) -> None:
    async with client.stream("POST", "/chat", json={"message": "go", "sessionId": session}) as res:
        assert res.status_code == 200
        async for _ in sse_blocks(res):
            break


async def test_same_chunks_as_sse_and_replay_from_a_sequence(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=10))
    async with server.client() as client:
        await start_gated(server, client, "ws1")
        async with (
            connect(f"{server.ws_url}/chat/ws1/ws") as whole,
            connect(f"{server.ws_url}/chat/ws1/ws?from=5") as tail,
        ):
            first = json.loads(await whole.recv())
            assert first == {"seq": 1, "chunk": {"type": "start", "messageId": "ws1-t1"}}
            first_tail = json.loads(await tail.recv())
            assert first_tail["seq"] == 6
            gate.set()
            frames = [first, *await frames_until_close(whole)]
            tail_frames = [first_tail, *await frames_until_close(tail)]
            assert whole.close_code == 1000
        async with client.stream("GET", "/chat/ws1/stream", params={"from": "0"}) as res:
            wire = await read_wire(res)
    done = frames.pop()
    assert done == {"done": True, "runId": "ws1--t1", "status": "completed"}
    assert tail_frames.pop() == done
    sse = [(e.id, e.data) for e in wire.events if e.data != "[DONE]"]
    assert [(f["seq"], f["chunk"]) for f in frames] == sse
    assert [(f["seq"], f["chunk"]) for f in tail_frames] == [x for x in sse if x[0] > 5]
    assert assistant_text([f["chunk"] for f in frames]) == gated_text(10)


async def test_client_frame_replays_again(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=6))
    async with server.client() as client:
        await start_gated(server, client, "ws2")
        async with connect(f"{server.ws_url}/chat/ws2/ws") as ws:
            seqs = []
            while len(seqs) < 4:
                seqs.append(json.loads(await ws.recv())["seq"])
            assert seqs == [1, 2, 3, 4]
            await ws.send(json.dumps({"from": 1}))
            # Frames already in flight may arrive first; then the replay from after 1.
            replay = []
            while True:
                frame = json.loads(await ws.recv())
                replay.append(frame["seq"])
                if replay[-2:] == [2, 3] or len(replay) > 50:
                    break
            assert replay[-2:] == [2, 3]
            await ws.send("not json")
            error = json.loads(await ws.recv())
            while "error" not in error:
                error = json.loads(await ws.recv())
            assert error["error"]["code"] == "invalid_cursor"
            gate.set()
            rest = await frames_until_close(ws)
    assert rest[-1]["done"] is True
    assert ws.close_code == 1000


async def test_no_active_run_and_errors(make_server: Any) -> None:
    gate = asyncio.Event()
    gate.set()
    server = await make_server(gated(gate, words=1))
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "go", "sessionId": "ws3"}
        ) as res:
            await read_wire(res)
        # An HTTP GET without the upgrade.
        plain = await client.get("/chat/ws3/ws")
        assert plain.status_code == 426
        assert plain.json()["error"]["code"] == "upgrade_required"
        assert (await client.get("/chat/nobody/ws")).status_code == 404
    async with connect(f"{server.ws_url}/chat/ws3/ws") as ws:
        assert await frames_until_close(ws) == [{"done": True, "active": False}]
        assert ws.close_code == 1000
    # A client with a cursor that missed the end of the run gets the rest, then done.
    async with connect(f"{server.ws_url}/chat/ws3/ws?from=2") as ws:
        rest = await frames_until_close(ws)
    assert rest[0]["seq"] == 3
    assert rest[-1] == {"done": True, "runId": "ws3--t1", "status": "completed"}
    for path, code in [
        ("/chat/nobody/ws", 4404),
        ("/chat/-bad-/ws", 4400),
        ("/chat/ws3/ws?from=-1", 4400),
    ]:
        async with connect(f"{server.ws_url}{path}") as ws:
            frames = await frames_until_close(ws)
        assert ws.close_code == code, path
        assert set(frames[0]["error"]) == {"code", "message"}
