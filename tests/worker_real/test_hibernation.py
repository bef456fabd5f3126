"""The WebSocket route on the real Durable Object, across hibernation.

A client follows a run over ``GET /chat/{id}/ws``; the run then waits in a tool held on a
gate, and nothing calls the session's Durable Object. (Not in a model call: there the
step's ``wait_stop``, which brings it an interrupt at once, is a request in flight to the
object, and an object with a request in flight is never evicted.) Local workerd evicts an idle
object 10 seconds after its last request ended, hibernating its WebSockets: the socket
stays open while the object is gone from memory (``ActorContainer::handleShutdown`` in
workerd's ``server.c++``: a fixed ``10 * kj::SECONDS``, not configurable). When the run
goes on, its next write constructs the object again, which finds the socket and its cursor
in the attachment (``ctx.getWebSockets``) and sends it the run's next frames.

The object counts its constructions in its own storage (``tests.worker_real.app``), so the
test sees the eviction happen rather than assuming it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.http.agents import gated_text, held
from tests.http.harness import assistant_text, read_wire, sse_blocks
from tests.http.test_websocket import check_retried_step
from tests.worker_real.app import CONSTRUCTIONS_PATH

from .harness import RealServer, RealServers, WorkerPool

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(120)]

#: workerd's eviction delay for an idle Durable Object (see the module docstring).
EVICTION_DELAY = 10.0
#: How long the test leaves the object idle: the delay and a margin for a loaded machine.
IDLE = EVICTION_DELAY + 4.0


@pytest.fixture
async def make_server(
    worker_pool: WorkerPool, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Any]]:
    servers = RealServers(worker_pool, request.node.nodeid)
    try:
        yield servers.make
    finally:
        await servers.close()


async def constructions(server: RealServer, session: str) -> int:
    async with httpx.AsyncClient(base_url=server.worker.url, timeout=30) as client:
        res = await client.get(CONSTRUCTIONS_PATH, params={"session": session})
    res.raise_for_status()
    count: int = res.json()["constructions"]
    return count


async def test_socket_receives_the_run_after_the_object_hibernated(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(held(gate, words=5))
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "go", "sessionId": "hib1"}
        ) as res:
            assert res.status_code == 200
            async for _ in sse_blocks(res):
                break  # leave: the run goes on without this reader
        async with connect(f"{server.ws_url}/chat/hib1/ws", ping_interval=None) as ws:
            before: list[dict[str, Any]] = []
            async with asyncio.timeout(30):
                # Up to the call of ``hold``: the run then waits in that tool.
                while not before or before[-1]["chunk"]["type"] != "tool-input-available":
                    before.append(json.loads(await ws.recv()))
            assert assistant_text([f["chunk"] for f in before]) == gated_text(5)[:15]
            assert before[0] == {"seq": 1, "chunk": {"type": "start", "messageId": "hib1-t1"}}
            woken = await constructions(server, "hib1")

            # Nothing calls the object now: the run waits in its tool, on the gate.
            started = time.monotonic()
            await asyncio.sleep(IDLE)
            # The runtime answers a ping itself, hibernated or not.
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 10) == "pong"
            gate.set()
            after: list[dict[str, Any]] = []
            try:
                async with asyncio.timeout(60):
                    async for text in ws:
                        after.append(json.loads(text))
            except ConnectionClosed:
                pass
            idle = time.monotonic() - started
            assert ws.close_code == 1000
        # The object was evicted while idle and constructed once more: by the run's write
        # that reached the hibernated socket.
        assert await constructions(server, "hib1") == woken + 1, f"idle {idle:.1f} s"
        async with client.stream("GET", "/chat/hib1/stream", params={"from": "0"}) as res:
            wire = await read_wire(res)
    assert after[-1] == {"done": True, "runId": "hib1--t1", "status": "completed"}
    frames = before + after[:-1]
    # Every frame once, in order, as the SSE replay of the whole run has them.
    assert [(f["seq"], f["chunk"]) for f in frames] == [
        (e.id, e.data) for e in wire.events if e.data != "[DONE]"
    ]
    assert assistant_text([f["chunk"] for f in frames]) == gated_text(5)


async def test_readers_of_a_retried_step_across_hibernation(make_server: Any) -> None:
    # The reader follows the run to a tool that waits: nothing calls the object, which is
    # evicted, its socket hibernating. Then the run goes on: the object is constructed
    # again by the next write and serves the socket from what its attachment kept, through
    # a model step that dies after streaming and is retried. The reader rebuilds exactly
    # the stored message, and so does a reader coming back with the seq of any frame it
    # got (tests/http/test_websocket.py: check_retried_step).
    servers: list[RealServer] = []
    counts: list[int] = []

    async def make(*agents: Any, **options: Any) -> RealServer:
        servers.append(await make_server(*agents, **options))
        return servers[-1]

    async def idle() -> None:
        counts.append(await constructions(servers[0], "hib2"))
        await asyncio.sleep(IDLE)

    async def ended() -> None:
        counts.append(await constructions(servers[0], "hib2"))

    await check_retried_step(make, "hib2", during=idle, ended=ended)
    # Constructed once more in between: by the write that reached the hibernated socket.
    assert counts[1] == counts[0] + 1
