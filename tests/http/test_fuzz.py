"""Hypothesis against the live server: methods, paths, headers and bodies, good and bad.
No request may produce a 5xx, every status must be one /openapi.json documents for the
route, every error must have the documented shape, and the server must log no error."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .agents import echo, talker
from .harness import Server, start_server
from .openapi_check import check_response

pytestmark = pytest.mark.timeout(300)


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Live:
    def __init__(self, url: str, doc: dict[str, Any], errors: ErrorLog) -> None:
        self.url, self.doc, self.errors = url, doc, errors

    def __repr__(self) -> str:
        return f"Live({self.url})"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The server runs in its own thread and event loop, so the (synchronous) hypothesis
    test can drive it with a plain client."""
    errors = ErrorLog()
    for name in ("uvicorn.error", "uvicorn.asgi", "helix_agents"):
        logging.getLogger(name).addHandler(errors)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        server: Server = await start_server(
            tmp_path_factory.mktemp("fuzz"), echo(), talker(), max_body_bytes=4096, keep_alive=0.5
        )
        box["server"] = server
        box["loop"] = asyncio.get_running_loop()
        async with server.client() as client:
            for sid in ("known", "other"):
                async with client.stream(
                    "POST", "/chat", json={"agentType": "echo", "message": "hi", "sessionId": sid}
                ) as r:
                    await r.aread()
            box["doc"] = (await client.get("/openapi.json")).json()
        box["stop"] = asyncio.Event()
        ready.set()
        await box["stop"].wait()
        await server.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield Live(box["server"].url, box["doc"], errors)
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(30)
    for name in ("uvicorn.error", "uvicorn.asgi", "helix_agents"):
        logging.getLogger(name).removeHandler(errors)


SESSION_IDS = st.one_of(
    st.sampled_from(["known", "other", "nosuch", "-bad", "a" * 64, "a" * 65, "x_y-z"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=70),
)
SUFFIXES = st.sampled_from(
    ["", "/stream", "/ws", "/interrupt", "/resume", "/abort", "/submit-tool-result", "/x"]
)
PATHS = st.one_of(
    st.sampled_from(
        [
            "/",
            "/chat",
            "/chat/",
            "/agents",
            "/health",
            "/openapi.json",
            "/nope",
            "//",
            "/chat//stream",
        ]
    ),
    st.builds(lambda s, suffix: f"/chat/{quote(s, safe='')}{suffix}", SESSION_IDS, SUFFIXES),
)
KEYS = st.sampled_from(
    [
        "message",
        "messages",
        "agentType",
        "sessionId",
        "id",
        "trigger",
        "messageId",
        "role",
        "parts",
        "type",
        "text",
        "toolCallId",
        "approvalId",
        "approved",
        "output",
        "errorText",
        "reason",
        "supersede",
        "from",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "echo",
            "talker",
            "nope",
            "known",
            "user",
            "assistant",
            "text",
            "submit-message",
            "regenerate-message",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=20,
)
UI_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "robot"])},
    optional={
        "id": st.text(max_size=10),
        "parts": st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["text", "file", "tool-x"])}, optional={"text": SCALARS}
            ),
            max_size=3,
        ),
    },
)
GOOD_CHAT = st.fixed_dictionaries(
    {"agentType": st.sampled_from(["echo", "talker"]), "message": st.text(min_size=1, max_size=20)},
    optional={"sessionId": st.sampled_from(["known", "other", "fresh1", "fresh2"])},
).map(lambda v: json.dumps(v).encode())
BODIES = st.one_of(
    GOOD_CHAT,
    GOOD_CHAT,
    st.none(),
    st.binary(max_size=64),
    st.binary(min_size=4097, max_size=5000),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"message": SCALARS},
        optional={"agentType": SCALARS, "sessionId": SESSION_IDS, "supersede": SCALARS},
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"messages": st.lists(UI_MESSAGE, max_size=3)},
        optional={"id": SESSION_IDS, "trigger": SCALARS, "agentType": SCALARS},
    ).map(lambda v: json.dumps(v).encode()),
    # JSON-RPC for /mcp (http/mcp.py): its methods, with arguments good and bad.
    st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "1.0"])},
        optional={
            "id": st.one_of(st.integers(), st.text(max_size=5), st.none()),
            "method": st.sampled_from(
                ["initialize", "ping", "tools/list", "tools/call", "notifications/initialized"]
            )
            | SCALARS,
            "params": st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["echo", "nope"]) | SCALARS,
                    "arguments": st.fixed_dictionaries(
                        {}, optional={"message": SCALARS, "sessionId": SESSION_IDS | SCALARS}
                    )
                    | SCALARS,
                    "protocolVersion": SCALARS,
                },
            )
            | SCALARS,
        },
    ).map(lambda v: json.dumps(v).encode()),
)
HEADER_VALUES = st.one_of(
    st.sampled_from(["0", "1", "3", "999", "-1", "abc", "2 ", "1.5", ""]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
).map(str.strip)  # the client refuses to send header values with outer spaces
# Mostly JSON, so that POSTs get past the content-type check (415); "" sends none.
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 4
    + ["application/json; charset=utf-8", "application/problem+json", "text/plain"]
    + ["multipart/form-data", "application/x-www-form-urlencoded", ""]
)
ORIGINS = st.sampled_from(["http://evil.example", "null", "http://127.0.0.1:1"])
HEADERS = st.fixed_dictionaries(
    {"Content-Type": CONTENT_TYPES},
    optional={
        "Last-Event-ID": HEADER_VALUES,
        "X-Resume-From-Sequence": HEADER_VALUES,
        "Authorization": st.sampled_from(["Bearer x", "Basic y", "Bearer", ""]),
        "Accept": st.sampled_from(["text/event-stream", "application/json", "*/*"]),
        "Origin": ORIGINS,
    },
).map(lambda h: {k: v for k, v in h.items() if v != "" or k != "Content-Type"})
QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "from": HEADER_VALUES,
        "agent": SCALARS.map(str),
        "access_token": st.text(max_size=5),
    },
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
# Mostly the API's own routes with the right method, so requests get past routing and
# exercise validation, auth, sessions and runs; sometimes anything at all.
ROUTES = st.one_of(
    st.tuples(st.just("POST"), st.sampled_from(["/chat", "/chat", "/mcp"])),
    st.tuples(st.just("GET"), st.sampled_from(["/agents", "/health", "/openapi.json", "/"])),
    st.tuples(
        st.just("GET"),
        st.builds(
            lambda s, x: f"/chat/{quote(s, safe='')}{x}",
            SESSION_IDS,
            st.sampled_from(["", "/stream", "/ws"]),
        ),
    ),
    st.tuples(
        st.just("POST"),
        st.builds(
            lambda s, x: f"/chat/{quote(s, safe='')}{x}",
            SESSION_IDS,
            st.sampled_from(["/interrupt", "/resume", "/abort", "/submit-tool-result"]),
        ),
    ),
)
REQUESTS = st.one_of(ROUTES, ROUTES, ROUTES, st.tuples(METHODS, PATHS))


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(route=REQUESTS, headers=HEADERS, query=QUERIES, body=BODIES)
def test_no_request_gets_a_server_error(
    live: Live,
    route: tuple[str, str],
    headers: dict[str, str],
    query: dict[str, str],
    body: bytes | None,
) -> None:
    url, doc, errors = live.url, live.doc, live.errors
    method, path = route
    with httpx.Client(base_url=url, timeout=30) as client:
        request = client.build_request(method, path, params=query, headers=headers, content=body)
        response = client.send(request)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    check_response(doc, method, request.url.path, response.status_code, response.content)
    assert not errors.records, [r.getMessage() for r in errors.records]
