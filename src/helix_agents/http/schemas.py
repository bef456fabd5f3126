"""The shapes of the API's JSON responses, defined once.

The handlers build their answers through these models, and ``/openapi.json`` takes its
response schemas from them (``openapi.py``), so what the document says and what the server
sends cannot drift apart. Request shapes live in ``bodies.py``; AI SDK UI stream chunks in
``streaming/ui_schema.py``.

Models dump with :func:`dump`: camelCase keys, Python values (a float stays a float, NaN
included: the JSON response renders it as a string). A key that the server leaves out when it
has no value is typed ``X | SkipJsonSchema[None]`` and dumped with ``exclude_none``, so the
document says "absent or X", never "null". Builds are deferred to first use (the Worker's cold
start pays for none of them).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, with_config
from pydantic.json_schema import SkipJsonSchema

# pydantic reads TypedDicts from typing_extensions only, before Python 3.12.
from typing_extensions import TypedDict

from ..usage import Usage

__all__ = [
    "ERROR_CODES",
    "ActiveRun",
    "AgentInfo",
    "Agents",
    "ApprovalInfo",
    "DataUIPart",
    "Error",
    "ErrorDetail",
    "FileUIPart",
    "Health",
    "MessagePage",
    "ReasoningUIPart",
    "RunAccepted",
    "RunInfo",
    "Runs",
    "SessionSummary",
    "Sessions",
    "Snapshot",
    "SnapshotPage",
    "SourceDocumentUIPart",
    "SourceUrlUIPart",
    "StepStartUIPart",
    "StorageOutage",
    "StoredMessage",
    "SubmissionResult",
    "TextUIPart",
    "ToolUIPart",
    "UIMessage",
    "UIMessagePart",
    "Usage",
    "Waiting",
    "dump",
]

#: The codes clients most often switch on (documentation: the list is open).
ERROR_CODES: Final = (
    "bad_request",
    "malformed_json",
    "invalid_id",
    "invalid_cursor",
    "unauthorized",
    "forbidden",
    "origin_refused",
    "cors_refused",
    "not_found",
    "session_not_found",
    "schedule_not_found",
    "stream_not_found",
    "method_not_allowed",
    "upgrade_required",
    "conflict",
    "payload_too_large",
    "value_too_large",
    "unsupported_media_type",
    "files_not_supported",
    "invalid_request",
    "invalid_tool_submission",
    "unknown_agent",
    "invalid_schedule",
    "storage_unavailable",
)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def dump(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """The JSON-ready dict of a response model (by alias; Python values)."""
    return model.model_dump(by_alias=True, exclude_none=exclude_none)


# -- errors ------------------------------------------------------------------------------------


class ErrorDetail(_Response):
    code: str = Field(examples=list(ERROR_CODES), description="Machine-readable; stable.")
    message: str = Field(description="For people; may change.")


class Error(_Response):
    """Every error the API answers: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


# -- runs ------------------------------------------------------------------------------------


class RunAccepted(_Response):
    """A steering request accepted: the run (and, for a resume, its turn) it applies to."""

    session_id: str = Field(alias="sessionId")
    run_id: str = Field(alias="runId")
    turn: int | SkipJsonSchema[None] = None
    status: Literal["interrupting", "aborted", "active"]


class SubmissionResult(_Response):
    """A tool result or an approval decision accepted."""

    session_id: str = Field(alias="sessionId", description="The session holding the call.")
    tool_call_id: str = Field(alias="toolCallId")
    kind: Literal["approval", "client"]
    decision: Literal["approved", "denied"] | None = Field(
        description="The decision, for an approval; null for a client tool's result."
    )
    still_pending: list[str] = Field(
        alias="stillPending", description="Calls of the session that still wait."
    )
    resumed_run_id: str | None = Field(
        alias="resumedRunId", description="The run instance the submission resumed, if any."
    )


class Waiting(_Response):
    """A `useChat` post whose answers left other calls waiting: nothing runs yet."""

    session_id: str = Field(alias="sessionId")
    status: Literal["waiting"]
    still_pending: list[str] = Field(alias="stillPending")


# -- the snapshot ------------------------------------------------------------------------------

#: The tool part states of the AI SDK that a snapshot shows.
ToolState = Literal[
    "input-available",
    "approval-requested",
    "approval-responded",
    "output-available",
    "output-error",
    "output-denied",
]


@with_config(ConfigDict(extra="forbid"))
class ApprovalInfo(TypedDict):
    """A gated call's approval: the request's id, and once decided, the decision."""

    id: str
    approved: NotRequired[bool]
    reason: NotRequired[str]


@with_config(ConfigDict(extra="forbid"))
class TextUIPart(TypedDict):
    type: Literal["text"]
    text: str
    state: NotRequired[Literal["done"]]


@with_config(ConfigDict(extra="forbid"))
class ReasoningUIPart(TypedDict):
    type: Literal["reasoning"]
    text: str
    state: Literal["done"]


@with_config(ConfigDict(extra="forbid"))
class StepStartUIPart(TypedDict):
    type: Literal["step-start"]


@with_config(ConfigDict(extra="forbid"))
class ToolUIPart(TypedDict):
    """`tool-<name>`: a tool call in one of its states."""

    type: Annotated[str, StringConstraints(pattern=r"^tool-.+")]
    toolCallId: str
    input: Any
    state: ToolState
    output: NotRequired[Any]
    errorText: NotRequired[str]
    approval: NotRequired[ApprovalInfo]


@with_config(ConfigDict(extra="forbid"))
class DataUIPart(TypedDict):
    """`data-<name>` (a snapshot shows `data-output`: a turn's structured output)."""

    type: Annotated[str, StringConstraints(pattern=r"^data-.+")]
    id: NotRequired[str]
    data: Any


@with_config(ConfigDict(extra="forbid"))
class SourceUrlUIPart(TypedDict):
    """`source-url`: a source a tool cited, with its URL."""

    type: Literal["source-url"]
    sourceId: str
    url: str
    title: NotRequired[str]


@with_config(ConfigDict(extra="forbid"))
class SourceDocumentUIPart(TypedDict):
    """`source-document`: a source a tool cited, without a URL."""

    type: Literal["source-document"]
    sourceId: str
    mediaType: str
    title: str
    filename: NotRequired[str]


@with_config(ConfigDict(extra="forbid"))
class FileUIPart(TypedDict):
    """`file`: a file the person attached (an image, a PDF, a text), as a data URL."""

    type: Literal["file"]
    mediaType: str
    url: str
    filename: NotRequired[str]


UIMessagePart = (
    TextUIPart
    | ReasoningUIPart
    | StepStartUIPart
    | ToolUIPart
    | DataUIPart
    | SourceUrlUIPart
    | SourceDocumentUIPart
    | FileUIPart
)


@with_config(ConfigDict(extra="forbid"))
class UIMessage(TypedDict):
    """A stored message as the AI SDK's `UIMessage`."""

    id: str
    role: Literal["user", "assistant"]
    parts: list[UIMessagePart]
    metadata: NotRequired[dict[str, Any]]


class ActiveRun(_Response):
    run_id: str = Field(alias="runId")
    turn: int
    message_id: str = Field(alias="messageId")
    last_sequence: int = Field(alias="lastSequence")


RunStatusName = Literal[
    "active",
    "completed",
    "failed",
    "aborted",
    "interrupted",
    "suspended_client_tool",
    "suspended_awaiting_children",
    "suspended_step_partial",
]


class Snapshot(_Response):
    """A session as a client needs it to draw the conversation."""

    session_id: str = Field(alias="sessionId")
    agent_type: str = Field(alias="agentType")
    status: RunStatusName
    run_id: str | None = Field(alias="runId")
    turn: int
    message_id: str | None = Field(
        alias="messageId", description="The UI message id of the latest run."
    )
    last_sequence: int = Field(
        alias="lastSequence",
        description="The position of the last chunk of the latest turn's stream (what a "
        "cursor names).",
    )
    active_run: ActiveRun | None = Field(
        alias="activeRun",
        description="Set while a run is active. `messages` then stops where the current turn "
        "began (its assistant message left out); replaying the turn's stream from its start "
        "(GET /chat/{sessionId}/stream without a cursor) adds all of it.",
    )
    messages: list[UIMessage]
    page: SnapshotPage = Field(
        description="Which part of the history `messages` holds: the latest turns that fit "
        "the page's `limit` of stored messages (`?limit=`, `?before=`)."
    )
    output: Any = Field(description="The latest structured output, if the agent has one.")
    error: str | None
    usage: Usage = Field(description="The session's usage, its sub-sessions' included.")
    state: dict[str, Any] = Field(
        default_factory=dict,
        description="The session's state (its agent's state model as JSON); tools' changes "
        "stream as `data-state-patch` parts (JSON Patch).",
    )
    created_at: int = Field(alias="createdAt")
    updated_at: int = Field(alias="updatedAt")


class SnapshotPage(_Response):
    """The page of the history a snapshot shows. It starts at a turn (a user message), so
    no UI message is cut in two, unless a single turn is longer than the page."""

    has_more: bool = Field(
        alias="hasMore", description="Older messages exist: ask with `?before=` this `before`."
    )
    before: int | None = Field(
        description="The sequence of the page's first stored message (the cursor for the "
        "older page), or null for an empty page."
    )
    limit: int = Field(description="The most stored messages the page could hold.")


class StoredMessage(_Response):
    sequence: int = Field(description="The message's position in the session (0-based).")
    message: dict[str, Any] = Field(
        description="The stored message: `role` `user`, `assistant` or `tool`, as the "
        "model sees it (hidden messages included)."
    )


class MessagePage(_Response):
    """A page of a session's stored history, in sequence order."""

    session_id: str = Field(alias="sessionId")
    messages: list[StoredMessage]
    has_more: bool = Field(
        alias="hasMore",
        description="More messages exist past the page: older ones (`?before=` the "
        "page's `before`) for a page read backwards (the default), newer ones (`?after=` "
        "the page's `after`) for one read forwards with `after`.",
    )
    before: int | None = Field(description="The page's first sequence (null when empty).")
    after: int | None = Field(description="The page's last sequence (null when empty).")


class RunInfo(_Response):
    """One run (an instance: a turn, or a resume of one)."""

    run_id: str = Field(alias="runId")
    turn: int
    status: RunStatusName
    step_count: int = Field(alias="stepCount")
    started_at: int = Field(alias="startedAt")
    completed_at: int | None = Field(alias="completedAt")


class Runs(_Response):
    """A session's runs, newest first, and the one active now (if any)."""

    session_id: str = Field(alias="sessionId")
    runs: list[RunInfo]
    current: RunInfo | None = Field(description="The active run, if one is.")
    can_resume: bool = Field(
        alias="canResume",
        description="The latest run was interrupted: `POST /chat/{sessionId}/resume` continues it.",
    )


# -- discovery -------------------------------------------------------------------------------


class AgentInfo(_Response):
    name: str
    description: str | None
    tools: list[str]
    structured_output: bool = Field(alias="structuredOutput")
    model: str = Field(description="The model the agent names: `openai:gpt-4o-mini`, `demo`...")
    offline_demo: bool = Field(
        alias="offlineDemo",
        description="The offline demo model answers (a few fixed rules, no LLM): a client "
        "should say so.",
    )


class Agents(_Response):
    agents: list[AgentInfo]


class SessionSummary(_Response):
    """One line of the sessions list."""

    session_id: str = Field(alias="sessionId")
    agent_type: str = Field(alias="agentType")
    status: RunStatusName
    waiting_for: Literal["approval", "tool-result"] | SkipJsonSchema[None] = Field(
        default=None,
        alias="waitingFor",
        description="What a run suspended at a human boundary (`suspended_client_tool`, "
        "`suspended_step_partial`) waits on: a person's decision, or a client tool's result.",
    )
    title: str = Field(description="The session's first message, cut to 80 characters.")
    created_at: int = Field(alias="createdAt")
    updated_at: int = Field(alias="updatedAt")


class Sessions(_Response):
    """The caller's top-level sessions (not sub-agents'), most recently updated first."""

    sessions: list[SessionSummary]


class StorageOutage(_Response):
    """Why the host's storage takes no writes (a full or failing disk), since when."""

    reason: Literal["disk full", "I/O error"]
    message: str = Field(description="`storage unavailable: <reason>`, for people.")
    detail: str = Field(description="The failed write, as the database reported it.")
    since: int = Field(description="The first failed write, ms since the epoch.")
    failures: int = Field(description="Failed writes since then.")


class Health(_Response):
    status: Literal["ok", "unavailable"]
    storage: StorageOutage | SkipJsonSchema[None] = Field(
        default=None,
        description="Present while the storage takes no writes (status `unavailable`, 503).",
    )
