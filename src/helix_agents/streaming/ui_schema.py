"""The AI SDK UI message stream chunks, defined once, and the strict checker derived from them.

Each chunk ``type`` of the protocol (docs/streaming.md: ``ai@6.0.264``, and what v7 adds) is a
``TypedDict`` below: its keys, which are required, and each value's JSON type. Three things
come from these definitions and nothing else:

- the encoder (``ui.py``) is typed against them, so mypy checks that every chunk it builds
  has exactly the documented keys (they are plain dicts at run time: no cost per chunk);
- the strict checker (:func:`ui_chunk_problems`, :data:`UI_CHUNK_KEYS`), used by the tests
  of every layer that produces UI chunks (the encoder imports only the types, for mypy, so
  the Worker never loads this module to stream): a chunk passes only with its required keys, no key
  outside the documented ones, no null value, and values of the documented JSON type
  (``ai@6.0.0`` validated chunks strictly, unknown keys rejected);
- the ``UIChunk`` schema of ``/openapi.json`` (pydantic's JSON schema of :data:`UIChunk`).

A value the SDK types ``unknown`` is :data:`JsonValue`: any JSON value, except that we never
send null (a key without a value is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, NotRequired, get_args, get_origin, get_type_hints

from pydantic import ConfigDict, StringConstraints, WithJsonSchema, with_config

# pydantic reads TypedDicts from typing_extensions only, before Python 3.12.
from typing_extensions import TypedDict

from ..errors import StreamError

__all__ = [
    "UI_CHUNK_KEYS",
    "UI_CHUNK_TYPES_V6",
    "UI_CHUNK_TYPES_V7",
    "FinishReason",
    "JsonValue",
    "UIChunk",
    "check_ui_chunk",
    "ui_chunk_problems",
]

#: Any JSON value but null (the SDK's ``unknown``).
JsonValue = Annotated[Any, WithJsonSchema({"not": {"type": "null"}})]
JsonObject = dict[str, Any]
FinishReason = Literal["stop", "length", "content-filter", "tool-calls", "error", "other"]

_strict = with_config(ConfigDict(extra="forbid"))


# -- the message and its steps ---------------------------------------------------------------


@_strict
class StartUIChunk(TypedDict):
    type: Literal["start"]
    messageId: NotRequired[str]
    messageMetadata: NotRequired[JsonValue]


@_strict
class StartStepUIChunk(TypedDict):
    type: Literal["start-step"]


@_strict
class FinishStepUIChunk(TypedDict):
    type: Literal["finish-step"]


@_strict
class FinishUIChunk(TypedDict):
    type: Literal["finish"]
    finishReason: NotRequired[FinishReason]
    messageMetadata: NotRequired[JsonValue]


@_strict
class AbortUIChunk(TypedDict):
    type: Literal["abort"]
    reason: NotRequired[str]


@_strict
class MessageMetadataUIChunk(TypedDict):
    type: Literal["message-metadata"]
    messageMetadata: JsonValue


@_strict
class ErrorUIChunk(TypedDict):
    type: Literal["error"]
    errorText: str


# -- text and reasoning ----------------------------------------------------------------------


@_strict
class TextStartUIChunk(TypedDict):
    type: Literal["text-start"]
    id: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class TextDeltaUIChunk(TypedDict):
    type: Literal["text-delta"]
    id: str
    delta: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class TextEndUIChunk(TypedDict):
    type: Literal["text-end"]
    id: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class ReasoningStartUIChunk(TypedDict):
    type: Literal["reasoning-start"]
    id: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class ReasoningDeltaUIChunk(TypedDict):
    type: Literal["reasoning-delta"]
    id: str
    delta: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class ReasoningEndUIChunk(TypedDict):
    type: Literal["reasoning-end"]
    id: str
    providerMetadata: NotRequired[JsonObject]


# -- tools -----------------------------------------------------------------------------------


@_strict
class ToolInputStartUIChunk(TypedDict):
    type: Literal["tool-input-start"]
    toolCallId: str
    toolName: str
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]
    toolMetadata: NotRequired[JsonObject]
    dynamic: NotRequired[bool]
    title: NotRequired[str]


@_strict
class ToolInputDeltaUIChunk(TypedDict):
    type: Literal["tool-input-delta"]
    toolCallId: str
    inputTextDelta: str


@_strict
class ToolInputAvailableUIChunk(TypedDict):
    type: Literal["tool-input-available"]
    toolCallId: str
    toolName: str
    input: NotRequired[JsonValue]
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]
    toolMetadata: NotRequired[JsonObject]
    dynamic: NotRequired[bool]
    title: NotRequired[str]


@_strict
class ToolInputErrorUIChunk(TypedDict):
    type: Literal["tool-input-error"]
    toolCallId: str
    toolName: str
    errorText: str
    input: NotRequired[JsonValue]
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]
    toolMetadata: NotRequired[JsonObject]
    dynamic: NotRequired[bool]
    title: NotRequired[str]


@_strict
class ToolApprovalRequestUIChunk(TypedDict):
    type: Literal["tool-approval-request"]
    approvalId: str
    toolCallId: str
    signature: NotRequired[str]


@_strict
class ToolOutputAvailableUIChunk(TypedDict):
    type: Literal["tool-output-available"]
    toolCallId: str
    output: NotRequired[JsonValue]
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]
    toolMetadata: NotRequired[JsonObject]
    dynamic: NotRequired[bool]
    preliminary: NotRequired[bool]


@_strict
class ToolOutputErrorUIChunk(TypedDict):
    type: Literal["tool-output-error"]
    toolCallId: str
    errorText: str
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]
    toolMetadata: NotRequired[JsonObject]
    dynamic: NotRequired[bool]


@_strict
class ToolOutputDeniedUIChunk(TypedDict):
    type: Literal["tool-output-denied"]
    toolCallId: str


# -- sources, files, data --------------------------------------------------------------------


@_strict
class SourceUrlUIChunk(TypedDict):
    type: Literal["source-url"]
    sourceId: str
    url: str
    title: NotRequired[str]
    providerMetadata: NotRequired[JsonObject]


@_strict
class SourceDocumentUIChunk(TypedDict):
    type: Literal["source-document"]
    sourceId: str
    mediaType: str
    title: str
    filename: NotRequired[str]
    providerMetadata: NotRequired[JsonObject]


@_strict
class FileUIChunk(TypedDict):
    type: Literal["file"]
    url: str
    mediaType: str
    providerMetadata: NotRequired[JsonObject]


@_strict
class DataUIChunk(TypedDict):
    """``data-<name>``: an app's own part; ``transient`` ones reach ``onData`` only."""

    type: Annotated[str, StringConstraints(pattern=r"^data-.+")]
    id: NotRequired[str]
    data: NotRequired[JsonValue]
    transient: NotRequired[bool]


# -- added by v7 (sent with ``ui_version=7`` only) -------------------------------------------


@_strict
class ResetStepUIChunk(TypedDict):
    type: Literal["reset-step"]


@_strict
class ToolApprovalResponseUIChunk(TypedDict):
    type: Literal["tool-approval-response"]
    approvalId: str
    approved: bool
    reason: NotRequired[str]
    providerExecuted: NotRequired[bool]
    providerMetadata: NotRequired[JsonObject]


#: Every chunk type of v6, in the protocol's order.
UI_CHUNK_TYPES_V6: Final = (
    StartUIChunk,
    StartStepUIChunk,
    TextStartUIChunk,
    TextDeltaUIChunk,
    TextEndUIChunk,
    ReasoningStartUIChunk,
    ReasoningDeltaUIChunk,
    ReasoningEndUIChunk,
    ToolInputStartUIChunk,
    ToolInputDeltaUIChunk,
    ToolInputAvailableUIChunk,
    ToolInputErrorUIChunk,
    ToolApprovalRequestUIChunk,
    ToolOutputAvailableUIChunk,
    ToolOutputErrorUIChunk,
    ToolOutputDeniedUIChunk,
    SourceUrlUIChunk,
    SourceDocumentUIChunk,
    FileUIChunk,
    ErrorUIChunk,
    FinishStepUIChunk,
    FinishUIChunk,
    AbortUIChunk,
    MessageMetadataUIChunk,
    DataUIChunk,
)
#: What v7 adds.
UI_CHUNK_TYPES_V7: Final = (ResetStepUIChunk, ToolApprovalResponseUIChunk)

#: Any UI chunk the server may send (v7's only with ``ui_version=7``).
UIChunk = (
    StartUIChunk
    | StartStepUIChunk
    | TextStartUIChunk
    | TextDeltaUIChunk
    | TextEndUIChunk
    | ReasoningStartUIChunk
    | ReasoningDeltaUIChunk
    | ReasoningEndUIChunk
    | ToolInputStartUIChunk
    | ToolInputDeltaUIChunk
    | ToolInputAvailableUIChunk
    | ToolInputErrorUIChunk
    | ToolApprovalRequestUIChunk
    | ToolOutputAvailableUIChunk
    | ToolOutputErrorUIChunk
    | ToolOutputDeniedUIChunk
    | SourceUrlUIChunk
    | SourceDocumentUIChunk
    | FileUIChunk
    | ErrorUIChunk
    | FinishStepUIChunk
    | FinishUIChunk
    | AbortUIChunk
    | MessageMetadataUIChunk
    | DataUIChunk
    | ResetStepUIChunk
    | ToolApprovalResponseUIChunk
)


# -- the checker, derived from the definitions above -----------------------------------------

_Check = Callable[[Any], bool]
_Keys = dict[str, _Check]
_Shape = tuple[_Keys, _Keys]


def _any(v: Any) -> bool:
    return True


def _check_for(hint: Any) -> _Check:
    """The JSON type check of one annotation (nulls are refused separately, for every key)."""
    origin = get_origin(hint)
    if origin is NotRequired:
        return _check_for(get_args(hint)[0])
    if origin is Annotated:
        return _check_for(get_args(hint)[0])
    if hint is Any:
        return _any
    if origin is Literal:
        allowed = frozenset(get_args(hint))
        return lambda v: isinstance(v, str) and v in allowed
    kind = origin or hint
    if kind is bool:
        return lambda v: isinstance(v, bool)
    if kind is str:
        return lambda v: isinstance(v, str)
    if kind is dict:
        return lambda v: isinstance(v, dict)
    raise TypeError(f"no JSON check for {hint!r}")  # a new annotation needs one here


def _shape(chunk_type: type) -> tuple[str | None, _Shape]:
    """The chunk's ``type`` (None for ``data-<name>``) and its required and optional keys."""
    hints = get_type_hints(chunk_type, include_extras=True)
    type_hint = hints.pop("type")
    literal = get_args(type_hint)[0] if get_origin(type_hint) is Literal else None
    # Not ``__required_keys__``: under ``from __future__ import annotations`` it cannot see
    # ``NotRequired`` (PEP 655), so every key would read as required.
    required = {k: _check_for(h) for k, h in hints.items() if get_origin(h) is not NotRequired}
    optional = {k: _check_for(h) for k, h in hints.items() if get_origin(h) is NotRequired}
    return literal, (required, optional)


def _table(chunk_types: tuple[type, ...]) -> dict[str, _Shape]:
    return {name: shape for name, shape in map(_shape, chunk_types) if name is not None}


#: type -> (required keys, optional keys), each key with its value check; v6.
UI_CHUNK_KEYS: Final[dict[str, _Shape]] = _table(UI_CHUNK_TYPES_V6)
#: ``data-${name}``: ``data`` is ``unknown`` (may be absent), ``id`` and ``transient`` optional.
_DATA_KEYS: Final[_Shape] = _shape(DataUIChunk)[1]
#: Added by v7, which we emit with ``ui_version=7``.
_V7_KEYS: Final[dict[str, _Shape]] = _table(UI_CHUNK_TYPES_V7)


def ui_chunk_problems(chunk: Mapping[str, Any], *, ui_version: int = 6) -> list[str]:
    """Everything wrong with ``chunk`` as a UI chunk of ``ui_version``; empty if valid."""
    kind = chunk.get("type")
    if not isinstance(kind, str):
        return [f"'type' must be a string, got {kind!r}"]
    if kind.startswith("data-") and len(kind) > len("data-"):
        required, optional = _DATA_KEYS
    elif kind in UI_CHUNK_KEYS:
        required, optional = UI_CHUNK_KEYS[kind]
    elif ui_version >= 7 and kind in _V7_KEYS:
        required, optional = _V7_KEYS[kind]
    else:
        return [f"unknown chunk type {kind!r} for AI SDK v{ui_version}"]
    problems = [f"{kind}: missing {key!r}" for key in required if key not in chunk]
    for key, value in chunk.items():
        if key == "type":
            continue
        check = required.get(key) or optional.get(key)
        if check is None:
            problems.append(f"{kind}: undocumented key {key!r}")
        elif value is None:
            problems.append(f"{kind}: {key!r} is null")
        elif not check(value):
            problems.append(f"{kind}: {key!r} has a wrong value {value!r}")
    return problems


def check_ui_chunk(chunk: Mapping[str, Any], *, ui_version: int = 6) -> None:
    """Raise StreamError listing the problems of an invalid UI chunk."""
    problems = ui_chunk_problems(chunk, ui_version=ui_version)
    if problems:
        raise StreamError("invalid UI chunk: " + "; ".join(problems))
