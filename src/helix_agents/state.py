"""Session state, runs, sub-session references and suspensions: the rows of the V9 schema.

Timestamps are integer milliseconds since the epoch, as in the schema. The run statuses are
those of docs/invariants.md (invariant 8): a run is ``active`` while an instance works on it, ends ``completed``,
``failed`` or ``aborted`` (final), ``interrupted`` (soft stop, resumable), or returns at a
human boundary with one of the three ``suspended_*`` statuses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from ._base import Record
from .usage import Usage

__all__ = [
    "FINAL_STATUSES",
    "RESUMABLE_STATUSES",
    "SUSPENDED_STATUSES",
    "Checkpoint",
    "PendingToolCall",
    "RunRecord",
    "RunStatus",
    "SessionState",
    "SubSessionRef",
    "SuspensionContext",
]


class RunStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    SUSPENDED_CLIENT_TOOL = "suspended_client_tool"
    SUSPENDED_AWAITING_CHILDREN = "suspended_awaiting_children"
    SUSPENDED_STEP_PARTIAL = "suspended_step_partial"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_suspended(self) -> bool:
        return self in SUSPENDED_STATUSES


SUSPENDED_STATUSES = frozenset(
    {
        RunStatus.SUSPENDED_CLIENT_TOOL,
        RunStatus.SUSPENDED_AWAITING_CHILDREN,
        RunStatus.SUSPENDED_STEP_PARTIAL,
    }
)
FINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.ABORTED})
#: A new user turn may start from these (``completed`` included: that is multi-turn).
RESUMABLE_STATUSES = frozenset({RunStatus.INTERRUPTED}) | SUSPENDED_STATUSES


class PendingToolCall(Record):
    """A tool call waiting on a human or the client: an approval, or a client tool's result."""

    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["approval", "client"] = "client"
    approval_id: str | None = None
    #: The agent step that made the call.
    step: int | None = None
    expires_at: int | None = None
    #: Filled when the decision or result arrives; cleared once applied.
    decision: Literal["approved", "denied"] | None = None
    reason: str | None = None
    #: Arguments the person approved the call with instead of the model's (validated
    #: against the tool's schema when submitted); the call runs with them.
    edited_arguments: dict[str, Any] | None = None
    result: Any = None
    result_status: Literal["success", "error"] | None = None
    submitted_at: int | None = None


class SuspensionContext(Record):
    """Packed into ``__agents_states.suspension_context`` (camelCase JSON: the partial index
    reads ``$.expiresAt``)."""

    status: RunStatus
    suspended_step_id: str | None = None
    suspended_awaiting_children: list[str] = Field(default_factory=list)
    tracing_context: dict[str, Any] | None = None
    expires_at: int | None = None
    #: The instance that suspended, so that the next resume instance number is known.
    run_id: str | None = None
    detail: dict[str, Any] | None = None


class SessionState(Record):
    """One row of ``__agents_states``."""

    session_id: str
    agent_type: str
    stream_id: str
    status: RunStatus = RunStatus.ACTIVE
    step_count: int = 0
    custom_state: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    error: str | None = None
    failure_reason: str | None = None
    parent_session_id: str | None = None
    aborted: bool = False
    abort_reason: str | None = None
    user_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    pending_client_tool_calls: list[PendingToolCall] = Field(default_factory=list)
    completed_client_tool_calls: list[str] = Field(default_factory=list)
    suspension_context: SuspensionContext | None = None
    expires_at: int | None = None
    created_at: int = 0
    updated_at: int = 0


class RunRecord(Record):
    """One row of ``__agents_runs``: one instance (a turn, or a resume of a turn)."""

    run_id: str
    session_id: str
    turn: int
    status: RunStatus = RunStatus.ACTIVE
    step_count: int = 0
    started_at: int = 0
    completed_at: int | None = None


class SubSessionRef(Record):
    """One row of ``__agents_sub_session_refs``: a child session started by a tool call."""

    session_id: str
    sub_session_id: str
    agent_type: str
    parent_tool_call_id: str
    status: str = "active"
    #: NULL in rows written before V4 (and by runtimes that leave it out) reads as ephemeral.
    mode: Literal["persistent", "ephemeral"] = "ephemeral"
    name: str | None = None
    remote_json: dict[str, Any] | None = None
    started_at: int = 0
    completed_at: int | None = None


class Checkpoint(Record):
    """A message boundary of a session (one row of ``__agents_checkpoints``, or the
    session's current end): what :meth:`~helix_agents.executor.Executor.rewind` and
    :meth:`~helix_agents.executor.Executor.fork` take a session back to."""

    session_id: str
    #: The checkpoint's id: the messages before this sequence are the conversation there.
    sequence: int
    #: Agent steps (assistant messages) before the boundary.
    step: int
    #: ``turn``: a user message begins here; ``step``: an agent step begins here;
    #: ``head``: the session's end as it is now (not stored; listed while no run is active).
    kind: Literal["turn", "step", "head"]
    #: The session's state at the boundary (its stored JSON).
    state: dict[str, Any] = Field(default_factory=dict)
    #: The session's usage before the boundary (its own, sub-sessions' not included; tools'
    #: custom counters not included).
    usage: Usage = Field(default_factory=Usage)
    created_at: int = 0
