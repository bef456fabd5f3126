"""A checker for AI SDK UI message stream chunks, written from the protocol's chunk table.

the AI SDK's UI message stream protocol (docs/streaming.md) lists, for each chunk ``type``, its keys in
``ai@6.0.264`` (and what v7 adds). ``ai@6.0.0`` validated chunks strictly (unknown keys
rejected), so this checker is strict too: a chunk passes only with its required keys, no
key outside the documented ones, no null value, and values of the documented JSON type.
Tests of every layer that produces UI chunks (the mapping, SSE, the HTTP API) use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..errors import StreamError

__all__ = ["UI_CHUNK_KEYS", "check_ui_chunk", "ui_chunk_problems"]

_Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _obj(v: Any) -> bool:
    return isinstance(v, dict)


def _any(v: Any) -> bool:
    return True


def _finish_reason(v: Any) -> bool:
    return v in {"stop", "length", "content-filter", "tool-calls", "error", "other"}


_Keys = dict[str, _Check]
_Shape = tuple[_Keys, _Keys]

_PROVIDER: Final[_Keys] = {"providerMetadata": _obj}
_TOOL_EXTRAS: Final[_Keys] = {
    "providerExecuted": _bool,
    "providerMetadata": _obj,
    "toolMetadata": _obj,
    "dynamic": _bool,
    "title": _str,
}

#: type -> (required keys, optional keys), each key with its value check; v6.0.264.
UI_CHUNK_KEYS: Final[dict[str, _Shape]] = {
    "start": ({}, {"messageId": _str, "messageMetadata": _any}),
    "start-step": ({}, {}),
    "text-start": ({"id": _str}, _PROVIDER),
    "text-delta": ({"id": _str, "delta": _str}, _PROVIDER),
    "text-end": ({"id": _str}, _PROVIDER),
    "reasoning-start": ({"id": _str}, _PROVIDER),
    "reasoning-delta": ({"id": _str, "delta": _str}, _PROVIDER),
    "reasoning-end": ({"id": _str}, _PROVIDER),
    "tool-input-start": ({"toolCallId": _str, "toolName": _str}, _TOOL_EXTRAS),
    "tool-input-delta": ({"toolCallId": _str, "inputTextDelta": _str}, {}),
    # ``input`` is ``unknown`` in the SDK's schema: any JSON value, and it may be absent.
    "tool-input-available": (
        {"toolCallId": _str, "toolName": _str},
        {"input": _any, **_TOOL_EXTRAS},
    ),
    "tool-input-error": (
        {"toolCallId": _str, "toolName": _str, "errorText": _str},
        {"input": _any, **_TOOL_EXTRAS},
    ),
    "tool-approval-request": ({"approvalId": _str, "toolCallId": _str}, {"signature": _str}),
    "tool-output-available": (
        {"toolCallId": _str},
        {
            "output": _any,
            "providerExecuted": _bool,
            "providerMetadata": _obj,
            "toolMetadata": _obj,
            "dynamic": _bool,
            "preliminary": _bool,
        },
    ),
    "tool-output-error": (
        {"toolCallId": _str, "errorText": _str},
        {
            "providerExecuted": _bool,
            "providerMetadata": _obj,
            "toolMetadata": _obj,
            "dynamic": _bool,
        },
    ),
    "tool-output-denied": ({"toolCallId": _str}, {}),
    "source-url": ({"sourceId": _str, "url": _str}, {"title": _str, **_PROVIDER}),
    "source-document": (
        {"sourceId": _str, "mediaType": _str, "title": _str},
        {"filename": _str, **_PROVIDER},
    ),
    "file": ({"url": _str, "mediaType": _str}, _PROVIDER),
    "error": ({"errorText": _str}, {}),
    "finish-step": ({}, {}),
    "finish": ({}, {"finishReason": _finish_reason, "messageMetadata": _any}),
    "abort": ({}, {"reason": _str}),
    "message-metadata": ({"messageMetadata": _any}, {}),
}
#: ``data-${name}``: ``data`` is ``unknown`` (may be absent), ``id`` and ``transient`` optional.
_DATA_KEYS: Final[_Shape] = ({}, {"id": _str, "data": _any, "transient": _bool})
#: Added by v7 (``reset-step``, ``tool-approval-response``) that we may emit with
#: ``ui_version=7``.
_V7_KEYS: Final[dict[str, _Shape]] = {
    "reset-step": ({}, {}),
    "tool-approval-response": (
        {"approvalId": _str, "approved": _bool},
        {"reason": _str, "providerExecuted": _bool, "providerMetadata": _obj},
    ),
}


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
