"""The chunks of a run's stream, Helix-style, as the chunk log stores them.

The edge (``helix_agents.streaming.ui``) maps these to AI SDK UI message stream chunks, at
most one UI event per chunk, so that an SSE event's ``id`` is exactly the chunk's sequence
number and ``Last-Event-ID`` resumes without any state on the server. That is why the writer
(the loop) emits explicit start/end chunks for text and reasoning parts.
Every chunk may carry the agent ``step`` and the model ``attempt`` that produced it: when a
model step is retried, a ``step-reset`` chunk marks the superseded attempt so that readers
drop what it streamed (docs/invariants.md invariant 3). Chunks from a sub-agent carry ``agent`` and
``source_session_id`` of the child.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from ._base import Record

__all__ = [
    "Chunk",
    "ChunkBase",
    "CustomDataChunk",
    "ErrorChunk",
    "OutputChunk",
    "ReasoningDeltaChunk",
    "ReasoningEndChunk",
    "ReasoningStartChunk",
    "RunEndChunk",
    "RunStartChunk",
    "SequencedChunk",
    "SourceChunk",
    "StepEndChunk",
    "StepResetChunk",
    "StepStartChunk",
    "SubagentEndChunk",
    "SubagentStartChunk",
    "TextDeltaChunk",
    "TextEndChunk",
    "TextStartChunk",
    "ToolApprovalRequestChunk",
    "ToolApprovalResponseChunk",
    "ToolErrorChunk",
    "ToolInputAvailableChunk",
    "ToolInputDeltaChunk",
    "ToolInputStartChunk",
    "ToolOutputChunk",
    "ToolOutputDeniedChunk",
    "chunk_adapter",
]


class ChunkBase(Record):
    step: int | None = None
    attempt: int | None = None
    #: Set on chunks forwarded from a sub-agent: the child's agent type and session.
    agent: str | None = None
    source_session_id: str | None = None


class RunStartChunk(ChunkBase):
    type: Literal["run-start"] = "run-start"
    run_id: str
    turn: int
    agent_type: str
    #: The id of the assistant message this run produces (the UI message id).
    message_id: str


class RunEndChunk(ChunkBase):
    """The run's instance is done: ``status`` is a final, interrupted or suspended status."""

    type: Literal["run-end"] = "run-end"
    run_id: str
    status: str
    finish_reason: str | None = None
    error: str | None = None


class StepStartChunk(ChunkBase):
    type: Literal["step-start"] = "step-start"


class StepEndChunk(ChunkBase):
    type: Literal["step-end"] = "step-end"
    finish_reason: str | None = None


class StepResetChunk(ChunkBase):
    """Everything streamed by ``step``/``attempt`` is superseded by a retry."""

    type: Literal["step-reset"] = "step-reset"
    #: Set by the chunk log when it stores the reset: the first sequence number of the
    #: superseded attempt (None when it streamed nothing). A reader that resumed after that
    #: sequence has shown some of the superseded text, so the edge tells it to reset.
    superseded_from: int | None = None


class TextStartChunk(ChunkBase):
    type: Literal["text-start"] = "text-start"
    part_id: str


class TextEndChunk(ChunkBase):
    type: Literal["text-end"] = "text-end"
    part_id: str


class ReasoningStartChunk(ChunkBase):
    type: Literal["reasoning-start"] = "reasoning-start"
    part_id: str


class ReasoningEndChunk(ChunkBase):
    type: Literal["reasoning-end"] = "reasoning-end"
    part_id: str


class TextDeltaChunk(ChunkBase):
    type: Literal["text-delta"] = "text-delta"
    part_id: str
    delta: str


class ReasoningDeltaChunk(ChunkBase):
    type: Literal["reasoning-delta"] = "reasoning-delta"
    part_id: str
    delta: str


class ToolInputStartChunk(ChunkBase):
    type: Literal["tool-input-start"] = "tool-input-start"
    tool_call_id: str
    tool_name: str


class ToolInputDeltaChunk(ChunkBase):
    type: Literal["tool-input-delta"] = "tool-input-delta"
    tool_call_id: str
    delta: str


class ToolInputAvailableChunk(ChunkBase):
    type: Literal["tool-input-available"] = "tool-input-available"
    tool_call_id: str
    tool_name: str
    input: Any = None
    #: The tool runs in the client (``@tool(execute="client")``).
    client: bool | None = None


class ToolOutputChunk(ChunkBase):
    type: Literal["tool-output"] = "tool-output"
    tool_call_id: str
    output: Any = None


class ToolErrorChunk(ChunkBase):
    type: Literal["tool-error"] = "tool-error"
    tool_call_id: str
    error: str
    #: True when the model's arguments failed validation (the UI's ``tool-input-error``).
    input_error: bool | None = None
    tool_name: str | None = None
    input: Any = None


class ToolApprovalRequestChunk(ChunkBase):
    type: Literal["tool-approval-request"] = "tool-approval-request"
    tool_call_id: str
    approval_id: str


class ToolApprovalResponseChunk(ChunkBase):
    """The decision on a gated call, written by the resume that applies it (just before the
    call's output or denial), so that a reader rebuilding the turn from its stream learns it
    too: AI SDK v7's ``tool-approval-response``."""

    type: Literal["tool-approval-response"] = "tool-approval-response"
    tool_call_id: str
    approval_id: str
    approved: bool
    reason: str | None = None


class ToolOutputDeniedChunk(ChunkBase):
    type: Literal["tool-output-denied"] = "tool-output-denied"
    tool_call_id: str
    reason: str | None = None


class SubagentStartChunk(ChunkBase):
    type: Literal["subagent-start"] = "subagent-start"
    child_session_id: str
    child_agent_type: str
    tool_call_id: str


class SubagentEndChunk(ChunkBase):
    type: Literal["subagent-end"] = "subagent-end"
    child_session_id: str
    child_agent_type: str
    tool_call_id: str
    status: str
    output: Any = None


class CustomDataChunk(ChunkBase):
    """Custom data from a tool (``ctx.emit("weather", {...})``): UI ``data-<name>``."""

    type: Literal["data"] = "data"
    name: str
    data: Any = None
    id: str | None = None
    transient: bool | None = None


class SourceChunk(ChunkBase):
    """A source a tool cited (``ctx.emit_source``): UI ``source-url`` when it has a ``url``,
    ``source-document`` otherwise."""

    type: Literal["source"] = "source"
    source_id: str
    tool_call_id: str | None = None
    url: str | None = None
    title: str | None = None
    media_type: str | None = None
    filename: str | None = None


class ErrorChunk(ChunkBase):
    type: Literal["error"] = "error"
    message: str
    code: str | None = None


class OutputChunk(ChunkBase):
    """The run's structured output (``output_type``)."""

    type: Literal["output"] = "output"
    output: Any = None


Chunk = Annotated[
    RunStartChunk
    | RunEndChunk
    | StepStartChunk
    | StepEndChunk
    | StepResetChunk
    | TextStartChunk
    | TextDeltaChunk
    | TextEndChunk
    | ReasoningStartChunk
    | ReasoningDeltaChunk
    | ReasoningEndChunk
    | ToolInputStartChunk
    | ToolInputDeltaChunk
    | ToolInputAvailableChunk
    | ToolOutputChunk
    | ToolErrorChunk
    | ToolApprovalRequestChunk
    | ToolApprovalResponseChunk
    | ToolOutputDeniedChunk
    | SubagentStartChunk
    | SubagentEndChunk
    | CustomDataChunk
    | SourceChunk
    | ErrorChunk
    | OutputChunk,
    Field(discriminator="type"),
]

#: ``chunk_adapter.validate_python(d)`` / ``validate_json(s)`` parse any stored chunk.
chunk_adapter: TypeAdapter[Chunk] = TypeAdapter(Chunk, config=ConfigDict(defer_build=True))


class SequencedChunk(Record):
    """A chunk as read back from a stream: with its dense sequence number (1-based)."""

    seq: int
    chunk: Chunk
