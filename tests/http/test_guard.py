"""Other web pages cannot drive the API: a POST must be JSON (a cross-site ``text/plain`` or
form POST needs no CORS preflight, so a browser sends it from any page), and a POST or a
WebSocket from a page of another origin than the server's own or the CORS policy's is
refused. The server's own pages (the chat page) and non-browser clients are untouched.
Collected again against the Cloudflare host (tests/cloudflare/test_http_parity.py) and the
real Worker (tests/worker_real/test_http_suites.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect

from tests.support.agents import bank

from .agents import echo
from .harness import read_wire

pytestmark = pytest.mark.timeout(60)

EVIL = "http://evil.example"
APP = "http://app.example"
JSON = {"content-type": "application/json"}


def origin_of(server: Any) -> str:
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{parts.netloc}"


def assert_error(res: Any, status: int, code: str) -> str:
    assert res.status_code == status, (res.status_code, res.text)
    assert res.headers["content-type"] == "application/json"
    body = res.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,  # a body without a declared type
    ],
)
async def test_a_post_must_be_json(make_server: Any, content_type: str | None) -> None:
    """What a cross-site page can send without a preflight starts nothing and decides
    nothing; the message says what to send."""
    executed: list[int] = []
    server = await make_server(echo(), bank(executed))
    headers = {} if content_type is None else {"content-type": content_type}
    async with server.client() as client:
        body = json.dumps({"agentType": "echo", "message": "hi", "sessionId": "csrf"})
        res = await client.post("/chat", content=body, headers=headers)
        message = assert_error(res, 415, "unsupported_media_type")
        assert "Content-Type: application/json" in message
        assert (await client.get("/chat/csrf")).status_code == 404  # nothing started
        # A pending approval is not decided by such a post either.
        async with client.stream(
            "POST", "/chat", json={"agentType": "bank", "message": "pay", "sessionId": "pay"}
        ) as r:
            wire = await read_wire(r)
        request = next(c for c in wire.chunks if c["type"] == "tool-approval-request")
        decision = json.dumps({"approvalId": request["approvalId"], "approved": True})
        for path in ("/chat/pay/submit-tool-result", "/chat/pay/abort", "/chat/pay/interrupt"):
            res = await client.post(path, content=decision, headers=headers)
            assert_error(res, 415, "unsupported_media_type")
        snap = (await client.get("/chat/pay")).json()
        assert snap["status"] == "suspended_client_tool"
        assert executed == []
        # The same decision as JSON goes through.
        res = await client.post("/chat/pay/submit-tool-result", content=decision, headers=JSON)
        assert res.status_code == 200, res.text
        handle = await server.host.executor.get_handle("pay")
        assert handle is not None
        assert (await handle.result()).status == "completed"
        assert executed == [100]


async def test_json_posts_and_bodyless_posts_pass(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        for content_type in ("application/json", "application/json; charset=utf-8"):
            body = json.dumps({"message": "hi", "sessionId": "ok"})
            async with client.stream(
                "POST", "/chat", content=body, headers={"content-type": content_type}
            ) as res:
                assert res.status_code == 200
                assert (await read_wire(res)).done
        # No body and no type (curl -X POST, the chat page's buttons): the route answers.
        res = await client.post("/chat/ok/interrupt")
        assert_error(res, 409, "conflict")
        # A declared non-JSON type is refused even without a body.
        res = await client.post("/chat/ok/interrupt", headers={"content-type": "text/plain"})
        assert_error(res, 415, "unsupported_media_type")


async def test_posts_from_other_origins_are_refused(make_server: Any) -> None:
    server = await make_server(echo(), cors_origins=[APP])
    own = origin_of(server)
    async with server.client() as client:
        for origin in (EVIL, "null", own.replace("http://", "https://") + "0"):
            res = await client.post(
                "/chat",
                json={"message": "hi", "sessionId": "x"},
                headers={"origin": origin},
            )
            message = assert_error(res, 403, "origin_refused")
            assert repr(origin) in message
            assert "CORS" in message
        assert (await client.get("/chat/x")).status_code == 404
        # The server's own pages (the chat page) and the CORS policy's origins may post.
        for origin, session in ((own, "own"), (APP, "app")):
            async with client.stream(
                "POST",
                "/chat",
                json={"message": "hi", "sessionId": session},
                headers={"origin": origin},
            ) as res:
                assert res.status_code == 200, origin
                assert (await read_wire(res)).done
        res = await client.post("/chat/own/abort", headers={"origin": EVIL})
        assert_error(res, 403, "origin_refused")
        res = await client.post("/chat/own/abort", headers={"origin": own})
        assert_error(res, 409, "conflict")  # past the check: nothing to abort


@pytest.mark.parametrize("cors", [False, True])
async def test_websockets_from_other_origins_are_refused(make_server: Any, cors: bool) -> None:
    server = await make_server(echo(), cors_origins=[APP] if cors else [])
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json={"message": "hi", "sessionId": "ws"}) as res,
    ):
        await read_wire(res)
    url = f"{server.ws_url}/chat/ws/ws?from=0"
    async with connect(url, additional_headers={"origin": EVIL}) as ws:
        frame = json.loads(await ws.recv())
        await ws.wait_closed()
    assert frame["error"]["code"] == "origin_refused"
    assert repr(EVIL) in frame["error"]["message"]
    assert ws.close_code == 4403
    allowed = [origin_of(server)] + ([APP] if cors else [])
    for origin in allowed:
        async with connect(url, additional_headers={"origin": origin}) as ws:
            frames = [json.loads(m) async for m in ws]
        assert "error" not in frames[0], frames
        assert frames[-1]["done"] is True
    if not cors:
        async with connect(url, additional_headers={"origin": APP}) as ws:
            frame = json.loads(await ws.recv())
        assert frame["error"]["code"] == "origin_refused"
