"""Access control: the bearer token, per-user sessions, custom hooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.requests import HTTPConnection
from websockets.asyncio.client import connect

from helix_agents.errors import ConfigurationError
from helix_agents.http import (
    AuthenticationError,
    BearerTokenAuth,
    PermissionDeniedError,
    create_app,
)

from .agents import echo, gated
from .harness import read_wire, sse_blocks

pytestmark = pytest.mark.timeout(60)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_required_everywhere_but_the_public_routes(make_server: Any) -> None:
    server = await make_server(echo(), token="s3cret")
    async with server.client() as client:
        for method, path in [
            ("GET", "/agents"),
            ("POST", "/chat"),
            ("GET", "/chat/abc"),
            ("GET", "/chat/abc/stream"),
            ("POST", "/chat/abc/interrupt"),
            ("POST", "/chat/abc/resume"),
            ("POST", "/chat/abc/abort"),
            ("POST", "/chat/abc/submit-tool-result"),
            ("GET", "/chat/abc/ws"),
        ]:
            res = await client.request(method, path)
            assert res.status_code == 401, (method, path)
            assert res.headers["www-authenticate"] == "Bearer"
            assert res.json()["error"]["code"] == "unauthorized"
            wrong = await client.request(method, path, headers=bearer("s3cre"))
            assert wrong.status_code == 401
            basic = await client.request(method, path, headers={"Authorization": "Basic czM="})
            assert basic.status_code == 401
        for path in ["/health", "/openapi.json", "/"]:
            assert (await client.get(path)).status_code == 200
        assert (await client.get("/agents", headers=bearer("s3cret"))).status_code == 200
        # EventSource cannot set headers: GET requests may carry the token in the query.
        assert (await client.get("/agents?access_token=s3cret")).status_code == 200
        res = await client.post("/chat?access_token=s3cret", json={"message": "x"})
        assert res.status_code == 401
        async with client.stream(
            "POST", "/chat", json={"message": "hi"}, headers=bearer("s3cret")
        ) as res:
            assert res.status_code == 200
            session = res.headers["x-helix-session-id"]
            await read_wire(res)
        assert (await client.get(f"/chat/{session}", headers=bearer("s3cret"))).status_code == 200
    doc = (await server.client().get("/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_the_token_comes_from_the_environment(make_server: Any) -> None:
    server = await make_server(echo(), environ={"HELIX_API_TOKEN": "from-env"})
    async with server.client() as client:
        assert (await client.get("/agents")).status_code == 401
        assert (await client.get("/agents", headers=bearer("from-env"))).status_code == 200


async def test_websockets_need_the_token(make_server: Any) -> None:
    gate = asyncio.Event()
    server = await make_server(gated(gate, words=2), token="tok")
    async with (
        server.client(headers=bearer("tok")) as client,
        client.stream("POST", "/chat", json={"message": "go", "sessionId": "w"}) as r,
    ):
        async for _ in sse_blocks(r):
            break
    async with connect(f"{server.ws_url}/chat/w/ws") as ws:
        frame = json.loads(await ws.recv())
        assert frame["error"]["code"] == "unauthorized"
        await ws.wait_closed()
    assert ws.close_code == 4401
    async with connect(f"{server.ws_url}/chat/w/ws?access_token=tok") as ws:
        assert json.loads(await ws.recv())["seq"] == 1
        gate.set()
    async with connect(f"{server.ws_url}/chat/w/ws", additional_headers=bearer("tok")) as ws:
        frames = [json.loads(m) async for m in ws]
    assert frames[-1]["done"] is True


async def test_sessions_belong_to_their_user(make_server: Any) -> None:
    gate = asyncio.Event()
    tokens = {"tok-alice": "alice", "tok-bob": "bob"}
    server = await make_server(gated(gate, words=3), token=tokens)
    alice, bob = bearer("tok-alice"), bearer("tok-bob")
    async with server.client() as client:
        async with client.stream(
            "POST", "/chat", json={"message": "mine", "sessionId": "alices"}, headers=alice
        ) as res:
            assert res.status_code == 200
            async for _ in sse_blocks(res):
                break
        # Bob: the session does not exist, on every route, whatever he tries.
        for method, path, body in [
            ("GET", "/chat/alices", None),
            ("GET", "/chat/alices/stream", None),
            ("GET", "/chat/alices/ws", None),
            ("POST", "/chat/alices/interrupt", None),
            ("POST", "/chat/alices/abort", {"reason": "mine now"}),
            ("POST", "/chat/alices/resume", None),
            ("POST", "/chat/alices/submit-tool-result", {"toolCallId": "c", "output": 1}),
            ("POST", "/chat", {"message": "hijack", "sessionId": "alices"}),
            (
                "POST",
                "/chat",
                {
                    "id": "alices",
                    "messages": [
                        {"id": "m", "role": "user", "parts": [{"type": "text", "text": "hijack"}]}
                    ],
                },
            ),
        ]:
            res = await client.request(method, path, json=body, headers=bob)
            assert res.status_code == 404, (method, path, res.text)
            assert res.json()["error"]["code"] == "session_not_found"
        async with connect(f"{server.ws_url}/chat/alices/ws", additional_headers=bob) as ws:
            frame = json.loads(await ws.recv())
            await ws.wait_closed()
        assert frame["error"]["code"] == "session_not_found"
        assert ws.close_code == 4404
        # Bob's attempts left Alice's run alone.
        snap = (await client.get("/chat/alices", headers=alice)).json()
        assert snap["status"] == "active"
        assert [m["role"] for m in snap["messages"]] == ["user"]
        gate.set()
        async with client.stream(
            "GET", "/chat/alices/stream", params={"from": "0"}, headers=alice
        ) as res:
            wire = await read_wire(res)
        assert wire.done
        snap = (await client.get("/chat/alices", headers=alice)).json()
        assert snap["status"] == "completed"
        assert [m["parts"][0]["text"] for m in snap["messages"] if m["role"] == "user"] == ["mine"]


async def test_custom_hooks(make_server: Any) -> None:
    async def hook(conn: HTTPConnection) -> str | None:
        await asyncio.sleep(0)
        user = conn.headers.get("x-user")
        if user is None:
            raise AuthenticationError("who are you?")
        if user == "mallory":
            raise PermissionDeniedError("not you")
        return user

    server = await make_server(echo(), auth=hook)
    async with server.client() as client:
        res = await client.get("/agents")
        assert res.status_code == 401
        assert res.json()["error"]["message"] == "who are you?"
        res = await client.get("/agents", headers={"x-user": "mallory"})
        assert res.status_code == 403
        assert res.json()["error"]["code"] == "forbidden"
        assert (await client.get("/agents", headers={"x-user": "carol"})).status_code == 200


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        BearerTokenAuth("")
    with pytest.raises(ConfigurationError):
        BearerTokenAuth({})
    with pytest.raises(ConfigurationError):
        create_app(object(), auth=lambda c: None, token="x", environ={})  # type: ignore[arg-type]
