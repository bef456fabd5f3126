"""Traces of runs on the real local host, received by a real OTLP/HTTP receiver: a turn
whose sub-agent waits on an approval, resumed, is one trace with every parent link right."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.chunks import ToolApprovalRequestChunk
from helix_agents.state import RunStatus
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tracing.steps import turn_trace_id
from tests.hitl._helpers import collect, text_of
from tests.support.otlp_receiver import OTLPReceiver, ReceivedSpan

pytestmark = pytest.mark.timeout(60)


def otel_vars(receiver: OTLPReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=helix%20tests,authorization=Bearer t0k",
        "OTEL_SERVICE_NAME": "traced-tests",
    }


def agents(executions: list[str]) -> Agent:
    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        executions.append(text)
        return f"published {text}"

    def child(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("publish", text="draft")
        return f"child: {info.tool_results[-1].content}"

    researcher = Agent(name="researcher", tools=[publish], model=FunctionModel(child))

    def lead(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_researcher", message="write it")
        return "report: " + str(info.tool_results[-1].content)

    return Agent(name="boss", tools=[subagent_tool(researcher)], model=FunctionModel(lead))


def by_name(spans: list[ReceivedSpan], prefix: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


async def test_a_turn_with_a_sub_agent_and_an_approval_is_one_trace(
    make_host: Callable[..., Any], receiver: OTLPReceiver
) -> None:
    executions: list[str] = []
    host = await make_host(agents(executions), vars=otel_vars(receiver))
    handle = await host.executor.execute("boss", "publish something", user_id="u")
    chunks = await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    [request] = [c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk)]
    submission = await host.executor.submit_tool_result(
        handle.session_id,
        tool_call_id=request.tool_call_id,
        approved=True,
        approval_id=request.approval_id,
        user_id="u",
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    chunks = await collect(resumed)
    assert (await resumed.result()).status == RunStatus.COMPLETED
    assert text_of(chunks) == "report: child: published draft"
    assert executions == ["draft"]

    def complete(spans: list[ReceivedSpan]) -> bool:
        return len(by_name(spans, "invoke_agent")) >= 4

    spans = await receiver.wait_for(complete)
    assert receiver.rejected == []
    runs = by_name(spans, "invoke_agent")
    assert sorted(
        (s.attributes["gen_ai.agent.name"], s.attributes["helix.resume"]) for s in runs
    ) == [
        ("boss", 0),
        ("boss", 1),
        ("researcher", 0),
        ("researcher", 1),
    ]

    # One trace: the turn's, derived from the root session's first instance.
    assert {s.trace_id for s in spans} == {turn_trace_id(handle.session_id, 1)}
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), "no span is exported twice"
    index = {s.span_id: s for s in spans}
    roots = [s for s in spans if s.parent_id is None]
    assert [r.name for r in roots] == ["invoke_agent boss"]
    assert roots[0].attributes["helix.resume"] == 0
    for span in spans:
        assert span.parent_id is None or span.parent_id in index, f"{span.name}: parent lost"

    def ancestors(span: ReceivedSpan) -> list[str]:
        names = []
        while span.parent_id is not None:
            span = index[span.parent_id]
            names.append(span.name)
        return names

    run_of = {(s.attributes["gen_ai.agent.name"], s.attributes["helix.resume"]): s for s in runs}
    # Resumes continue their instance's span; the child hangs under the parent's call.
    assert run_of["boss", 1].parent_id == run_of["boss", 0].span_id
    assert run_of["researcher", 1].parent_id == run_of["researcher", 0].span_id
    delegate = index[run_of["researcher", 0].parent_id or ""]
    assert delegate.name == "execute_tool ask_researcher"
    assert delegate.attributes["gen_ai.tool.call.id"]
    assert index[delegate.parent_id or ""].name.startswith("turn-1/step-01/tool/")
    assert index[delegate.parent_id or ""].parent_id == run_of["boss", 0].span_id

    # Model requests: GenAI attributes, under their model step.
    chats = by_name(spans, "chat ")
    assert len(chats) == 4  # boss twice, researcher twice
    for chat in chats:
        a = chat.attributes
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.request.model"]
        assert isinstance(a["gen_ai.usage.input_tokens"], int)
        assert isinstance(a["gen_ai.usage.output_tokens"], int)
        assert a["gen_ai.response.finish_reasons"] in (["stop"], ["tool-calls"])
        assert chat.kind == 3  # CLIENT
        assert index[chat.parent_id or ""].name.endswith("/model")
    # The approved tool call ran in the child's resume.
    [publish] = by_name(spans, "execute_tool publish")
    assert publish.attributes["gen_ai.tool.name"] == "publish"
    assert run_of["researcher", 1].name in ancestors(publish)
    assert run_of["researcher", 1].span_id in {index[publish.parent_id or ""].parent_id}
    # Every span ends after it starts; the resource names the service.
    for span in spans:
        assert span.end_ns >= span.start_ns
        assert span.resource["service.name"] == "traced-tests"
    assert all(r["x-tenant"] == "helix tests" for r in receiver.requests)
    assert all(r["authorization"] == "Bearer t0k" for r in receiver.requests)


async def test_no_endpoint_no_tracing(
    make_host: Callable[..., Any], receiver: OTLPReceiver
) -> None:
    executions: list[str] = []
    host = await make_host(agents(executions), vars={"OTEL_SERVICE_NAME": "x"})
    assert host.executor is not None
    handle = await host.executor.execute("boss", "publish something")
    await collect(handle)
    assert (await handle.result()).status == RunStatus.SUSPENDED_AWAITING_CHILDREN
    state = await handle.get_state()
    assert state.suspension_context is not None
    assert state.suspension_context.tracing_context is None
    assert receiver.spans == []


async def test_disabled_sdk_exports_nothing(
    make_host: Callable[..., Any], receiver: OTLPReceiver
) -> None:
    host = await make_host(agents([]), vars={**otel_vars(receiver), "OTEL_SDK_DISABLED": "true"})
    handle = await host.executor.execute("boss", "publish something")
    await collect(handle)
    await handle.result()
    assert receiver.spans == []
