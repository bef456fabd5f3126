"""The Model port: one LLM request, streamed.

Contract: ``stream(request)`` is an async iterator of events: any number of
:class:`TextDelta`, :class:`ReasoningDelta`, :class:`ToolCallDelta` and :class:`DataPart`,
then exactly one :class:`ModelResponse`, last, with the complete text, tool calls (arguments
parsed) and usage. Provider adapters send no ``DataPart``: it is for models that wrap
another and have something to tell the client (``cached_model``'s hit or miss).
Failures raise :class:`helix_agents.errors.ModelError` subclasses: an adapter retries what is
worth retrying (429, 5xx, dropped connections) itself before raising.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard, runtime_checkable

from ..messages import AssistantMessage, Message, ToolCall
from ..usage import Usage

__all__ = [
    "DataPart",
    "Model",
    "ModelEvent",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ReasoningDelta",
    "TextDelta",
    "ToolCallDelta",
    "ToolDefinition",
    "is_model",
]


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    name: str
    description: str
    #: A JSON schema object for the arguments.
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelSettings:
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelRequest:
    system: str
    messages: list[Message]
    tools: list[ToolDefinition] = field(default_factory=list)
    settings: ModelSettings = field(default_factory=ModelSettings)
    #: When set, the model must end by calling this tool (structured output).
    output_tool: str | None = None
    #: The bytes of the files the user messages reference (``FilePart.key``), for a model
    #: that reads files (``accepts_files = True``; ``helix_agents.file_parts``).
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class DataPart:
    """Custom data for the stream: the loop writes it as a ``data-<name>`` part, as a tool's
    ``ctx.emit(name, data)`` is. It is not part of the response (nor of the history)."""

    name: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call. ``index`` identifies the call within the response;
    ``id`` and ``name`` come with the first delta of a call, later deltas may omit them."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""


@dataclass(frozen=True, slots=True)
class ModelResponse:
    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    #: ``stop``, ``tool-calls``, ``length``, ``content-filter``, ``error`` or ``other``.
    finish_reason: str = "stop"
    model_name: str | None = None
    #: The name of the Model that answered, when a model that delegates to others (a
    #: :class:`~helix_agents.models.fallback.FallbackModel`) did not answer itself; the
    #: usage record names it instead of the agent's model.
    served_by: str | None = None
    #: The models tried before ``served_by``, each as ``"<name>: <error>"``, in order.
    failed_over: tuple[str, ...] = ()

    def to_message(self, *, step: int | None = None, id: str | None = None) -> AssistantMessage:
        return AssistantMessage(
            content=self.text,
            reasoning=self.reasoning,
            tool_calls=list(self.tool_calls),
            step=step,
            id=id,
            finish_reason=self.finish_reason,
        )


ModelEvent = TextDelta | ReasoningDelta | ToolCallDelta | DataPart | ModelResponse


@runtime_checkable
class Model(Protocol):
    """A model may also say ``accepts_files = True``: it is then given the bytes of the
    files user messages carry (``ModelRequest.files``) instead of a note about them."""

    #: A short name for logs and usage records, e.g. ``openai:gpt-4o-mini``.
    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one response; the last event is the ModelResponse."""
        ...


def is_model(value: object) -> TypeGuard[Model]:
    """``isinstance(value, Model)``. Every model step resolves its model, and on CPython
    3.11 a runtime-checkable protocol's isinstance walks the protocol's classes on every
    call (about 13 µs): there, the same check is made directly, as 3.11's isinstance makes
    it (``hasattr`` of each member; a method set to None opts out). From 3.12 on (the
    Worker's Pyodide), isinstance is fast, and looks members up statically: it is used as
    it is. tests/models/test_infer_model.py checks that the two agree."""
    if sys.version_info >= (3, 12):
        return isinstance(value, Model)
    return hasattr(value, "name") and getattr(value, "stream", None) is not None
