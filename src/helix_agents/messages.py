"""The messages of a conversation, as stored in ``__agents_messages.message`` (one JSON each).

A session's history is an ordered list of these, numbered by a deterministic ``sequence``.
The system prompt is not stored: it is computed from the agent at each model call.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from ._base import Record

__all__ = [
    "AssistantMessage",
    "FilePart",
    "Message",
    "Source",
    "ToolApproval",
    "ToolCall",
    "ToolResultMessage",
    "UserMessage",
    "is_hidden",
    "message_adapter",
]


class ToolCall(Record):
    """A tool call the model asked for. ``arguments`` is the parsed JSON object; when the
    model sent text that is not a JSON object, ``arguments`` is empty and ``raw_arguments``
    keeps the text so the error can be reported back to the model."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    #: The id the provider gave the call, when it is not ``id``: a provider that reuses ids
    #: across responses (``call_0`` in every step) has its calls renamed to stay unique
    #: within the session, and gets its own id back in the history it is sent.
    provider_id: str | None = None

    @property
    def wire_id(self) -> str:
        """The id to send the provider (its own)."""
        return self.provider_id or self.id


class FilePart(Record):
    """A file a person attached to a message (an AI SDK ``file`` part): its bytes live in
    the host's object storage under ``key``; the message keeps the reference."""

    key: str
    media_type: str
    filename: str | None = None
    size: int | None = None


class UserMessage(Record):
    role: Literal["user"] = "user"
    content: str
    #: Attached files (images, PDFs, text), stored in object storage (``http/files.py``).
    files: list[FilePart] | None = None
    id: str | None = None
    metadata: dict[str, Any] | None = None
    #: The turn this message started (stamped when the turn starts): a client that sends
    #: the same message id again (a network retry of ``POST /chat``) gets that turn.
    turn: int | None = None


def is_hidden(message: UserMessage) -> bool:
    """Whether a user message is hidden: sent to the model, never shown (its metadata says
    ``"hidden": true``; a client sends context the person did not type this way)."""
    return bool(message.metadata and message.metadata.get("hidden") is True)


class AssistantMessage(Record):
    """One model response: its text, its reasoning and the tool calls it made."""

    role: Literal["assistant"] = "assistant"
    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    id: str | None = None
    #: The agent step (1-based within the turn) that produced this response.
    step: int | None = None
    finish_reason: str | None = None


ToolResultStatus = Literal["success", "error", "denied"]


class ToolApproval(Record):
    """A person's decision on a call that waited for approval: the approval id of its
    request, yes or no, and the reason they gave (what an AI SDK tool part's ``approval``
    holds once decided)."""

    id: str
    approved: bool
    reason: str | None = None
    #: The arguments the call was approved and run with, when the person edited the
    #: model's (the assistant message keeps what the model asked for).
    arguments: dict[str, Any] | None = None


class Source(Record):
    """A source a tool cited (a retrieved passage's document or page): the AI SDK's
    ``source-url`` part when it has a ``url``, its ``source-document`` part otherwise."""

    source_id: str
    url: str | None = None
    title: str | None = None
    media_type: str | None = None
    filename: str | None = None


class ToolResultMessage(Record):
    """The result of one tool call. ``status`` tells the model (and the UI) whether the tool
    succeeded, raised, or was denied by a human. ``approval`` is the decision a gated call
    was run (or not run) on; the model is told of a denial by ``content``."""

    role: Literal["tool"] = "tool"
    tool_call_id: str
    tool_name: str
    content: Any = None
    status: ToolResultStatus = "success"
    id: str | None = None
    approval: ToolApproval | None = None
    #: The sources the tool cited (``ctx.emit_source``), kept so a reload shows them.
    sources: list[Source] | None = None


Message = Annotated[UserMessage | AssistantMessage | ToolResultMessage, Field(discriminator="role")]


#: ``message_adapter.validate_json(text)`` parses any stored message.
message_adapter: TypeAdapter[UserMessage | AssistantMessage | ToolResultMessage] = TypeAdapter(
    Message, config=ConfigDict(defer_build=True)
)
