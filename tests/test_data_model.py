"""Exact JSON round trips of every persisted or streamed model.

Each model has a minimal and a fully populated example; a JSON round trip (and a dict round
trip) gives back an equal model and the same JSON text, keys are camelCase, ``None`` fields
are left out, and unknown keys are refused.
"""

from __future__ import annotations

import inspect
import json

import pydantic
import pytest

from helix_agents import chunks, messages, state, usage
from helix_agents._base import Record
from helix_agents.chunks import chunk_adapter
from helix_agents.messages import message_adapter

TOOL_CALL = messages.ToolCall(
    id="call_1", name="search", arguments={"q": "x", "n": [1, 2.5, None]}, raw_arguments=None
)
PENDING = state.PendingToolCall(
    tool_call_id="call_1",
    tool_name="delete",
    arguments={"path": "/tmp/x"},
    kind="approval",
    approval_id="appr_1",
    step=3,
    expires_at=1_700_000_000_999,
    decision="denied",
    reason="no",
    result={"deleted": False},
    result_status="error",
    submitted_at=1_700_000_000_500,
)
SUSPENSION = state.SuspensionContext(
    status=state.RunStatus.SUSPENDED_STEP_PARTIAL,
    suspended_step_id="turn-1/step-02/model",
    suspended_awaiting_children=["c1", "c2"],
    tracing_context={"traceId": "t"},
    expires_at=1_700_000_100_000,
    run_id="s1--t1",
    detail={"why": "client tool"},
)
USAGE = usage.Usage(
    input_tokens=10,
    output_tokens=5,
    total_tokens=15,
    requests=1,
    tool_calls=2,
    custom={"searches": 3, "cost": 0.25},
)

EXAMPLES: dict[type[Record], list[Record]] = {
    messages.ToolCall: [
        messages.ToolCall(id="c", name="n"),
        TOOL_CALL,
        messages.ToolCall(id="c", name="n", raw_arguments="not json {"),
    ],
    messages.UserMessage: [
        messages.UserMessage(content="hi"),
        messages.UserMessage(content="héllo 👋", id="m1", metadata={"client": {"v": 1}}),
        messages.UserMessage(
            content="look",
            files=[
                messages.FilePart(key="files/s/m/0", media_type="image/png"),
                messages.FilePart(
                    key="files/s/m/1", media_type="application/pdf", filename="a.pdf", size=9
                ),
            ],
        ),
    ],
    messages.FilePart: [
        messages.FilePart(key="files/s/m/0", media_type="text/plain", filename="n.txt", size=3)
    ],
    messages.AssistantMessage: [
        messages.AssistantMessage(),
        messages.AssistantMessage(
            content="done",
            reasoning="thinking",
            tool_calls=[TOOL_CALL],
            id="m2",
            step=2,
            finish_reason="tool_calls",
        ),
    ],
    messages.ToolResultMessage: [
        messages.ToolResultMessage(tool_call_id="c", tool_name="n"),
        messages.ToolResultMessage(
            tool_call_id="c", tool_name="n", content={"rows": [1, 2]}, status="error", id="m3"
        ),
        messages.ToolResultMessage(tool_call_id="c", tool_name="n", content="x", status="denied"),
        messages.ToolResultMessage(
            tool_call_id="c",
            tool_name="n",
            content="x",
            status="denied",
            approval=messages.ToolApproval(id="a", approved=False, reason="no"),
        ),
        messages.ToolResultMessage(
            tool_call_id="c",
            tool_name="search",
            content={"results": []},
            sources=[
                messages.Source(source_id="docs/a.md", title="A", media_type="text/markdown"),
                messages.Source(source_id="https://x.test/b", url="https://x.test/b"),
            ],
        ),
    ],
    messages.Source: [
        messages.Source(source_id="s"),
        messages.Source(
            source_id="d", url="https://x.test/d", title="D", media_type="text/html", filename="d"
        ),
    ],
    messages.ToolApproval: [
        messages.ToolApproval(id="a", approved=True),
        messages.ToolApproval(id="a", approved=False, reason="not now"),
    ],
    state.PendingToolCall: [state.PendingToolCall(tool_call_id="c", tool_name="n"), PENDING],
    state.SuspensionContext: [
        state.SuspensionContext(status=state.RunStatus.SUSPENDED_CLIENT_TOOL),
        SUSPENSION,
    ],
    state.Checkpoint: [
        state.Checkpoint(session_id="s", sequence=0, step=0, kind="turn"),
        state.Checkpoint(
            session_id="s",
            sequence=4,
            step=2,
            kind="step",
            state={"notes": ["a"], "n": 1},
            usage=USAGE,
            created_at=1_700_000_000_000,
        ),
    ],
    state.SessionState: [
        state.SessionState(session_id="s1", agent_type="a", stream_id="s1"),
        state.SessionState(
            session_id="s1",
            agent_type="a",
            stream_id="s1--t2",
            status=state.RunStatus.SUSPENDED_STEP_PARTIAL,
            step_count=4,
            custom_state={"k": {"nested": [1, "two"]}},
            output={"answer": 42},
            error="boom",
            failure_reason="expired",
            parent_session_id="p1",
            aborted=True,
            abort_reason="user",
            user_id="u1",
            tags=["a", "b"],
            metadata={"m": 1},
            pending_client_tool_calls=[PENDING],
            completed_client_tool_calls=["call_0"],
            suspension_context=SUSPENSION,
            expires_at=1_700_000_100_000,
            created_at=1,
            updated_at=2,
        ),
    ],
    state.RunRecord: [
        state.RunRecord(run_id="s1--t1", session_id="s1", turn=1),
        state.RunRecord(
            run_id="s1--t1--r2",
            session_id="s1",
            turn=1,
            status=state.RunStatus.INTERRUPTED,
            step_count=3,
            started_at=5,
            completed_at=9,
        ),
    ],
    state.SubSessionRef: [
        state.SubSessionRef(
            session_id="p", sub_session_id="c", agent_type="a", parent_tool_call_id="t"
        ),
        state.SubSessionRef(
            session_id="p",
            sub_session_id="c",
            agent_type="a",
            parent_tool_call_id="t",
            status="completed",
            mode="persistent",
            name="researcher",
            remote_json={"url": "https://example.invalid"},
            started_at=1,
            completed_at=2,
        ),
    ],
    usage.Usage: [usage.Usage(), USAGE],
    usage.UsageRecord: [
        usage.UsageRecord(record_id="r", session_id="s", run_id="s--t1"),
        usage.UsageRecord(
            record_id="s--t1/turn-1/step-01/model",
            session_id="s",
            run_id="s--t1",
            kind="subagent",
            model="openai:gpt",
            usage=USAGE,
            created_at=3,
            metadata={"provider": "x"},
        ),
    ],
    usage.UsageRollup: [
        usage.UsageRollup(session_id="s"),
        usage.UsageRollup(session_id="s", usage=USAGE, by_session={"s": USAGE, "c": usage.Usage()}),
    ],
    chunks.RunStartChunk: [
        chunks.RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="m"),
    ],
    chunks.RunEndChunk: [
        chunks.RunEndChunk(run_id="r", status="completed"),
        chunks.RunEndChunk(run_id="r", status="failed", finish_reason="error", error="x", step=2),
    ],
    chunks.StepStartChunk: [chunks.StepStartChunk(), chunks.StepStartChunk(step=1, attempt=2)],
    chunks.StepEndChunk: [chunks.StepEndChunk(step=1, finish_reason="stop")],
    chunks.StepResetChunk: [chunks.StepResetChunk(step=1, attempt=1)],
    chunks.TextStartChunk: [chunks.TextStartChunk(part_id="p")],
    chunks.TextDeltaChunk: [
        chunks.TextDeltaChunk(
            part_id="p", delta="hé", step=1, attempt=1, agent="child", source_session_id="c"
        )
    ],
    chunks.TextEndChunk: [chunks.TextEndChunk(part_id="p")],
    chunks.ReasoningStartChunk: [chunks.ReasoningStartChunk(part_id="r")],
    chunks.ReasoningDeltaChunk: [chunks.ReasoningDeltaChunk(part_id="r", delta="hmm")],
    chunks.ReasoningEndChunk: [chunks.ReasoningEndChunk(part_id="r")],
    chunks.ToolInputStartChunk: [chunks.ToolInputStartChunk(tool_call_id="c", tool_name="n")],
    chunks.ToolInputDeltaChunk: [chunks.ToolInputDeltaChunk(tool_call_id="c", delta='{"q"')],
    chunks.ToolInputAvailableChunk: [
        chunks.ToolInputAvailableChunk(tool_call_id="c", tool_name="n"),
        chunks.ToolInputAvailableChunk(
            tool_call_id="c", tool_name="n", input={"q": "x"}, client=True
        ),
    ],
    chunks.ToolOutputChunk: [
        chunks.ToolOutputChunk(tool_call_id="c"),
        chunks.ToolOutputChunk(tool_call_id="c", output=[1, {"a": None}]),
    ],
    chunks.ToolErrorChunk: [
        chunks.ToolErrorChunk(tool_call_id="c", error="bad"),
        chunks.ToolErrorChunk(
            tool_call_id="c", error="bad", input_error=True, tool_name="n", input={"q": 1}
        ),
    ],
    chunks.ToolApprovalRequestChunk: [
        chunks.ToolApprovalRequestChunk(tool_call_id="c", approval_id="a")
    ],
    chunks.ToolApprovalResponseChunk: [
        chunks.ToolApprovalResponseChunk(tool_call_id="c", approval_id="a", approved=True),
        chunks.ToolApprovalResponseChunk(
            tool_call_id="c", approval_id="a", approved=False, reason="no"
        ),
    ],
    chunks.ToolOutputDeniedChunk: [
        chunks.ToolOutputDeniedChunk(tool_call_id="c"),
        chunks.ToolOutputDeniedChunk(tool_call_id="c", reason="no"),
    ],
    chunks.SubagentStartChunk: [
        chunks.SubagentStartChunk(child_session_id="c", child_agent_type="a", tool_call_id="t")
    ],
    chunks.SubagentEndChunk: [
        chunks.SubagentEndChunk(
            child_session_id="c", child_agent_type="a", tool_call_id="t", status="completed"
        ),
        chunks.SubagentEndChunk(
            child_session_id="c",
            child_agent_type="a",
            tool_call_id="t",
            status="completed",
            output={"x": 1},
        ),
    ],
    chunks.CustomDataChunk: [
        chunks.CustomDataChunk(name="weather"),
        chunks.CustomDataChunk(name="weather", data={"t": 21.5}, id="d1", transient=True),
    ],
    chunks.SourceChunk: [
        chunks.SourceChunk(source_id="docs/a.md"),
        chunks.SourceChunk(
            source_id="u", tool_call_id="c", url="https://x.test", title="X", media_type="text/html"
        ),
    ],
    chunks.ErrorChunk: [chunks.ErrorChunk(message="x"), chunks.ErrorChunk(message="x", code="y")],
    chunks.OutputChunk: [chunks.OutputChunk(), chunks.OutputChunk(output={"answer": 42})],
    chunks.SequencedChunk: [
        chunks.SequencedChunk(seq=1, chunk=chunks.TextDeltaChunk(part_id="p", delta="a")),
        chunks.SequencedChunk(seq=7, chunk=chunks.ToolOutputDeniedChunk(tool_call_id="c")),
    ],
}

ALL = [(cls, example) for cls, examples in EXAMPLES.items() for example in examples]
IDS = [f"{cls.__name__}-{i}" for cls, examples in EXAMPLES.items() for i in range(len(examples))]


def _models() -> set[type[Record]]:
    found: set[type[Record]] = set()
    for module in (messages, state, usage, chunks):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, Record) and value is not Record:
                found.add(value)
    return found - {chunks.ChunkBase}


def test_every_model_has_examples() -> None:
    assert _models() == set(EXAMPLES)


@pytest.mark.parametrize(("cls", "example"), ALL, ids=IDS)
def test_json_round_trip_is_exact(cls: type[Record], example: Record) -> None:
    text = example.to_json()
    again = cls.from_json(text)
    assert again == example
    assert again.to_json() == text
    assert cls.from_dict(example.to_dict()) == example
    assert json.loads(text) == example.to_dict()


@pytest.mark.parametrize(("cls", "example"), ALL, ids=IDS)
def test_json_is_camel_case_without_nulls(cls: type[Record], example: Record) -> None:
    data = example.to_dict()
    assert all("_" not in key for key in data), list(data)
    assert None not in data.values()


@pytest.mark.parametrize(("cls", "example"), ALL, ids=IDS)
def test_unknown_keys_are_refused(cls: type[Record], example: Record) -> None:
    data = example.to_dict()
    data["notAField"] = 1
    with pytest.raises(pydantic.ValidationError):
        cls.from_dict(data)


@pytest.mark.parametrize(
    "message",
    [
        m
        for cls in messages.__all__
        for m in EXAMPLES.get(getattr(messages, cls), [])
        if not isinstance(
            m, messages.ToolCall | messages.ToolApproval | messages.Source | messages.FilePart
        )
    ],
)
def test_messages_round_trip_through_the_union(message: Record) -> None:
    assert message_adapter.validate_json(message.to_json()) == message


@pytest.mark.parametrize(
    "chunk",
    [
        example
        for cls, examples in EXAMPLES.items()
        if issubclass(cls, chunks.ChunkBase)
        for example in examples
    ],
)
def test_chunks_round_trip_through_the_union(chunk: Record) -> None:
    assert chunk_adapter.validate_json(chunk.to_json()) == chunk
    assert chunk_adapter.validate_python(chunk.to_dict()) == chunk


def test_snake_case_names_are_accepted_on_input() -> None:
    call = messages.ToolCall.from_dict({"id": "c", "name": "n", "raw_arguments": "x"})
    assert call.to_dict() == {"id": "c", "name": "n", "arguments": {}, "rawArguments": "x"}


def test_suspension_json_has_expires_at_where_the_index_reads_it() -> None:
    assert json.loads(SUSPENSION.to_json())["expiresAt"] == 1_700_000_100_000


def test_run_statuses() -> None:
    assert {s.value for s in state.RunStatus} == {
        "active",
        "completed",
        "failed",
        "aborted",
        "interrupted",
        "suspended_client_tool",
        "suspended_awaiting_children",
        "suspended_step_partial",
    }
    assert state.RunStatus.ABORTED.is_final
    assert state.RunStatus.SUSPENDED_CLIENT_TOOL.is_suspended
    assert not state.RunStatus.INTERRUPTED.is_final


@pytest.mark.parametrize(
    "value",
    [
        usage.Usage(),
        usage.Usage(input_tokens=1),
        usage.Usage(output_tokens=2),
        usage.Usage(total_tokens=3),
        usage.Usage(requests=1),
        usage.Usage(tool_calls=1),
        usage.Usage(custom={"searches": 0}),
        usage.Usage(custom={}),
    ],
)
def test_usage_is_empty_means_equal_to_an_empty_usage(value: usage.Usage) -> None:
    # is_empty compares field by field (it is asked of every step's usage): the same answer
    # as the model comparison it replaced. A new field must be added to is_empty too.
    assert set(usage.Usage.model_fields) == {
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "requests",
        "tool_calls",
        "custom",
    }
    assert value.is_empty is (value == usage.Usage())
