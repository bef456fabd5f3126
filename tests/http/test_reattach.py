"""Leaving and coming back: every event exactly once, whatever the moment; many readers."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from .agents import ANSWER, gated, gated_text, talker
from .harness import Event, assistant_text, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(120)


async def reference(client: httpx.AsyncClient, session: str, run: str) -> list[tuple[int, Any]]:
    """The whole stream of a run, read once without interruption (the run has ended)."""
    async with client.stream("GET", f"/chat/{session}/stream", params={"from": "0"}) as res:
        assert res.status_code == 200
        assert res.headers["x-helix-run-id"] == run
        wire = await read_wire(res)
    assert wire.done
    return [(e.id, e.data) for e in wire.events]


async def read_with_cuts(
    client: httpx.AsyncClient,
    session: str,
    cuts: list[int],
    *,
    cursor_header: str = "Last-Event-ID",
    first: httpx.Request | None = None,
    on_event: Any = None,
) -> list[Event]:
    """Follow the session's run, dropping the connection after the ``cuts[i]``-th event
    (counted over everything received) and reattaching with the last id seen."""
    events: list[Event] = []
    cuts = sorted(cuts)
    request = first or client.build_request("GET", f"/chat/{session}/stream")
    while True:
        response = await client.send(request, stream=True)
        try:
            assert response.status_code == 200, response.status_code
            async for item in sse_blocks(response):
                if isinstance(item, str):
                    continue
                events.append(item)
                if on_event is not None:
                    await on_event(item)
                if item.data == "[DONE]":
                    return events
                if cuts and len(events) >= cuts[0]:
                    cuts.pop(0)
                    break
            else:
                raise AssertionError("the stream ended without [DONE]")
        finally:
            await response.aclose()  # the disconnect
        last = events[-1].id
        assert last is not None
        if cursor_header == "from":
            request = client.build_request(
                "GET", f"/chat/{session}/stream", params={"from": str(last)}
            )
        else:
            request = client.build_request(
                "GET", f"/chat/{session}/stream", headers={cursor_header: str(last)}
            )


def assert_exactly_once(events: list[Event], ref: list[tuple[int, Any]]) -> None:
    got = [(e.id, e.data) for e in events]
    assert got == ref
    assert assistant_text([e.data for e in events if isinstance(e.data, dict)]).strip() == ANSWER


@pytest.mark.parametrize("cursor_header", ["Last-Event-ID", "X-Resume-From-Sequence", "from"])
async def test_random_cuts_while_the_run_is_live(make_server: Any, cursor_header: str) -> None:
    """Readers cut at random points while the run streams (paced word by word), and reattach
    with their cursor, live or after the run ended."""
    server = await make_server(talker(delay=0.002))
    rng = random.Random(f"live-{cursor_header}")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with server.client(limits=limits) as client:
        first = client.build_request("POST", "/chat", json={"message": "go", "sessionId": "cuts"})
        total = 2 + 6 + 63 + 1  # start/step, tool step, text step (60 words), [DONE]
        started = asyncio.Event()

        async def on_first(item: Event) -> None:
            started.set()

        main = asyncio.ensure_future(
            read_with_cuts(
                client,
                "cuts",
                rng.sample(range(1, total - 1), rng.randint(1, 6)),
                cursor_header=cursor_header,
                first=first,
                on_event=on_first,
            )
        )
        await started.wait()
        # The others join a moment later, from the run's start (?from=0 replays the run
        # even if it has ended by the time they ask).
        others = await asyncio.gather(
            *(
                read_with_cuts(
                    client,
                    "cuts",
                    rng.sample(range(1, total - 1), rng.randint(1, 6)),
                    cursor_header=cursor_header,
                    first=client.build_request("GET", "/chat/cuts/stream", params={"from": "0"}),
                )
                for _ in range(7)
            )
        )
        main_events = await main
        ref = await reference(client, "cuts", "cuts--t1")
        snap = (await client.get("/chat/cuts")).json()
    # What every reader reassembled is exactly the stored final assistant message.
    final = snap["messages"][-1]
    assert final["id"] == "cuts-t1"
    stored_text = "".join(p["text"] for p in final["parts"] if p["type"] == "text")
    assert assistant_text([e.data for e in main_events if isinstance(e.data, dict)]) == stored_text
    assert len(ref) >= total - 1
    for events in [main_events, *others]:
        assert_exactly_once(events, ref)


async def test_cuts_while_parked_on_a_stalled_run(make_server: Any) -> None:
    """All reattachments happen while the run is active (its model waits on a gate): each
    reader comes back to the live stream, not a replay of a finished one."""
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=20))
    rng = random.Random("parked")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with server.client(limits=limits) as client:
        async with client.stream(
            "POST", "/chat", json={"message": "go", "sessionId": "park"}
        ) as res:
            async for _item in sse_blocks(res):
                break  # the POST's own reader leaves at once: the run goes on
        pre_gate = 3 + 20  # start, start-step, text-start, 20 deltas
        parked = [asyncio.Event() for _ in range(6)]

        def watcher(event: asyncio.Event) -> Any:
            async def on_event(item: Event) -> None:
                if isinstance(item.data, dict) and item.data.get("delta") == "a19 ":
                    event.set()

            return on_event

        readers = [
            asyncio.ensure_future(
                read_with_cuts(
                    client,
                    "park",
                    rng.sample(range(1, pre_gate), rng.randint(1, 5)),
                    on_event=watcher(parked[i]),
                )
            )
            for i in range(len(parked))
        ]
        await asyncio.gather(*(p.wait() for p in parked))
        snap = (await client.get("/chat/park")).json()
        assert snap["status"] == "active"
        gate.set()
        results = await asyncio.gather(*readers)
        ref = await reference(client, "park", "park--t1")
    for events in results:
        assert [(e.id, e.data) for e in events] == ref
        assert assistant_text([e.data for e in events if isinstance(e.data, dict)]) == gated_text(
            20
        )


async def test_after_the_run_ended(make_server: Any) -> None:
    """204 without a cursor once nothing runs; with a cursor, the rest of the latest run
    (a reader that missed the end gets it), then 204 once it has everything."""
    server = await make_server(talker())
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "x", "sessionId": "ended"}
        ) as res:
            wire = await read_wire(res)
        ref = [(e.id, e.data) for e in wire.events]
        res = await client.get("/chat/ended/stream")
        assert res.status_code == 204
        assert res.content == b""
        rng = random.Random("ended")
        for _ in range(5):
            events = await read_with_cuts(
                client,
                "ended",
                rng.sample(range(1, len(ref) - 1), 3),
                first=client.build_request("GET", "/chat/ended/stream", params={"from": "0"}),
            )
            assert [(e.id, e.data) for e in events] == ref
        last = ref[-2][0]
        res = await client.get("/chat/ended/stream", headers={"Last-Event-ID": str(last)})
        assert res.status_code == 204


async def test_a_cursor_past_the_live_stream_is_refused(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=2))
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json={"message": "go", "sessionId": "ahead"}) as res,
    ):
        async for _ in sse_blocks(res):
            break
        bad = await client.get("/chat/ahead/stream", headers={"Last-Event-ID": "999"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_cursor"
        gate.set()


async def test_two_hundred_readers_of_one_run(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=30))
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with server.client(limits=limits, timeout=httpx.Timeout(60.0)) as client:
        async with client.stream(
            "POST", "/chat", json={"message": "go", "sessionId": "many"}
        ) as res:
            async for _ in sse_blocks(res):
                break
        attached = asyncio.Semaphore(0)

        async def reader() -> list[tuple[int | None, Any]]:
            async with client.stream("GET", "/chat/many/stream") as res:
                assert res.status_code == 200
                attached.release()
                wire = await read_wire(res)
            return [(e.id, e.data) for e in wire.events]

        tasks = [asyncio.ensure_future(reader()) for _ in range(200)]
        for _ in range(200):
            await attached.acquire()
        gate.set()  # every reader is attached to the live run: let it finish
        results = await asyncio.gather(*tasks)
        ref = await reference(client, "many", "many--t1")
    assert all(r == ref for r in results)
    assert assistant_text([d for _, d in ref if isinstance(d, dict)]) == gated_text(30)


async def test_a_client_leaving_does_not_stop_the_run(make_server: Any) -> None:
    server = await make_server(talker(delay=0.001))
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "x", "sessionId": "left"}
        ) as res:
            async for _ in sse_blocks(res):
                break
        handle = await server.host.executor.get_handle("left")
        assert handle is not None
        run = await handle.result(timeout=30)
        assert run.status == "completed"
        snap = (await client.get("/chat/left")).json()
    assert snap["messages"][-1]["parts"][-1]["text"].strip() == ANSWER


async def test_a_stream_that_breaks_off_ends_with_an_error_and_no_done(make_server: Any) -> None:
    """The host shutting down under a reader: the reader learns it in-band and, with no
    [DONE], knows to reattach with its cursor."""
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=3))
    events: list[Event] = []
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json={"message": "go", "sessionId": "brk"}) as res,
    ):
        async for item in sse_blocks(res):
            if isinstance(item, str):
                continue
            events.append(item)
            if item.data == {"type": "text-delta", "id": item.data.get("id"), "delta": "a2 "}:
                await server.host.streams.close()  # what a shutting-down host does
    assert events[-1].data["type"] == "error"
    assert events[-1].id is None
    assert "broke off" in events[-1].data["errorText"]
    assert all(e.data != "[DONE]" for e in events)
