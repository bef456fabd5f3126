"""What an instance is started with, and what its steps and the instance return.

Everything here crosses a durable boundary (instance params, step results, instance
output), so it is JSON, compact (step results stay far below the 1 MiB limit: messages go
to the database, steps return summaries) and camelCase like the rest of our records.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .._base import Record
from ..messages import ToolCall

__all__ = [
    "ModelStepResult",
    "ParentLink",
    "PlannedCall",
    "RunParams",
    "RunResult",
    "ToolStepResult",
]


class ParentLink(Record):
    """Set when the run is a sub-agent's: where its chunks and its end are reported."""

    session_id: str
    run_id: str
    stream_id: str
    tool_call_id: str
    agent_type: str


class PlannedCall(Record):
    """A server tool call to run as a tool step, and where its result message goes."""

    call: ToolCall
    sequence: int


class RunParams(Record):
    """The payload of one run instance: a turn, or the resume of one."""

    session_id: str
    agent_type: str
    run_id: str
    turn: int
    resume: int = 0
    mode: Literal["fresh", "resume"] = "fresh"
    stream_id: str
    #: The sequence number of the first message this instance writes.
    base_sequence: int
    #: The agent step this instance starts at (1 for a fresh turn; later for a resume).
    start_step: int = 1
    #: Tool calls of the last assistant message still to run before the next model call
    #: (a resume after an interrupt that came between the model call and its tools).
    pending_tool_calls: list[PlannedCall] = Field(default_factory=list)
    #: The UI message id of the turn's assistant message (stable across resumes).
    message_id: str
    user_id: str | None = None
    parent: ParentLink | None = None


class ModelStepResult(Record):
    """The compact summary a model step returns (its message is in the database)."""

    final: bool = False
    status: str | None = None
    #: Server tool calls to run as tool steps, in the order of the response.
    tool_calls: list[PlannedCall] = Field(default_factory=list)
    #: The sequence number after every message of this agent step (tool results included).
    next_sequence: int
    output: Any = None
    error: str | None = None


class ToolStepResult(Record):
    status: Literal["success", "error", "denied"] = "success"
    #: Custom-state keys the tool set, replayed into memory when the step is not re-run.
    state_patch: dict[str, Any] = Field(default_factory=dict)


class RunResult(Record):
    """The instance's output (``status()["output"]`` on Workflows)."""

    session_id: str
    run_id: str
    status: str
    output: Any = None
    error: str | None = None
