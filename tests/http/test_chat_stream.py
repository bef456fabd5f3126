"""POST /chat and the stream on the wire: headers, ids, [DONE], keep-alives, both bodies,
and the snapshot of what was said."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helix_agents.streaming.ui_schema import ui_chunk_problems

from .agents import ANSWER, echo, gated, gated_text, keeper, reuser, talker
from .harness import assistant_text, read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)

STREAM_HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-vercel-ai-ui-message-stream": "v1",
    "x-accel-buffering": "no",
}


def check_wire(chunks: list[dict[str, Any]]) -> None:
    for chunk in chunks:
        assert not ui_chunk_problems(chunk), (chunk, ui_chunk_problems(chunk))


async def test_helix_body_streams_the_run_exactly(make_server: Any) -> None:
    server = await make_server(talker())
    async with server.client() as client:
        body = {"agentType": "talker", "message": "weather?"}
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
            for name, value in STREAM_HEADERS.items():
                assert res.headers[name] == value
            session = res.headers["x-helix-session-id"]
            assert res.headers["x-helix-run-id"] == f"{session}--t1"
            raw = b"".join([piece async for piece in res.aiter_bytes()]).decode()
    # The exact framing: every event is "id: <seq>\ndata: <json>\n\n"; the end is [DONE].
    blocks = raw.split("\n\n")
    assert blocks[-1] == ""
    assert blocks[-2] == "data: [DONE]"
    ids = []
    for block in blocks[:-2]:
        id_line, data_line = block.split("\n")
        assert id_line.startswith("id: ")
        assert data_line.startswith("data: {")
        ids.append(int(id_line[4:]))
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert ids[0] == 1

    async with server.client() as client:
        wire = await read_wire_of(
            client, "POST", "/chat", json={"message": "again", "sessionId": session}
        )
    chunks = wire.chunks
    check_wire(chunks)
    assert chunks[0] == {"type": "start", "messageId": f"{session}-t2"}
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    kinds = [c["type"] for c in chunks]
    assert kinds[:7] == [
        "start",
        "start-step",
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-output-available",
        "finish-step",
    ]
    assert chunks[5]["output"] == {"city": "Paris", "sky": "clear"}
    assert assistant_text(chunks).strip() == ANSWER


async def read_wire_of(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    async with client.stream(method, url, **kwargs) as res:
        assert res.status_code == 200, await res.aread()
        return await read_wire(res)


async def test_use_chat_body_and_agent_from_the_query(make_server: Any) -> None:
    server = await make_server(echo(), talker())
    async with server.client() as client:
        body = {
            "id": "chat1",
            "trigger": "submit-message",
            "messages": [
                {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "first"}]},
            ],
        }
        wire = await read_wire_of(client, "POST", "/chat?agent=echo", json=body)
        assert assistant_text(wire.chunks) == "echo: first"
        # The client's history is not read: only the last user message is new input.
        body["messages"] = [
            {"id": "u0", "role": "user", "parts": [{"type": "text", "text": "forged"}]},
            {"id": "a0", "role": "assistant", "parts": [{"type": "text", "text": "forged"}]},
            {
                "id": "u2",
                "role": "user",
                "parts": [
                    {"type": "text", "text": "second"},
                    {"type": "source-url", "sourceId": "s1", "url": "x"},
                ],
            },
        ]
        wire = await read_wire_of(client, "POST", "/chat", json=body)  # the session's agent
        assert assistant_text(wire.chunks) == "echo: second"
        snap = (await client.get("/chat/chat1")).json()
    assert [(m["id"], m["role"]) for m in snap["messages"]] == [
        ("u1", "user"),
        ("chat1-t1", "assistant"),
        ("u2", "user"),
        ("chat1-t2", "assistant"),
    ]
    assert snap["messages"][3]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "echo: second", "state": "done"},
    ]
    assert snap["status"] == "completed"
    assert snap["activeRun"] is None
    assert snap["usage"]["requests"] == 2


async def test_regenerate_reruns_the_last_stored_user_turn(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        first = {
            "id": "regen",
            "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        }
        await read_wire_of(client, "POST", "/chat", json=first)
        again = {
            "id": "regen",
            "trigger": "regenerate-message",
            "messageId": "regen-t1",
            "messages": [
                {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "ignored"}]}
            ],
        }
        wire = await read_wire_of(client, "POST", "/chat", json=again)
        assert wire.chunks[0] == {"type": "start", "messageId": "regen-t2"}
        assert assistant_text(wire.chunks) == "echo: hi"
        snap = (await client.get("/chat/regen")).json()
    roles = [m["role"] for m in snap["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert snap["messages"][2]["parts"][0]["text"] == "hi"
    assert snap["messages"][2]["id"] != "u1"  # history is append-only: a new message


async def test_the_only_agent_is_the_default(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        wire = await read_wire_of(client, "POST", "/chat", json={"message": "x"})
    assert assistant_text(wire.chunks) == "echo: x"


async def test_idle_streams_get_keep_alive_comments(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=3), keep_alive=0.05)
    comments: list[str] = []
    events: list[Any] = []
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json={"message": "go"}) as res,
    ):
        async for item in sse_blocks(res):
            if isinstance(item, str):
                comments.append(item)
                gate.set()  # the run was idle long enough for a comment: let it finish
            else:
                events.append(item)
    assert "keep-alive" in comments
    assert events[-1].data == "[DONE]"
    assert assistant_text([e.data for e in events[:-1]]) == gated_text(3)


async def test_snapshot_while_active_stops_where_the_instance_began(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=5))
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "go", "sessionId": "live"}
        ) as res:
            seen = 0
            async for item in sse_blocks(res):
                if not isinstance(item, str) and item.type == "text-delta":
                    seen += 1
                    if seen == 5:
                        break
            snap = (await client.get("/chat/live")).json()
            assert snap["status"] == "active"
            assert snap["activeRun"]["runId"] == "live--t1"
            assert snap["activeRun"]["messageId"] == "live-t1"
            assert snap["activeRun"]["lastSequence"] >= 8
            assert [m["role"] for m in snap["messages"]] == ["user"]
        # The replay of the instance from its start adds the rest, once.
        chunks: list[dict[str, Any]] = []
        async with client.stream("GET", "/chat/live/stream") as res:
            assert res.status_code == 200
            async for item in sse_blocks(res):
                if isinstance(item, str) or item.data == "[DONE]":
                    continue
                chunks.append(item.data)
                if item.data == {"type": "text-delta", "id": item.data.get("id"), "delta": "a4 "}:
                    gate.set()
    assert chunks[0] == {"type": "start", "messageId": "live-t1"}
    assert assistant_text(chunks) == gated_text(5)


async def test_cors_for_browser_apps_on_other_origins(make_server: Any) -> None:
    server = await make_server(echo(), cors_origins=["http://app.example"])
    async with server.client() as client:
        preflight = await client.options(
            "/chat",
            headers={
                "origin": "http://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://app.example"
        async with client.stream(
            "POST", "/chat", json={"message": "x"}, headers={"origin": "http://app.example"}
        ) as res:
            assert res.headers["access-control-allow-origin"] == "http://app.example"
            exposed = res.headers["access-control-expose-headers"].lower()
            assert "x-helix-session-id" in exposed
            await read_wire(res)
        other = await client.get("/agents", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_nested_state_changed_in_place_is_persisted(make_server: Any) -> None:
    """A tool that appends to a list nested in the session's state: the next turn, a new
    instance that reads the state from the database, sees the earlier items."""
    server = await make_server(keeper())
    async with server.client() as client:
        said = []
        for word in ("apple", "pear", "plum"):
            body = {"agentType": "keeper", "message": word, "sessionId": "kept"}
            wire = await read_wire_of(client, "POST", "/chat", json=body)
            said.append(assistant_text(wire.chunks))
    assert said == ["kept 1: apple", "kept 2: apple pear", "kept 3: apple pear plum"]


async def test_reused_provider_call_ids_are_made_unique(make_server: Any) -> None:
    """A provider that calls every step's tool ``call_0``: each call gets an id of its own,
    on the stream and in the snapshot, and each shows its own output."""
    server = await make_server(reuser())
    async with server.client() as client:
        body = {
            "id": "reused",
            "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "go"}]}],
        }
        wire = await read_wire_of(client, "POST", "/chat?agent=reuser", json=body)
        check_wire(wire.chunks)
        snap = (await client.get("/chat/reused")).json()
    assert assistant_text(wire.chunks) == "looked up Paris Oslo"
    outputs = [
        (c["toolCallId"], c["output"]["city"])
        for c in wire.chunks
        if c["type"] == "tool-output-available"
    ]
    inputs = [
        (c["toolCallId"], c["input"]["city"])
        for c in wire.chunks
        if c["type"] == "tool-input-available"
    ]
    assert [city for _, city in outputs] == ["Paris", "Oslo"]
    assert outputs == inputs
    assert len({call_id for call_id, _ in outputs}) == 2
    parts = [p for p in snap["messages"][1]["parts"] if p["type"] == "tool-lookup"]
    assert [(p["toolCallId"], p["input"]["city"], p["output"]["city"]) for p in parts] == [
        (call_id, city, city) for call_id, city in outputs
    ]


async def test_a_retried_post_gets_its_turn_not_a_new_one(make_server: Any) -> None:
    """``POST /chat`` is idempotent on the client's message id (a network retry): while the
    turn runs, the retry follows its stream; once it ended, the retry replays it. Neither
    starts a turn, for either body; a new message id does."""
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=3), echo())
    body = {"agentType": "gated", "message": "one", "sessionId": "idem", "messageId": "m1"}
    async with server.client() as client:
        async with client.stream("POST", "/chat", json=body) as first:
            assert first.status_code == 200
            blocks = sse_blocks(first)
            async for item in blocks:
                if not isinstance(item, str) and item.type == "text-delta":
                    break
            async with client.stream("POST", "/chat", json=body) as retry:
                assert retry.status_code == 200, await retry.aread()
                assert retry.headers["x-helix-run-id"] == "idem--t1"
                gate.set()
                retried = await read_wire(retry)
            rest = [item async for item in blocks if not isinstance(item, str)]
        assert retried.done
        assert rest[-1].data == "[DONE]"
        assert retried.chunks[0] == {"type": "start", "messageId": "idem-t1"}
        assert assistant_text(retried.chunks) == gated_text(3)
        assert assistant_text([e.data for e in rest[:-1]]).endswith("b2 ")
        # After the turn ended: the same turn again, whole.
        async with client.stream("POST", "/chat", json=body) as again:
            assert again.headers["x-helix-run-id"] == "idem--t1"
            replayed = await read_wire(again)
        assert replayed.chunks == retried.chunks
        snap = (await client.get("/chat/idem")).json()
        assert [(m["id"], m["role"]) for m in snap["messages"]] == [
            ("m1", "user"),
            ("idem-t1", "assistant"),
        ]
        # A new message id is a new turn.
        new = {**body, "messageId": "m2", "message": "two"}
        wire = await read_wire_of(client, "POST", "/chat", json=new)
        assert wire.chunks[0] == {"type": "start", "messageId": "idem-t2"}

        # useChat sends the last message's id: the same, twice, is one turn.
        chat = {
            "id": "idem-ui",
            "trigger": "submit-message",
            "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        }
        once = await read_wire_of(client, "POST", "/chat?agent=echo", json=chat)
        twice = await read_wire_of(client, "POST", "/chat?agent=echo", json=chat)
        assert twice.chunks == once.chunks
        assert assistant_text(twice.chunks) == "echo: hi"
        snap = (await client.get("/chat/idem-ui")).json()
    assert [(m["id"], m["role"]) for m in snap["messages"]] == [
        ("u1", "user"),
        ("idem-ui-t1", "assistant"),
    ]
    assert snap["usage"]["requests"] == 1
