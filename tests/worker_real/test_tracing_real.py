"""Traces on the real Worker: a turn whose sub-agent waits on an approval, over the HTTP
API of a Python Worker in local workerd (Workflows, D1, Durable Objects as wrangler runs
them), exported over the Worker's ``fetch`` to a real OTLP/HTTP receiver on the host, is one
trace: every instance (the parent, the child, both resumes) in it, parents linked, no span
sent twice by the Workflows engine's replays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from helix_agents.tracing.steps import turn_trace_id
from tests.http.agents import boss
from tests.http.harness import read_wire
from tests.http.test_subagents_over_http import chat, forwarded
from tests.support.otlp_receiver import OTLPReceiver, ReceivedSpan

from .harness import RealServers, WorkerPool

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture
async def make_server(
    worker_pool: WorkerPool, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Any]]:
    servers = RealServers(worker_pool, request.node.nodeid)
    try:
        yield servers.make
    finally:
        await servers.close()


async def test_a_turn_on_the_worker_is_one_trace(
    make_server: Callable[..., Any], receiver: OTLPReceiver
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=worker",
        "OTEL_SERVICE_NAME": "helix-worker-tests",
    }
    server = await make_server(boss(), environ=environ)
    session = f"trace-{uuid.uuid4().hex[:10]}"
    async with server.client() as client:
        chunks = await chat(client, "boss", session, "publish it")
        inner = [c["chunk"] for c in forwarded(chunks, "researcher")]
        [request] = [c for c in inner if c["type"] == "tool-approval-request"]
        async with client.stream(
            "POST",
            f"/chat/{session}/submit-tool-result",
            json={"approvalId": request["approvalId"], "approved": True},
            headers={"accept": "text/event-stream"},
        ) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert wire.done
        snap = (await client.get(f"/chat/{session}")).json()
    assert snap["status"] == "completed"

    trace_id = turn_trace_id(session, 1)

    def mine(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.trace_id == trace_id]

    spans = mine(
        await receiver.wait_for(
            lambda all_: len([s for s in mine(all_) if s.name.startswith("invoke_agent")]) >= 4,
            timeout=60,
        )
    )
    assert receiver.rejected == []
    runs = [s for s in spans if s.name.startswith("invoke_agent")]
    assert sorted(
        (s.attributes["gen_ai.agent.name"], s.attributes["helix.resume"]) for s in runs
    ) == [
        ("boss", 0),
        ("boss", 1),
        ("researcher", 0),
        ("researcher", 1),
    ]
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), "a replayed step sent its span again"
    index = {s.span_id: s for s in spans}
    assert [s.name for s in spans if s.parent_id is None] == ["invoke_agent boss"]
    for span in spans:
        assert span.parent_id is None or span.parent_id in index, f"{span.name}: parent lost"
        assert span.resource["service.name"] == "helix-worker-tests"
    run_of = {(s.attributes["gen_ai.agent.name"], s.attributes["helix.resume"]): s for s in runs}
    assert run_of["boss", 1].parent_id == run_of["boss", 0].span_id
    assert run_of["researcher", 1].parent_id == run_of["researcher", 0].span_id
    assert index[run_of["researcher", 0].parent_id or ""].name == "execute_tool ask_researcher"
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 4
    for span in chats:
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert isinstance(span.attributes["gen_ai.usage.input_tokens"], int)
        assert isinstance(span.attributes["gen_ai.usage.output_tokens"], int)
        assert span.attributes["gen_ai.response.finish_reasons"] in (["stop"], ["tool-calls"])
    [publish] = [s for s in spans if s.name == "execute_tool publish"]
    assert index[publish.parent_id or ""].parent_id == run_of["researcher", 1].span_id
    assert any(r.get("x-tenant") == "worker" for r in receiver.requests)

    # A request with a caller's W3C traceparent, through the Worker's fetch handler: the
    # run joins the caller's trace, its run span the caller's span's child (no new root).
    caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    joined = f"joined-{uuid.uuid4().hex[:10]}"
    headers = {"traceparent": f"00-{caller_trace}-{caller_span}-01", "tracestate": "w=1"}
    body = {"agentType": "boss", "message": "publish it", "sessionId": joined}
    async with (
        server.client() as client,
        client.stream("POST", "/chat", json=body, headers=headers) as res,
    ):
        assert res.status_code == 200
        assert (await read_wire(res)).done

    def callers(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.trace_id == caller_trace]

    joined_spans = callers(
        await receiver.wait_for(
            lambda all_: any(s.name == "invoke_agent boss" for s in callers(all_)), timeout=60
        )
    )
    [joined_run] = [s for s in joined_spans if s.name == "invoke_agent boss"]
    assert joined_run.parent_id == caller_span
    assert joined_run.attributes["helix.session.id"] == joined
    assert joined_run.trace_state == "w=1"
    assert all(s.parent_id is not None for s in joined_spans)
