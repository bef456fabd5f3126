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
from ..state import RunStatus
from ..usage import Usage

__all__ = [
    "EndStepResult",
    "ModelStepResult",
    "ParentLink",
    "PlannedCall",
    "Resolution",
    "RunParams",
    "RunResult",
    "ToolStepResult",
]

#: How a resumed instance settles a call that waited on a human or the client:
#: ``approved`` runs the tool, ``denied`` writes a denial, ``client`` writes the client's
#: result, ``expired`` writes an expiry error (the run then fails).
Resolution = Literal["approved", "denied", "client", "expired"]


class ParentLink(Record):
    """Set when the run is a sub-agent's: where its chunks and its end are reported."""

    session_id: str
    run_id: str
    stream_id: str
    tool_call_id: str
    agent_type: str
    #: Forward the child's chunks to ``stream_id`` (the parent waits on the child). A
    #: non-blocking companion streams to its own stream instead, since the parent's stream
    #: may end long before the child does.
    forward: bool = True


class PlannedCall(Record):
    """A tool call to run as a tool step, and where its result message goes.

    ``resolution`` is set in a resume instance for a call that waited on a decision or a
    client result; the decision itself is read from the session inside the step."""

    call: ToolCall
    sequence: int
    resolution: Resolution | None = None


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
    #: The session's parent, for a child session (sub-agent or companion): its run's end is
    #: reported there, whether or not the parent is waiting (``parent``).
    parent_session_id: str | None = None
    #: Calls of the last response that still wait on a decision or a client result: the
    #: instance runs what it can, then suspends again.
    waiting_calls: list[str] = Field(default_factory=list)
    #: Set when the suspension this instance resumes has expired: the instance writes an
    #: expiry result for every unsettled call and ends the run ``failed`` with this reason.
    expired: str | None = None
    #: What earlier instances of this turn used (the agent's usage limits count per turn).
    usage_before: Usage = Field(default_factory=Usage)
    #: The W3C ``traceparent`` of the span this instance's run span is a child of (a
    #: child's delegating call; a suspended instance; the span of the HTTP request that
    #: started the run, when it sent a valid ``traceparent``), when tracing is on. A root
    #: session's instances otherwise derive theirs from their ids (``tracing.steps``).
    trace_parent: str | None = None
    #: The W3C ``tracestate`` that came with ``trace_parent`` from an HTTP caller (or was
    #: kept by the suspension this instance resumes): the instance's spans carry it.
    trace_state: str | None = None


class ModelStepResult(Record):
    """The compact summary a model step returns (its message is in the database).

    ``final``: the step ended the run, with ``status`` (and ``output`` or ``error``)."""

    final: bool = False
    status: RunStatus | None = None
    #: Server tool calls to run as tool steps, in the order of the response.
    tool_calls: list[PlannedCall] = Field(default_factory=list)
    #: The sequence number after every message of this agent step (tool results included).
    next_sequence: int
    output: Any = None
    error: str | None = None
    #: Calls of this response that wait on an approval or a client result (ids).
    waiting_calls: list[str] = Field(default_factory=list)
    #: What this step's model call used (for the agent's usage limits).
    usage: Usage = Field(default_factory=Usage)


class ToolStepResult(Record):
    """``waiting``: a child was started or resumed and the loop must wait for its end
    (``event_type``); ``suspended`` / ``interrupted``: the child stopped at a boundary and
    the call has no result yet, so the run must stop too."""

    status: Literal["success", "error", "denied", "waiting", "suspended", "interrupted"] = "success"
    #: Custom-state keys the tool set, replayed into memory when the step is not re-run.
    state_patch: dict[str, Any] = Field(default_factory=dict)
    child_session_id: str | None = None
    child_run_id: str | None = None
    event_type: str | None = None


class EndStepResult(Record):
    """What a step that only ends the run returns (``suspend``, ``expire``, ``fail``):
    how the run ended, and the error of a failed one."""

    status: RunStatus
    error: str | None = None


class RunResult(Record):
    """The instance's output (``status()["output"]`` on Workflows)."""

    session_id: str
    run_id: str
    status: RunStatus
    output: Any = None
    error: str | None = None
