"""GET /chat/{sessionId}/ws with a real WebSocket client (the ``websockets`` package)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.ui_message import UIMessageAssembler

from .agents import flaky, gated, gated_text
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


async def test_ping_is_answered_with_pong(make_server: Any) -> None:
    # One protocol on both hosts: the Durable Object's runtime answers "ping" by itself,
    # and so does the local route (not an error frame).
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=3))
    async with server.client() as client:
        await start_gated(server, client, "ws5")
        async with connect(f"{server.ws_url}/chat/ws5/ws", ping_interval=None) as ws:
            await ws.send("ping")
            seen = []
            async with asyncio.timeout(10):
                while "pong" not in seen:
                    seen.append(await ws.recv())
            gate.set()
            rest = await frames_until_close(ws)
    assert not [f for f in seen if f != "pong" and "error" in json.loads(f)]
    assert rest[-1]["done"] is True


async def check_retried_step(
    make_server: Any, session: str, *, during: Any = None, ended: Any = None
) -> None:
    """A reader follows a run that waits in a tool step (``during`` is awaited then: the
    real Worker's object hibernates), then retries its next model step, which died after
    streaming (``ended`` is awaited as the reader gets the done frame); then a reader comes
    back with the seq of every frame the first one got. Each rebuilds exactly the stored
    message."""
    gate = asyncio.Event()
    server = await make_server(flaky(gate, []))
    async with server.client() as client:
        await start_gated(server, client, session)
        async with connect(f"{server.ws_url}/chat/{session}/ws", ping_interval=None) as ws:
            frames: list[dict[str, Any]] = []
            async with asyncio.timeout(30):
                # Up to the call of ``hold``: the run then waits in that tool.
                while not frames or frames[-1]["chunk"]["type"] != "tool-input-available":
                    frames.append(json.loads(await ws.recv()))
            if during is not None:
                await during()
            gate.set()
            async with asyncio.timeout(60):
                while "done" not in frames[-1]:
                    frames.append(json.loads(await ws.recv()))
                if ended is not None:
                    await ended()
                frames += await frames_until_close(ws)
            assert ws.close_code == 1000
        snapshot = (await client.get(f"/chat/{session}")).json()["messages"][-1]
    assert frames.pop() == {"done": True, "runId": f"{session}--t1", "status": "completed"}
    live = UIMessageAssembler()
    for frame in frames:
        live.apply(frame["chunk"])
    assert live.message == snapshot
    assert live.resets == 1
    # Two steps, each finished once (the retry closes step 1 again: not to this reader).
    assert [f["chunk"]["type"] for f in frames].count("finish-step") == 2
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    for i, frame in enumerate(frames):
        url = f"{server.ws_url}/chat/{session}/ws?from={frame['seq']}"
        # Read up to the done frame, the last one, without waiting for the server's close:
        # local workerd delivers a Durable Object's close only when the object goes idle
        # (some 10 s), which would make these twenty reconnections minutes.
        async with connect(url, ping_interval=None, close_timeout=0.5) as ws:
            rest = [json.loads(await ws.recv())]
            while "done" not in rest[-1]:
                rest.append(json.loads(await ws.recv()))
        assert rest.pop()["done"] is True
        reader = UIMessageAssembler()
        for got in [*frames[: i + 1], *rest]:
            reader.apply(got["chunk"])
        assert reader.message == snapshot, (i, frame, rest[:3])


async def test_readers_of_a_retried_step_rebuild_the_stored_message(make_server: Any) -> None:
    await check_retried_step(make_server, "ws4")
