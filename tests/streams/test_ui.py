"""The mapping of our chunks to AI SDK UI message stream chunks."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helix_agents import chunks as c
from helix_agents.chunks import Chunk, SequencedChunk
from helix_agents.errors import StreamError
from helix_agents.streaming.ui import (
    FINISH_REASONS,
    UIMessageEncoder,
    event_id,
    to_ui_chunk,
    ui_finish_reason,
)
from helix_agents.streaming.ui_schema import check_ui_chunk, ui_chunk_problems

ALL_CHUNK_TYPES = get_args(get_args(Chunk)[0])

# One example of every chunk kind, with the UI chunk it must become (v6).
CASES: list[tuple[Chunk, dict[str, Any] | None]] = [
    (
        c.RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="msg-1"),
        {"type": "start", "messageId": "msg-1"},
    ),
    (
        c.RunEndChunk(run_id="r", status="completed", finish_reason="stop"),
        {"type": "finish", "finishReason": "stop"},
    ),
    (c.StepStartChunk(step=1, attempt=1), {"type": "start-step"}),
    (c.StepEndChunk(step=1, attempt=1, finish_reason="tool_calls"), {"type": "finish-step"}),
    (c.StepResetChunk(step=1, attempt=1, superseded_from=3), None),
    (c.TextStartChunk(part_id="t1"), {"type": "text-start", "id": "t1"}),
    (c.TextDeltaChunk(part_id="t1", delta="Hi"), {"type": "text-delta", "id": "t1", "delta": "Hi"}),
    (c.TextEndChunk(part_id="t1"), {"type": "text-end", "id": "t1"}),
    (c.ReasoningStartChunk(part_id="r1"), {"type": "reasoning-start", "id": "r1"}),
    (
        c.ReasoningDeltaChunk(part_id="r1", delta="hmm"),
        {"type": "reasoning-delta", "id": "r1", "delta": "hmm"},
    ),
    (c.ReasoningEndChunk(part_id="r1"), {"type": "reasoning-end", "id": "r1"}),
    (
        c.ToolInputStartChunk(tool_call_id="call_1", tool_name="weather"),
        {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "weather"},
    ),
    (
        c.ToolInputDeltaChunk(tool_call_id="call_1", delta='{"city":'),
        {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '{"city":'},
    ),
    (
        c.ToolInputAvailableChunk(
            tool_call_id="call_1", tool_name="weather", input={"city": "SF"}, client=True
        ),
        {
            "type": "tool-input-available",
            "toolCallId": "call_1",
            "toolName": "weather",
            "input": {"city": "SF"},
        },
    ),
    (
        c.ToolOutputChunk(tool_call_id="call_1", output={"weather": "sunny"}),
        {"type": "tool-output-available", "toolCallId": "call_1", "output": {"weather": "sunny"}},
    ),
    (
        c.ToolErrorChunk(tool_call_id="call_1", error="boom"),
        {"type": "tool-output-error", "toolCallId": "call_1", "errorText": "boom"},
    ),
    (
        c.ToolErrorChunk(
            tool_call_id="call_1",
            error="bad args",
            input_error=True,
            tool_name="weather",
            input={"city": 3},
        ),
        {
            "type": "tool-input-error",
            "toolCallId": "call_1",
            "toolName": "weather",
            "input": {"city": 3},
            "errorText": "bad args",
        },
    ),
    (
        c.ToolApprovalRequestChunk(tool_call_id="call_1", approval_id="ap_1"),
        {"type": "tool-approval-request", "approvalId": "ap_1", "toolCallId": "call_1"},
    ),
    # v6 has no chunk for a decision (v7: test_a_decision_is_a_v7_chunk).
    (
        c.ToolApprovalResponseChunk(
            tool_call_id="call_1", approval_id="ap_1", approved=False, reason="no"
        ),
        None,
    ),
    (
        c.ToolOutputDeniedChunk(tool_call_id="call_1", reason="no"),
        {"type": "tool-output-denied", "toolCallId": "call_1"},
    ),
    (
        c.SubagentStartChunk(child_session_id="kid", child_agent_type="helper", tool_call_id="t"),
        {
            "type": "data-subagent",
            "id": "t",
            "data": {
                "toolCallId": "t",
                "sessionId": "kid",
                "agentType": "helper",
                "status": "running",
            },
        },
    ),
    (
        c.SubagentEndChunk(
            child_session_id="kid",
            child_agent_type="helper",
            tool_call_id="t",
            status="completed",
            output={"answer": 42},
        ),
        {
            "type": "data-subagent",
            "id": "t",
            "data": {
                "toolCallId": "t",
                "sessionId": "kid",
                "agentType": "helper",
                "status": "completed",
                "output": {"answer": 42},
            },
        },
    ),
    (
        c.CustomDataChunk(name="weather", data={"t": 21}, id="w1", transient=True),
        {"type": "data-weather", "id": "w1", "data": {"t": 21}, "transient": True},
    ),
    (c.CustomDataChunk(name="note", data=[1, 2]), {"type": "data-note", "data": [1, 2]}),
    (
        c.SourceChunk(source_id="https://x.test/a", url="https://x.test/a", title="A"),
        {
            "type": "source-url",
            "sourceId": "https://x.test/a",
            "url": "https://x.test/a",
            "title": "A",
        },
    ),
    (
        c.SourceChunk(
            source_id="docs/b.md",
            tool_call_id="t",
            media_type="text/markdown",
            filename="docs/b.md",
        ),
        {
            "type": "source-document",
            "sourceId": "docs/b.md",
            "mediaType": "text/markdown",
            "title": "docs/b.md",
            "filename": "docs/b.md",
        },
    ),
    (c.ErrorChunk(message="it broke", code="x"), {"type": "error", "errorText": "it broke"}),
    (
        c.OutputChunk(output={"city": "SF"}),
        {"type": "data-output", "id": "output", "data": {"city": "SF"}},
    ),
]


def test_every_chunk_kind_has_a_case() -> None:
    assert {type(chunk) for chunk, _ in CASES} == set(ALL_CHUNK_TYPES)


@pytest.mark.parametrize(("chunk", "expected"), CASES, ids=lambda v: getattr(v, "type", ""))
def test_mapping(chunk: Chunk, expected: dict[str, Any] | None) -> None:
    ui = to_ui_chunk(chunk)
    assert ui == expected
    if ui is not None:
        check_ui_chunk(ui)


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("completed", None, "stop"),
        ("completed", "stop", "stop"),
        ("completed", "length", "length"),
        ("completed", "max_tokens", "length"),
        ("completed", "content_filter", "content-filter"),
        ("completed", "tool_calls", "tool-calls"),
        ("completed", "weird", "stop"),
        ("failed", "stop", "error"),
        ("failed", None, "error"),
        ("interrupted", "stop", "other"),
        ("suspended_client_tool", None, "tool-calls"),
        ("suspended_awaiting_children", "stop", "tool-calls"),
        ("suspended_step_partial", None, "tool-calls"),
        ("something-new", None, "other"),
    ],
)
def test_finish_reasons(status: str, reason: str | None, expected: str) -> None:
    assert ui_finish_reason(status, reason) == expected
    ui = to_ui_chunk(c.RunEndChunk(run_id="r", status=status, finish_reason=reason))
    assert ui == {"type": "finish", "finishReason": expected}
    assert expected in FINISH_REASONS


def test_an_aborted_run_is_an_abort() -> None:
    assert to_ui_chunk(c.RunEndChunk(run_id="r", status="aborted")) == {"type": "abort"}
    ui = to_ui_chunk(c.RunEndChunk(run_id="r", status="aborted", error="user stopped it"))
    assert ui == {"type": "abort", "reason": "user stopped it"}
    check_ui_chunk(ui)


def test_none_values_are_left_out() -> None:
    assert to_ui_chunk(c.ToolInputAvailableChunk(tool_call_id="c", tool_name="t")) == {
        "type": "tool-input-available",
        "toolCallId": "c",
        "toolName": "t",
    }
    assert to_ui_chunk(c.ToolOutputChunk(tool_call_id="c")) == {
        "type": "tool-output-available",
        "toolCallId": "c",
    }
    assert to_ui_chunk(c.CustomDataChunk(name="x", transient=False)) == {"type": "data-x"}
    assert to_ui_chunk(c.OutputChunk()) == {"type": "data-output", "id": "output"}
    # Without a tool name, an input error cannot be a tool-input-error.
    assert to_ui_chunk(c.ToolErrorChunk(tool_call_id="c", error="e", input_error=True)) == {
        "type": "tool-output-error",
        "toolCallId": "c",
        "errorText": "e",
    }


def test_a_decision_is_a_v7_chunk() -> None:
    denied = c.ToolApprovalResponseChunk(
        tool_call_id="call_1", approval_id="ap_1", approved=False, reason="no"
    )
    ui = to_ui_chunk(denied, ui_version=7)
    assert ui == {
        "type": "tool-approval-response",
        "approvalId": "ap_1",
        "approved": False,
        "reason": "no",
    }
    check_ui_chunk(ui, ui_version=7)
    approved = c.ToolApprovalResponseChunk(tool_call_id="c", approval_id="ap_2", approved=True)
    assert to_ui_chunk(approved, ui_version=7) == {
        "type": "tool-approval-response",
        "approvalId": "ap_2",
        "approved": True,
    }
    assert ui_chunk_problems({"type": "tool-approval-response", "approvalId": "a"}, ui_version=6)


def test_a_subagent_chunk_is_a_transient_data_part() -> None:
    child = {"agent": "researcher", "source_session_id": "kid-1", "step": 2, "attempt": 1}
    ui = to_ui_chunk(c.TextDeltaChunk(part_id="p", delta="found it", **child))
    assert ui == {
        "type": "data-subagent-chunk",
        "data": {
            "agent": "researcher",
            "sessionId": "kid-1",
            "chunk": {"type": "text-delta", "id": "p", "delta": "found it"},
        },
        "transient": True,
    }
    check_ui_chunk(ui)
    # The child's lifecycle never ends the parent's message.
    end = to_ui_chunk(c.RunEndChunk(run_id="x", status="completed", agent="researcher"))
    assert end is not None
    assert end["type"] == "data-subagent-chunk"
    assert end["data"]["chunk"] == {"type": "finish", "finishReason": "stop"}
    assert to_ui_chunk(c.StepResetChunk(step=1, agent="researcher")) is None


def test_data_chunks_need_a_name() -> None:
    with pytest.raises(StreamError):
        to_ui_chunk(c.CustomDataChunk(name="", data=1))


def test_unknown_ui_versions_are_refused() -> None:
    with pytest.raises(StreamError):
        to_ui_chunk(c.StepStartChunk(), ui_version=5)  # type: ignore[arg-type]
    with pytest.raises(StreamError):
        UIMessageEncoder(ui_version=8)  # type: ignore[arg-type]


# -- resets ----------------------------------------------------------------------------------


def seq(n: int, chunk: Chunk) -> SequencedChunk:
    return SequencedChunk(seq=n, chunk=chunk)


def attempt(n: int) -> dict[str, int]:
    return {"step": 2, "attempt": n}


RESET = c.StepResetChunk(step=2, attempt=1, superseded_from=4)


def test_a_replay_shows_no_reset() -> None:
    # The log dropped 4..6 (the superseded attempt): this reader never saw them.
    encoder = UIMessageEncoder()
    assert encoder.encode(seq(3, c.StepEndChunk(step=1, attempt=1))) == {"type": "finish-step"}
    assert encoder.encode(seq(7, RESET)) is None
    assert encoder.encode(seq(8, c.StepStartChunk(**attempt(2)))) == {"type": "start-step"}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (6, {"type": "data-reset-step", "data": {"step": 2, "attempt": 1}, "transient": True}),
        (7, {"type": "reset-step"}),
    ],
)
def test_a_live_reader_that_saw_the_text_is_told(version: int, expected: dict[str, Any]) -> None:
    encoder = UIMessageEncoder(ui_version=version)  # type: ignore[arg-type]
    assert encoder.encode(seq(4, c.StepStartChunk(**attempt(1)))) == {"type": "start-step"}
    encoder.encode(seq(5, c.TextStartChunk(part_id="a", **attempt(1))))
    encoder.encode(seq(6, c.TextDeltaChunk(part_id="a", delta="wrong", **attempt(1))))
    ui = encoder.encode(seq(7, RESET))
    assert ui == expected
    check_ui_chunk(ui, ui_version=version)
    # The step the client reset is still open: the retry's step-start is not repeated...
    assert encoder.encode(seq(8, c.StepStartChunk(**attempt(2)))) is None
    assert encoder.encode(seq(9, c.TextStartChunk(part_id="b", **attempt(2)))) == {
        "type": "text-start",
        "id": "b",
    }
    # ...and a later reset of the same attempt (attempt 3 names it again) is not repeated.
    assert encoder.encode(seq(12, c.StepResetChunk(step=2, attempt=1, superseded_from=4))) is None
    assert encoder.encode(seq(13, c.StepStartChunk(step=3, attempt=1))) == {"type": "start-step"}


def test_a_retry_does_not_finish_the_step_before_it_twice() -> None:
    # A retried model step closes the previous step again (the first attempt may have died
    # before it could): the reader is told once.
    encoder = UIMessageEncoder()
    assert encoder.encode(seq(3, c.StepEndChunk(step=1))) == {"type": "finish-step"}
    assert encoder.encode(seq(4, c.StepStartChunk(**attempt(1)))) == {"type": "start-step"}
    encoder.encode(seq(5, c.TextStartChunk(part_id="a", **attempt(1))))
    encoder.encode(seq(6, c.TextDeltaChunk(part_id="a", delta="wrong", **attempt(1))))
    assert encoder.encode(seq(7, c.StepEndChunk(step=1))) is None
    assert encoder.encode(seq(8, RESET)) is not None
    # The step the reset reopened is finished again by the retry, once.
    assert encoder.encode(seq(9, c.StepEndChunk(**attempt(2)))) == {"type": "finish-step"}
    assert encoder.encode(seq(10, c.StepEndChunk(**attempt(2)))) is None
    # Another agent's step 1 (a sub-agent forwarding into this stream) is its own.
    child = c.StepEndChunk(step=1, source_session_id="child")
    assert encoder.encode(seq(11, child)) == {"type": "finish-step"}


def test_a_resumed_reader_is_told_if_it_saw_part_of_the_attempt() -> None:
    # It left after event 5 (inside the superseded attempt), came back with Last-Event-ID 5.
    assert UIMessageEncoder(after=5).encode(seq(7, RESET)) == {
        "type": "data-reset-step",
        "data": {"step": 2, "attempt": 1},
        "transient": True,
    }
    # It left before the attempt began: nothing of it was shown.
    assert UIMessageEncoder(after=3).encode(seq(7, RESET)) is None


def test_a_replay_that_reads_the_step_closed_again_shows_no_reset() -> None:
    # The log hid the dead attempt (4..6); the retry closed step 1 again (7) before its
    # reset (8). A replay reads 7, past the dead attempt's first sequence, yet it never saw
    # the attempt: told to reset, it would drop step 1 and lose the retry's start-step.
    encoder = UIMessageEncoder()
    assert encoder.encode(seq(3, c.StepEndChunk(step=1))) == {"type": "finish-step"}
    assert encoder.encode(seq(7, c.StepEndChunk(step=1))) is None
    assert encoder.encode(seq(8, RESET)) is None
    assert encoder.encode(seq(9, c.StepStartChunk(**attempt(2)))) == {"type": "start-step"}
    # Nor does a chunk of another attempt (a sub-agent's) in between count as seeing it.
    encoder = UIMessageEncoder()
    child = c.TextDeltaChunk(part_id="x", delta="hi", step=2, attempt=1, source_session_id="k")
    encoder.encode(seq(5, child))
    assert encoder.encode(seq(8, RESET)) is None


def test_a_retry_that_died_after_its_left_out_start_is_reset_too() -> None:
    encoder = UIMessageEncoder()
    encoder.encode(seq(4, c.StepStartChunk(**attempt(1))))
    encoder.encode(seq(5, c.TextStartChunk(part_id="a", **attempt(1))))
    assert encoder.encode(seq(6, RESET)) is not None
    assert encoder.encode(seq(7, c.StepStartChunk(**attempt(2)))) is None
    # Attempt 2 died right there: its reset is shown, and attempt 3's start left out.
    second = c.StepResetChunk(step=2, attempt=2, superseded_from=7)
    assert encoder.encode(seq(8, second)) is not None
    assert encoder.encode(seq(9, c.StepStartChunk(**attempt(3)))) is None


def test_a_shown_reset_is_sent_with_the_id_before_it() -> None:
    # A reader that comes back with the reset's id reads the reset again (shown again: it
    # reached the dead attempt), so the retry's start-step is still left out.
    assert event_id(seq(7, RESET)) == 6
    assert event_id(seq(7, c.StepStartChunk(**attempt(2)))) == 7
    encoder = UIMessageEncoder(after=6)
    assert encoder.encode(seq(7, RESET)) is not None
    assert encoder.encode(seq(8, c.StepStartChunk(**attempt(2)))) is None


def test_a_reset_of_an_attempt_that_streamed_nothing_maps_to_nothing() -> None:
    reset = c.StepResetChunk(step=2, attempt=1)
    assert UIMessageEncoder(after=100).encode(seq(101, reset)) is None


def test_to_ui_chunk_shows_a_reset_only_when_asked() -> None:
    assert to_ui_chunk(RESET) is None
    assert to_ui_chunk(RESET, show_reset=True, ui_version=7) == {"type": "reset-step"}


# -- the schema itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "problem"),
    [
        ({"type": "text-delta", "id": "a"}, "missing 'delta'"),
        ({"type": "text-delta", "id": "a", "delta": "x", "extra": 1}, "undocumented key"),
        ({"type": "start", "messageId": None}, "is null"),
        ({"type": "finish", "finishReason": "done"}, "wrong value"),
        ({"type": "tool-input-start", "toolCallId": 1, "toolName": "t"}, "wrong value"),
        ({"type": "reset-step"}, "unknown chunk type"),
        ({"type": "data-"}, "unknown chunk type"),
        ({"type": 3}, "'type' must be a string"),
    ],
)
def test_the_schema_catches(chunk: dict[str, Any], problem: str) -> None:
    problems = ui_chunk_problems(chunk)
    assert problems
    assert problem in "; ".join(problems)
    with pytest.raises(StreamError):
        check_ui_chunk(chunk)


def test_the_schema_accepts_v7_reset_only_for_v7() -> None:
    assert ui_chunk_problems({"type": "reset-step"}, ui_version=7) == []


# -- every chunk, whatever its values --------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _field_strategy(annotation: Any) -> st.SearchStrategy[Any]:
    if annotation is Any:
        return _JSON
    if annotation is str:
        return st.text(min_size=1)
    if annotation is int:
        return st.integers(0, 2**31)
    if annotation is bool:
        return st.booleans()
    origin = get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of([_field_strategy(a) for a in get_args(annotation)])
    if annotation is type(None):
        return st.none()
    raise AssertionError(f"no strategy for {annotation!r}")


def _chunk_strategy(cls: type[Any]) -> st.SearchStrategy[Chunk]:
    # By alias: the models' signatures (which st.builds reads) name the fields that way.
    fields = {
        info.alias or name: _field_strategy(info.annotation)
        for name, info in cls.model_fields.items()
        if name != "type"
    }
    return st.builds(cls, **fields)


ANY_CHUNK = st.one_of([_chunk_strategy(cls) for cls in ALL_CHUNK_TYPES])


@settings(max_examples=300, deadline=None)
@given(chunk=ANY_CHUNK, version=st.sampled_from([6, 7]), show=st.booleans())
def test_every_mapped_chunk_is_a_documented_ui_chunk(
    chunk: Chunk, version: int, show: bool
) -> None:
    ui = to_ui_chunk(chunk, ui_version=version, show_reset=show)  # type: ignore[arg-type]
    if ui is None:
        # A reset not shown; a decision, which v6 has no chunk for.
        assert chunk.type == "step-reset" or (
            chunk.type == "tool-approval-response" and version == 6
        )
        return
    assert ui_chunk_problems(ui, ui_version=version) == []
    if ui["type"] == "data-subagent-chunk":
        assert ui_chunk_problems(ui["data"]["chunk"], ui_version=version) == []


def test_an_encoder_rebuilt_from_its_state_after_every_chunk_maps_alike() -> None:
    # What a hibernating WebSocket does: its encoder lives in its attachment (JSON) between
    # writes. Rebuilt after every chunk, it must map the stream as one encoder does.
    child = {"source_session_id": "child", "agent": "helper"}
    stream = [
        seq(3, c.StepEndChunk(step=1)),
        seq(4, c.StepStartChunk(**attempt(1))),
        seq(5, c.TextStartChunk(part_id="a", **attempt(1))),
        seq(6, c.TextDeltaChunk(part_id="a", delta="wrong", **attempt(1))),
        seq(7, c.StepStartChunk(step=1, attempt=1, **child)),
        seq(8, c.StepEndChunk(step=1)),
        seq(9, RESET),
        seq(10, c.StepEndChunk(step=1, attempt=1, **child)),
        seq(11, c.StepStartChunk(**attempt(2))),
        seq(12, c.TextStartChunk(part_id="b", **attempt(2))),
        seq(13, c.StepEndChunk(**attempt(2))),
        seq(14, c.StepEndChunk(**attempt(2))),
        seq(15, c.StepResetChunk(step=2, attempt=1, superseded_from=4)),
        seq(16, c.StepStartChunk(step=3, attempt=1)),
    ]
    for version in (6, 7):
        whole = UIMessageEncoder(after=2, ui_version=version)
        rebuilt = UIMessageEncoder(after=2, ui_version=version)
        for item in stream:
            assert rebuilt.encode(item) == whole.encode(item), (version, item.seq)
            state = json.loads(json.dumps(rebuilt.state()))
            rebuilt = UIMessageEncoder.from_state(state, ui_version=version)
            assert rebuilt.state() == whole.state()
    with pytest.raises(StreamError, match="malformed"):
        UIMessageEncoder.from_state({"a": 0, "c": 1, "s": [["x", "two", 1, 3]]})
