"""Every kind of bad input gets the right 4xx and a JSON error, and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from .agents import asker, echo, gated, talker
from .harness import read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)

#: Every route under ``/chat/{sessionId}``, as (method, suffix).
SESSION_ROUTES = [
    ("GET", ""),
    ("GET", "/stream"),
    ("GET", "/ws"),
    ("POST", "/interrupt"),
    ("POST", "/resume"),
    ("POST", "/abort"),
    ("POST", "/submit-tool-result"),
]


def error_of(res: httpx.Response, status: int, code: str | None = None) -> str:
    assert res.status_code == status, (res.status_code, res.text)
    assert res.headers["content-type"] == "application/json"
    body = res.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


async def test_malformed_json(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        for raw in [
            b"{",
            b"",
            b"   ",
            b"\xff\xfe{}",
            b'{"message": NaN}',
            b"[" * 50_000,
            b"1e99999x",
        ]:
            res = await client.post(
                "/chat", content=raw, headers={"content-type": "application/json"}
            )
            error_of(res, 400, "malformed_json")
        res = await client.post(
            "/chat/whatever/interrupt", content=b"{", headers={"content-type": "application/json"}
        )
        error_of(res, 404, "session_not_found")  # the session is checked first


async def test_wrong_shapes(make_server: Any) -> None:
    server = await make_server(echo(), talker())
    user = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    async with server.client() as client:
        for body, needle in [
            ([1, 2], "JSON object"),
            ("hello", "JSON object"),
            (None, "JSON object"),
            ({"agentType": "echo"}, "message"),
            ({"agentType": "echo", "message": 5}, "message"),
            ({"agentType": 1, "message": "x"}, "agentType"),
            ({"agentType": "echo", "message": "x", "supersede": "yes"}, "supersede"),
            ({"agentType": "echo", "message": "x", "extra": 1}, "extra"),
            ({"agentType": "echo", "message": "   "}, "empty"),
            ({"agentType": "echo", "messages": "x"}, "messages"),
            ({"agentType": "echo", "messages": [{"role": "robot", "parts": []}]}, "role"),
            ({"agentType": "echo", "messages": [{"role": "user", "parts": "x"}]}, "parts"),
            ({"agentType": "echo", "messages": []}, "last message"),
            (
                {"agentType": "echo", "messages": [{**user, "role": "assistant"}]},
                "last message",
            ),
            (
                {"agentType": "echo", "messages": [{**user, "parts": [{"type": "file"}]}]},
                "no 'url'",
            ),
            ({"agentType": "echo", "messages": [user], "trigger": "resume-stream"}, "trigger"),
            ({"agentType": "echo", "messages": [user], "id": 7}, "id"),
        ]:
            res = await client.post(
                "/chat", content=json.dumps(body), headers={"content-type": "application/json"}
            )
            message = error_of(res, 422, "invalid_request")
            assert needle in message, (body, message)


async def test_agents(make_server: Any) -> None:
    server = await make_server(echo(), talker())
    async with server.client() as client:
        res = await client.post("/chat", json={"agentType": "nope", "message": "x"})
        assert "known: echo, talker" in error_of(res, 422, "unknown_agent")
        res = await client.post("/chat?agent=nope", json={"message": "x"})
        error_of(res, 422, "unknown_agent")
        res = await client.post("/chat?agent=talker", json={"agentType": "echo", "message": "x"})
        error_of(res, 422, "invalid_request")
        # Two agents and none named.
        error_of(await client.post("/chat", json={"message": "x"}), 422, "invalid_request")
        # A session keeps its agent.
        async with client.stream(
            "POST", "/chat", json={"agentType": "echo", "message": "x", "sessionId": "e"}
        ) as res:
            await read_wire(res)
        res = await client.post(
            "/chat", json={"agentType": "talker", "message": "x", "sessionId": "e"}
        )
        error_of(res, 409, "conflict")
        snap = (await client.get("/chat/e")).json()
        assert len(snap["messages"]) == 2  # the refused turn left nothing behind


async def test_invalid_session_ids(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        for bad in ["-x", "a b", "x" * 65, "é", "a.b"]:
            res = await client.post("/chat", json={"message": "x", "sessionId": bad})
            error_of(res, 400, "invalid_id")
            use_chat = {
                "id": bad,
                "messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}],
            }
            error_of(await client.post("/chat", json=use_chat), 400, "invalid_id")
            for method, suffix in SESSION_ROUTES:
                res = await client.request(method, f"/chat/{bad}{suffix}")
                error_of(res, 400, "invalid_id")


async def test_unknown_sessions_are_404_everywhere(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        for method, suffix in SESSION_ROUTES:
            res = await client.request(method, f"/chat/nosuch{suffix}", json={})
            error_of(res, 404, "session_not_found")


async def test_unknown_routes_and_methods(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        for method, path in [
            ("GET", "/nope"),
            ("GET", "/chat/x/y/z"),
            ("POST", "/chat/"),
            ("GET", "/agents/"),
        ]:
            error_of(await client.request(method, path), 404, "not_found")
        for method, path in [
            ("GET", "/chat"),
            ("DELETE", "/chat"),
            ("PUT", "/chat/x"),
            ("POST", "/agents"),
            ("POST", "/health"),
            ("GET", "/chat/x/abort"),
            ("PATCH", "/chat/x/stream"),
        ]:
            res = await client.request(method, path)
            error_of(res, 405, "method_not_allowed")
            assert "allow" in res.headers


async def test_bodies_over_the_limit(make_server: Any) -> None:
    server = await make_server(echo(), max_body_bytes=1000)
    big = {"message": "x" * 2000}
    async with server.client() as client:
        error_of(await client.post("/chat", json=big), 413, "payload_too_large")

        async def chunked() -> AsyncIterator[bytes]:
            yield b'{"message": "'
            for _ in range(100):
                yield b"y" * 100
            yield b'"}'

        # No Content-Length: the body is counted as it arrives.
        res = await client.post(
            "/chat", content=chunked(), headers={"content-type": "application/json"}
        )
        error_of(res, 413, "payload_too_large")
        async with client.stream("POST", "/chat", json={"message": "ok", "sessionId": "lim"}) as r:
            await read_wire(r)
        res = await client.post("/chat/lim/interrupt", json={"reason": "z" * 2000})
        error_of(res, 413, "payload_too_large")
        assert (await client.get("/chat/lim")).json()["status"] == "completed"


async def test_second_run_and_bad_cursors(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=3))
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "one", "sessionId": "busy"}
        ) as r:
            async for _ in sse_blocks(r):
                break
            res = await client.post("/chat", json={"message": "two", "sessionId": "busy"})
            assert "active" in error_of(res, 409, "conflict")
            res = await client.post(
                "/chat",
                json={
                    "id": "busy",
                    "messages": [{"role": "user", "parts": [{"type": "text", "text": "three"}]}],
                },
            )
            error_of(res, 409, "conflict")
            for headers, params in [
                ({"Last-Event-ID": "abc"}, {}),
                ({"Last-Event-ID": "-1"}, {}),
                ({"X-Resume-From-Sequence": "1.5"}, {}),
                ({}, {"from": "1e3"}),
                ({}, {"from": ""}),
            ]:
                res = await client.get("/chat/busy/stream", headers=headers, params=params)
                error_of(res, 400, "invalid_cursor")
            res = await client.post("/chat/busy/resume")
            error_of(res, 409, "conflict")  # running, not interrupted
            snap = (await client.get("/chat/busy")).json()
            assert [m["parts"][0]["text"] for m in snap["messages"]] == ["one"]
            gate.set()
        res = await client.post("/chat/busy/interrupt")
        res2 = await client.post("/chat/busy/abort")
        if res.status_code == 202:
            # The interrupt reached the run before it finished: it ends interrupted, and an
            # abort then stops the waiting run for good (200); or the run completed first,
            # and there is nothing left to abort (409).
            if res2.status_code == 200:
                assert res2.json()["status"] == "aborted"
            else:
                error_of(res2, 409, "conflict")
        else:
            error_of(res, 409, "conflict")
            error_of(res2, 409, "conflict")


async def test_submit_tool_result_validation(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "x", "sessionId": "st"}) as r:
            await read_wire(r)
        for body in [
            {},
            {"toolCallId": "c1"},
            {"approvalId": "a1"},
            {"approved": True},
            {"approvalId": "a1", "approved": True, "output": 1},
            {"toolCallId": "c1", "output": 1, "errorText": "both"},
            {"toolCallId": "c1", "output": 1, "reason": "why"},
            {"toolCallId": 5, "output": 1},
            {"toolCallId": "c1", "approved": "yes"},
            {"toolCallId": "c1", "output": 1, "bogus": True},
            [],
        ]:
            res = await client.post("/chat/st/submit-tool-result", json=body)
            error_of(res, 422, "invalid_request")
        for body in [
            {"toolCallId": "c1", "output": {"ok": True}},
            {"toolCallId": "c1", "errorText": "failed"},
            {"toolCallId": "c1", "output": None},
            {"toolCallId": "c1", "approved": True},
            {"approvalId": "a1", "approved": False, "reason": "no"},
        ]:
            res = await client.post("/chat/st/submit-tool-result", json=body)
            error_of(res, 409, "conflict")


async def test_lone_surrogates_are_refused_and_leave_nothing(make_server: Any) -> None:
    """JSON may escape a lone surrogate (``"\\ud800"``), which is not text: no store can keep
    it. Every body holding one is a 400 and leaves no session behind."""
    server = await make_server(echo())
    headers = {"content-type": "application/json"}
    async with server.client() as client:
        for raw in [
            b'{"message": "a\\ud800b", "sessionId": "sur1"}',
            b'{"message": "hi", "messageId": "\\udfff", "sessionId": "sur2"}',
            b'{"message": "\\uDBFF\\u0041", "sessionId": "sur3"}',
            b'{"id": "sur4", "messages": [{"id": "u1", "role": "user",'
            b' "parts": [{"type": "text", "text": "\\ud800"}]}]}',
        ]:
            res = await client.post("/chat", content=raw, headers=headers)
            assert "surrogate" in error_of(res, 400, "malformed_json")
        for sid in ("sur1", "sur2", "sur3", "sur4"):
            error_of(await client.get(f"/chat/{sid}"), 404, "session_not_found")
        # A pair is one character, escaped or not: accepted.
        raw = b'{"message": "\\ud83d\\ude00 \\\\ud800", "sessionId": "pair"}'
        async with client.stream("POST", "/chat", content=raw, headers=headers) as res:
            wire = await read_wire(res)
        assert res.status_code == 200
        assert wire.chunks[-1] == {"type": "finish", "finishReason": "stop"}
        snap = (await client.get("/chat/pair")).json()
        assert snap["messages"][0]["parts"][0]["text"] == "\U0001f600 \\ud800"
        res = await client.post(
            "/chat/pair/interrupt", content=b'{"reason": "\\ud800"}', headers=headers
        )
        error_of(res, 400, "malformed_json")


async def test_huge_cursors_are_refused(make_server: Any) -> None:
    """A cursor of thousands of digits (past Python's int-from-str limit) is a 400, for a
    known session and an unknown one alike; leading zeros do not make a number large."""
    server = await make_server(echo())
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "x", "sessionId": "cur"}) as r:
            await read_wire(r)
        huge = "9" * 5000
        for sid in ("cur", "nobody"):
            for headers, params in [
                ({"Last-Event-ID": huge}, {}),
                ({"X-Resume-From-Sequence": huge}, {}),
                ({}, {"from": huge}),
            ]:
                res = await client.get(f"/chat/{sid}/stream", headers=headers, params=params)
                message = error_of(res, 400, "invalid_cursor")
                assert len(message) < 400
        res = await client.get("/chat/cur/stream", headers={"Last-Event-ID": "0" * 5000 + "1"})
        assert res.status_code == 200, res.text


async def test_deeply_nested_client_tool_result(make_server: Any) -> None:
    """A client tool's result nested 400 levels deep (within the JSON limit of 512): a 4xx
    that says why, and the call still waits for a proper result, which then settles it."""
    server = await make_server(asker())
    async with server.client() as client:
        async with client.stream("POST", "/chat", json={"message": "x", "sessionId": "deep"}) as r:
            wire = await read_wire(r)
        [call_id] = [c["toolCallId"] for c in wire.chunks if c["type"] == "tool-input-available"]
        for depth in (400, 500):
            nested: Any = 1
            for _ in range(depth):
                nested = [nested]
            body = {"toolCallId": call_id, "output": nested}
            res = await client.post("/chat/deep/submit-tool-result", json=body)
            assert "deep" in error_of(res, 422, "invalid_tool_submission")
            use_chat = {
                "id": "deep",
                "messages": [
                    {
                        "id": "deep-t1",
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool-pick",
                                "toolCallId": call_id,
                                "state": "output-available",
                                "input": {"options": ["a", "b"]},
                                "output": nested,
                            }
                        ],
                    }
                ],
            }
            res = await client.post("/chat", json=use_chat)
            assert 400 <= res.status_code < 500, res.text
        snap = (await client.get("/chat/deep")).json()
        assert snap["status"] == "suspended_client_tool"
        res = await client.post(
            "/chat/deep/submit-tool-result",
            json={"toolCallId": call_id, "output": [[["a"]]]},
            headers={"accept": "text/event-stream"},
        )
        assert res.status_code == 200, res.text
        snap = (await client.get("/chat/deep")).json()
        assert snap["status"] == "completed"
        assert snap["output"] == "picked: success"
