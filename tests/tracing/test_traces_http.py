"""A caller's W3C trace context on the HTTP API: a run started or resumed by a request with
a valid ``traceparent`` joins the caller's trace, its run span a child of the caller's span
(received by a real OTLP/HTTP receiver, over a real socket); an invalid one is ignored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.agent import AgentRegistry
from helix_agents.hosts.local import LocalHost
from helix_agents.http import create_app
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tracing.propagation import (
    incoming_trace_context,
    parse_tracestate,
    parse_w3c_traceparent,
)
from helix_agents.tracing.steps import turn_trace_id
from tests.http.harness import Server, read_wire, serve_on_loopback
from tests.support.otlp_receiver import OTLPReceiver, ReceivedSpan

pytestmark = pytest.mark.timeout(60)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_SPAN = "b7ad6b7169203331"


def publisher() -> Agent:
    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        return f"published {text}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("publish", text="draft")
        return f"done: {info.tool_results[-1].content}"

    return Agent(name="publisher", tools=[publish], model=FunctionModel(model))


@pytest.fixture
async def server(tmp_path: Path, receiver: OTLPReceiver) -> AsyncIterator[Server]:
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "joined"}
    host = await LocalHost(AgentRegistry([publisher()]), tmp_path / "host", vars=otel).start()
    app = create_app(host, environ={})
    url, uvicorn_server, task = await serve_on_loopback(app)
    served = Server(host, app, url, uvicorn_server, task)
    try:
        yield served
    finally:
        await served.stop()


async def chat(server: Server, session: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    body = {"agentType": "publisher", "message": "publish it", "sessionId": session}
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json=body, headers=headers) as res,
    ):
        assert res.status_code == 200, await res.aread()
        wire = await read_wire(res)
    assert wire.done
    return wire.chunks


def runs_of(spans: list[ReceivedSpan], session: str) -> dict[int, ReceivedSpan]:
    return {
        s.attributes["helix.resume"]: s
        for s in spans
        if s.name.startswith("invoke_agent") and s.attributes["helix.session.id"] == session
    }


async def test_a_chat_request_with_a_traceparent_joins_the_callers_trace(
    server: Server, receiver: OTLPReceiver
) -> None:
    session = f"joined-{uuid.uuid4().hex[:8]}"
    headers = {
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
        "tracestate": "vendor=abc, other=x1",
    }
    chunks = await chat(server, session, headers)
    [request] = [c for c in chunks if c["type"] == "tool-approval-request"]

    spans = await receiver.wait_for(lambda all_: 0 in runs_of(all_, session))
    assert receiver.rejected == []
    run = runs_of(spans, session)[0]
    # The run span is the caller's span's child, in the caller's trace.
    assert run.trace_id == CALLER_TRACE
    assert run.parent_id == CALLER_SPAN
    assert run.trace_state == "vendor=abc,other=x1"
    mine = [s for s in spans if s.trace_id == CALLER_TRACE]
    # No second root: every span of the instance hangs under the run span, the run span
    # under the caller's; nothing went to the trace the turn would have derived.
    assert all(s.parent_id is not None for s in mine)
    assert all(s.trace_state == "vendor=abc,other=x1" for s in mine)
    index = {s.span_id: s for s in mine}
    for span in mine:
        if span is not run:
            assert span.parent_id in index, f"{span.name}: parent lost"
    assert not [s for s in spans if s.trace_id == turn_trace_id(session, 1)]

    # The approval, sent without a traceparent, resumes in the same trace: the suspension
    # kept the instance's span (and its tracestate) in the run's params.
    receiver.reset()
    async with server.client() as client:
        res = await client.post(
            f"/chat/{session}/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
        )
        assert res.status_code == 200, res.text
    spans = await receiver.wait_for(lambda all_: 1 in runs_of(all_, session))
    resumed = runs_of(spans, session)[1]
    assert resumed.trace_id == CALLER_TRACE
    assert resumed.parent_id == run.span_id
    assert resumed.trace_state == "vendor=abc,other=x1"
    assert resumed.attributes["helix.run.status"] == "completed"


async def test_a_submission_with_a_traceparent_joins_its_callers_trace(
    server: Server, receiver: OTLPReceiver
) -> None:
    session = f"resumed-{uuid.uuid4().hex[:8]}"
    chunks = await chat(server, session, {})
    [request] = [c for c in chunks if c["type"] == "tool-approval-request"]
    async with server.client() as client:
        res = await client.post(
            f"/chat/{session}/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"traceparent": f"00-{OTHER_TRACE}-{OTHER_SPAN}-00"},
        )
        assert res.status_code == 200, res.text
        assert res.json()["resumedRunId"] == f"{session}--t1--r1"
    spans = await receiver.wait_for(lambda all_: {0, 1} <= set(runs_of(all_, session)))
    runs = runs_of(spans, session)
    # The first instance: a trace of its own, derived from the turn (no caller).
    assert runs[0].trace_id == turn_trace_id(session, 1)
    assert runs[0].parent_id is None
    # The resume the request started: the caller's span's child.
    assert runs[1].trace_id == OTHER_TRACE
    assert runs[1].parent_id == OTHER_SPAN
    assert runs[1].trace_state == ""
    assert [s for s in spans if s.trace_id == OTHER_TRACE and s.parent_id is None] == []


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # not hex
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # all-zero trace id
        f"00-{CALLER_TRACE}-{'0' * 16}-01",  # all-zero span id
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",  # version ff
        f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",  # uppercase
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 with more fields
        "garbage",
    ],
)
async def test_an_invalid_traceparent_is_ignored(
    server: Server, receiver: OTLPReceiver, traceparent: str
) -> None:
    session = f"invalid-{uuid.uuid4().hex[:8]}"
    await chat(server, session, {"traceparent": traceparent, "tracestate": "vendor=abc"})
    spans = await receiver.wait_for(lambda all_: 0 in runs_of(all_, session))
    run = runs_of(spans, session)[0]
    assert run.trace_id == turn_trace_id(session, 1)
    assert run.parent_id is None
    assert run.trace_state == ""


def test_the_headers_as_the_w3c_recommendation_reads_them() -> None:
    valid = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    assert parse_w3c_traceparent(valid) == valid
    assert parse_w3c_traceparent(f" {valid} ") == valid
    # A later version is read by its first four fields.
    assert parse_w3c_traceparent(f"01-{CALLER_TRACE}-{CALLER_SPAN}-03-more") == (
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-03"
    )
    assert parse_w3c_traceparent(None) is None
    assert parse_w3c_traceparent(f"00-{CALLER_TRACE}-{CALLER_SPAN}-1") is None
    assert parse_tracestate("a=1,b@sys=2, ,c=x y") == "a=1,b@sys=2,c=x y"
    assert parse_tracestate("a=1,a=2") is None  # duplicate key
    assert parse_tracestate("A=1") is None  # keys are lowercase
    assert parse_tracestate("a=") is None  # a value is not empty
    assert parse_tracestate("a=b=c") is None  # '=' is not a value character
    assert parse_tracestate(",".join(f"k{i}=v" for i in range(33))) is None
    assert parse_tracestate("k=" + "v" * 600) is None
    # A tracestate counts only beside a valid traceparent.
    assert incoming_trace_context({"tracestate": "a=1"}) is None
    context = incoming_trace_context({"traceparent": valid, "tracestate": "A=1"})
    assert context is not None
    assert context.tracestate is None
