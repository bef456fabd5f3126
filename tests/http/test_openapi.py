"""/openapi.json: a valid OpenAPI 3.1 document that lists exactly the app's routes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route, WebSocketRoute

from helix_agents.examples import example_registry
from helix_agents.http import create_app
from helix_agents.models.demo import DemoModel

from .agents import analyst, asker, echo, gated, gated_bank, locator, tool_then_gate
from .harness import read_wire, sse_blocks
from .openapi_check import check_response, check_ui_chunks, operation

pytestmark = pytest.mark.timeout(60)


def routes_of(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        path = re.sub(r"\{session_id\}", "{sessionId}", route.path)
        if isinstance(route, WebSocketRoute):
            out.add((path, "get"))
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((path, method.lower()))
    return out


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    }


@pytest.mark.parametrize("authenticated", [False, True])
@pytest.mark.parametrize("page", [False, True])
async def test_the_document_is_valid_and_lists_every_route(
    make_server: Any, authenticated: bool, page: bool
) -> None:
    kwargs: dict[str, Any] = {"chat_page_enabled": page}
    if authenticated:
        kwargs["token"] = "t"
    server = await make_server(echo(), **kwargs)
    async with server.client() as client:
        res = await client.get("/openapi.json")
    assert res.status_code == 200
    doc = res.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert documented(doc) == routes_of(server.app)
    assert ("/", "get") in documented(doc) if page else ("/", "get") not in documented(doc)
    statuses = {
        s
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "responses" in op
        for s in op["responses"]
    }
    assert ("401" in statuses) is authenticated
    assert not any(s.startswith("5") for s in statuses)  # nothing documents a server error


def test_every_operation_documents_its_errors_with_the_error_schema() -> None:
    from helix_agents.http.openapi import openapi_document

    doc = openapi_document(authenticated=True, chat_page=True, version="x")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)


def test_the_app_is_built_without_io_beyond_its_own_package() -> None:
    # create_app reads the chat page from the package and nothing else: an executor is
    # looked up on each request, so an unstarted host is fine here.
    class NotStarted:
        pass

    app = create_app(NotStarted(), environ={})  # type: ignore[arg-type]
    assert app.state.chat_page.startswith("<!doctype html>")


# -- every documented response schema against real responses ----------------------------------


class Checked:
    """An HTTP client whose every JSON response is checked against the document: its status
    is documented for the route, and its body validates against the documented schema."""

    def __init__(self, server: Any, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.seen: set[tuple[str, str, int]] = set()
        # The real Worker's suites serve each configuration under a path of its own.
        self.base = httpx.URL(server.url).path.rstrip("/")
        self.http = server.client(event_hooks={"response": [self._check]})

    async def _check(self, response: httpx.Response) -> None:
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        await response.aread()
        method, path = response.request.method, response.request.url.path
        assert path.startswith(self.base), (path, self.base)
        path = path[len(self.base) :]
        check_response(self.doc, method, path, response.status_code, response.content)
        found = operation(self.doc, method, path)
        if found is not None:  # else a 404 or 405, checked above
            self.seen.add((method.lower(), found[0], response.status_code))

    async def stream(self, method: str, url: str, **kwargs: Any) -> list[dict[str, Any]]:
        """A whole SSE response's UI chunks, each checked against ``UIChunk``."""
        async with self.http.stream(method, url, **kwargs) as res:
            assert res.status_code == 200, await res.aread()
            wire = await read_wire(res)
        assert wire.done
        check_ui_chunks(self.doc, wire.chunks)
        return wire.chunks


async def chunks_until_text(blocks: Any, *, stop: bool = True) -> list[dict[str, Any]]:
    """The UI chunks of an SSE response up to its first text delta (or, without ``stop``,
    to its end)."""
    chunks: list[dict[str, Any]] = []
    async for item in blocks:
        if isinstance(item, str) or not isinstance(item.data, dict):
            continue
        chunks.append(item.data)
        if stop and item.data["type"] == "text-delta":
            break
    return chunks


async def test_real_responses_validate_against_their_documented_schemas(make_server: Any) -> None:
    # Every JSON response the API documents, produced for real and validated against the
    # document's schema (generated from the models the handlers build them with), and every
    # UI chunk of every stream against UIChunk: a handler that drifts from its model, or a
    # model from the document, fails here.
    gate, bank_gate = asyncio.Event(), asyncio.Event()
    [planner] = [a for a in example_registry(DemoModel()) if a.name == "planner"]
    server = await make_server(
        echo(),
        tool_then_gate(gate),
        gated(asyncio.Event()),
        gated_bank(bank_gate, []),
        asker(),
        locator(),
        planner,  # a structured output: the snapshot's output, a data-output part
        analyst(),  # a sub-agent: data-subagent parts, the child's chunks as transient ones
        token="t",
    )
    async with server.client() as raw:
        doc = (await raw.get("/openapi.json")).json()
    checked = Checked(server, doc)
    auth = {"authorization": "Bearer t"}
    async with checked.http as http:
        http.headers.update(auth)
        for path in ("/health", "/agents", "/openapi.json", "/nowhere"):
            await http.get(path)
        await http.get("/agents", headers={"authorization": "Bearer wrong"})

        # Completed runs, one with a structured output (the snapshot's output, data-output).
        await checked.stream(
            "POST", "/chat", json={"agentType": "echo", "message": "hi", "sessionId": "e1"}
        )
        await http.get("/chat/e1")
        await checked.stream(
            "POST",
            "/chat",
            json={"agentType": "planner", "message": "plan a trip", "sessionId": "f1"},
        )
        chunks = await checked.stream(
            "POST", "/chat", json={"agentType": "analyst", "message": "one", "sessionId": "s1"}
        )
        assert any(c["type"] == "data-subagent-chunk" and c["transient"] for c in chunks)
        await http.get("/chat/s1")
        await http.get("/chat/s1?limit=2")
        await http.get("/chat/s1?limit=0")  # 400
        await http.get("/sessions/s1/messages?limit=2")
        await http.get("/sessions/s1/messages?after=0&limit=1")
        await http.get("/sessions/s1/runs")
        snap = (await http.get("/chat/f1")).json()
        assert snap["output"] is not None
        assert any(p["type"] == "data-output" for p in snap["messages"][-1]["parts"])

        # An active run: the snapshot's activeRun; interrupt (202), resume as JSON (202).
        async with http.stream(
            "POST", "/chat", json={"agentType": "steps", "message": "go", "sessionId": "g1"}
        ) as res:
            blocks = sse_blocks(res)
            chunks = await chunks_until_text(blocks)
            active = (await http.get("/chat/g1")).json()
            assert active["activeRun"] is not None
            assert (await http.post("/chat/g1/interrupt", json={"reason": "r"})).status_code == 202
            gate.set()
            chunks += await chunks_until_text(blocks, stop=False)
        check_ui_chunks(doc, chunks)
        await http.post("/chat/g1/interrupt")  # 409: no run is active
        await http.get("/chat/g1")
        assert (await http.post("/chat/g1/resume")).status_code == 202

        # Abort (200) an active run.
        async with http.stream(
            "POST", "/chat", json={"agentType": "gated", "message": "go", "sessionId": "h1"}
        ) as res:
            blocks = sse_blocks(res)
            chunks = await chunks_until_text(blocks)
            assert (await http.post("/chat/h1/abort", json={})).status_code == 200
            chunks += await chunks_until_text(blocks, stop=False)
        check_ui_chunks(doc, chunks)
        await http.get("/chat/h1")

        # An approval: requested, then decided by id (a SubmissionResult that resumed the
        # run), the resumed run active with the decision in the snapshot.
        chunks = await checked.stream(
            "POST", "/chat", json={"agentType": "gated_bank", "message": "pay", "sessionId": "b1"}
        )
        [request] = [c for c in chunks if c["type"] == "tool-approval-request"]
        assert (await http.get("/chat/b1")).json()["status"] == "suspended_client_tool"
        decided = await http.post(
            "/chat/b1/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
        )
        assert decided.json()["resumedRunId"] is not None
        await http.get("/chat/b1")
        async with http.stream("GET", "/chat/b1/stream") as res:
            assert res.status_code == 200
            bank_gate.set()
            wire = await read_wire(res)
        assert wire.done
        check_ui_chunks(doc, wire.chunks)
        await http.post("/chat/b1/submit-tool-result", json={"toolCallId": "nope", "output": 1})

        # A client tool's result.
        chunks = await checked.stream(
            "POST", "/chat", json={"agentType": "asker", "message": "pick", "sessionId": "a1"}
        )
        [call] = [c for c in chunks if c["type"] == "tool-input-available"]
        await http.post(
            "/chat/a1/submit-tool-result", json={"toolCallId": call["toolCallId"], "output": "a"}
        )

        # A useChat post answering one of two client calls: 202, the other still waits.
        await checked.stream(
            "POST", "/chat", json={"agentType": "locator", "message": "both", "sessionId": "l1"}
        )
        messages = (await http.get("/chat/l1")).json()["messages"]
        question = next(p for p in messages[-1]["parts"] if p["type"] == "tool-confirm")
        question.update(state="output-available", output={"ok": True})
        waiting = await http.post("/chat", json={"id": "l1", "messages": messages})
        assert waiting.status_code == 202

        # The sessions list (completed, suspended and interrupted sessions by now).
        listed = (await http.get("/sessions")).json()["sessions"]
        assert {"waitingFor": "tool-result"}.items() <= next(
            s for s in listed if s["sessionId"] == "l1"
        ).items()

        # Schedules: made (201), listed, inspected, cancelled; refusals.
        made = await http.post(
            "/schedules", json={"agent": "echo", "message": "later", "delaySeconds": 600}
        )
        assert made.status_code == 201
        schedule_id = made.json()["scheduleId"]
        await http.get("/schedules")
        await http.get(f"/schedules/{schedule_id}")
        assert (await http.delete(f"/schedules/{schedule_id}")).status_code == 200
        await http.get("/schedules/missing")
        await http.post("/schedules", json={"agent": "echo", "message": "when?"})

        # State and checkpoints (docs/checkpoints.md): read, edited, listed, forked, rewound.
        await http.get("/sessions/e1/state")
        assert (await http.put("/sessions/e1/state", json={"k": 1})).status_code == 200
        points = (await http.get("/sessions/e1/checkpoints")).json()["checkpoints"]
        end = points[-1]["sequence"]
        forked = await http.post("/sessions/e1/fork", json={"checkpoint": end})
        assert forked.status_code == 201
        rewound = await http.post("/sessions/e1/rewind", json={"checkpoint": end})
        assert rewound.status_code == 200
        await http.post("/sessions/e1/rewind", json={"checkpoint": end + 5})

        # The agents as MCP tools (tests/mcp_protocol/ covers the protocol).
        await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})

        # Refusals: every one an Error.
        await http.get("/chat/-bad")
        await http.get("/chat/missing")
        await http.post("/chat", json={"message": 5})
        await http.post("/chat", content=b"{", headers={"content-type": "application/json"})
        await http.delete("/chat/e1")

    documented = {
        (method, path, int(status))
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
        for status, response in op.get("responses", {}).items()
        if int(status) < 400 and "application/json" in response.get("content", {})
    }
    # Every documented JSON success was met for real (and checked above).
    assert documented - checked.seen == set(), documented - checked.seen
