"""CORS preflights over real sockets: a refusal is a JSON 403 in the API's error shape and
carries no CORS grant; an allowed one is untouched; with CORS off a preflight is just an
OPTIONS request, answered 405 like any method a route does not take. (The allowed flow
itself is in test_chat_stream.py.) Collected again against the Cloudflare host by
tests/cloudflare/test_http_parity.py."""

from __future__ import annotations

from typing import Any

import pytest

from .agents import echo

pytestmark = pytest.mark.timeout(60)

APP = "http://app.example"


def preflight(origin: str, method: str = "POST", headers: str | None = None) -> dict[str, str]:
    out = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        out["access-control-request-headers"] = headers
    return out


def assert_refused(response: Any, message: str) -> None:
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": {"code": "cors_refused", "message": message}}
    # Nothing a browser could take for a grant; caches are told the answer varies.
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert "origin" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    ("request_headers", "message"),
    [
        (
            preflight("http://evil.example"),
            "CORS preflight refused: origin 'http://evil.example' is not allowed",
        ),
        (preflight(APP, "PUT"), "CORS preflight refused: method 'PUT' is not allowed"),
        (
            preflight(APP, headers="Content-Type, X-Custom, x-other"),
            "CORS preflight refused: request headers x-custom, x-other are not allowed",
        ),
        (
            preflight("null", "DELETE", "x-custom"),
            "CORS preflight refused: origin 'null' is not allowed; method 'DELETE' is not "
            "allowed; request headers x-custom are not allowed",
        ),
    ],
)
async def test_a_refused_preflight_is_a_json_403(
    make_server: Any, request_headers: dict[str, str], message: str
) -> None:
    server = await make_server(echo(), cors_origins=[APP])
    async with server.client() as client:
        for path in ("/chat", "/chat/some-session/stream", "/no-such-route"):
            assert_refused(await client.options(path, headers=request_headers), message)


async def test_an_allowed_preflight_is_untouched(make_server: Any) -> None:
    server = await make_server(echo(), cors_origins=[APP])
    async with server.client() as client:
        response = await client.options(
            "/chat/s1/submit-tool-result", headers=preflight(APP, headers="authorization")
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    assert "authorization" in response.headers["access-control-allow-headers"]


async def test_simple_requests_from_a_refused_origin_get_no_grant(make_server: Any) -> None:
    server = await make_server(echo(), cors_origins=[APP])
    async with server.client() as client:
        response = await client.get("/agents", headers={"origin": "http://evil.example"})
    # The API answers (CORS is the browser's to enforce); it just grants nothing.
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_with_cors_off_a_preflight_is_a_json_405(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        response = await client.options("/chat", headers=preflight(APP))
    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "code": "method_not_allowed",
            "message": "method OPTIONS is not allowed on /chat",
        }
    }
    assert not [h for h in response.headers if h.startswith("access-control-")]


@pytest.mark.parametrize("cors", [False, True])
async def test_the_openapi_document_says_how_preflights_are_answered(
    make_server: Any, cors: bool
) -> None:
    from openapi_spec_validator import validate

    server = await make_server(echo(), cors_origins=[APP] if cors else [])
    async with server.client() as client:
        doc = (await client.get("/openapi.json")).json()
    validate(doc)
    assert ("`cors_refused`" in doc["info"]["description"]) is cors
