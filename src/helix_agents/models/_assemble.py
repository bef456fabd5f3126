"""Assembling a streamed response: deltas in, events out, one ModelResponse at the end.

Every model (the HTTP adapter, the Workers AI adapter, the function-driven test model) sees
the same mess: text and reasoning arrive in pieces, tool calls arrive as fragments keyed by
an index, sometimes without an id, sometimes with arguments as an object instead of a JSON
string. The assembler normalises all of that once, so each adapter only translates its wire
format into calls on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..messages import ToolCall
from ..ports.model import ModelResponse, ReasoningDelta, TextDelta, ToolCallDelta
from ..usage import Usage

__all__ = ["ResponseAssembler", "map_finish_reason", "parse_arguments"]

_FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "eos": "stop",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "tool_use": "tool-calls",
    "tool-calls": "tool-calls",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "content_filter": "content-filter",
    "content-filter": "content-filter",
    "error": "error",
}


def map_finish_reason(raw: str | None, *, has_tool_calls: bool) -> str:
    """A provider's finish reason in the port's vocabulary. A missing reason is inferred:
    some servers never send one, and a response with tool calls ended to call them."""
    if raw is None or raw == "":
        return "tool-calls" if has_tool_calls else "stop"
    mapped = _FINISH_REASONS.get(raw, "other")
    if mapped == "stop" and has_tool_calls:
        # Some servers (Ollama among them) say "stop" for a response that calls tools.
        return "tool-calls"
    return mapped


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """A tool call's arguments text as ``(arguments, raw_arguments)``.

    Text that is not a JSON object is kept verbatim in ``raw_arguments`` (with empty
    ``arguments``) so the loop can tell the model what was wrong instead of failing the step.
    """
    if raw.strip() == "":
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, raw
    if not isinstance(value, dict):
        return {}, raw
    return value, None


@dataclass(slots=True)
class _PartialCall:
    id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ResponseAssembler:
    """Accumulates one response. Each ``add_*`` method returns the event to yield (or None
    when the piece carried nothing worth yielding)."""

    def __init__(self, *, call_id_prefix: str = "call") -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._ids: dict[str, int] = {}
        self._last_index: int | None = None
        self._call_id_prefix = call_id_prefix
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.model_name: str | None = None

    @property
    def has_output(self) -> bool:
        return bool(self._text or self._reasoning or self._calls)

    def add_text(self, text: str) -> TextDelta | None:
        if not text:
            return None
        self._text.append(text)
        return TextDelta(text)

    def add_reasoning(self, text: str) -> ReasoningDelta | None:
        if not text:
            return None
        self._reasoning.append(text)
        return ReasoningDelta(text)

    def next_index(self) -> int:
        """The index for a new call that comes whole (with no index of its own)."""
        index = len(self._calls)
        while index in self._calls:
            index += 1
        return index

    def add_tool_call(
        self,
        *,
        index: int | None,
        id: str | None,
        name: str | None,
        arguments: Any,
    ) -> ToolCallDelta | None:
        """One fragment of a tool call. ``index`` may be missing (some servers omit it when
        they send whole calls): then a new id or a name starts a new call and a bare
        fragment continues the last one. The first delta of each call always carries an id,
        made up when the provider sent none, so consumers can key on it."""
        args = _arguments_text(arguments)
        if index is None:
            if id and id in self._ids:
                index = self._ids[id]
            elif id or name or self._last_index is None:
                index = self.next_index()
            else:
                index = self._last_index
        self._last_index = index
        call = self._calls.get(index)
        if call is None:
            call = _PartialCall(id=id or f"{self._call_id_prefix}_{index}")
            self._calls[index] = call
            self._ids[call.id] = index
            call.name = name or ""
            if args:
                call.arguments.append(args)
            return ToolCallDelta(index=index, id=call.id, name=call.name, arguments_delta=args)
        if name and not call.name:
            call.name = name
        if not args:
            return None
        call.arguments.append(args)
        return ToolCallDelta(index=index, arguments_delta=args)

    def set_usage(self, usage: Usage) -> None:
        self.usage = usage

    def build(self) -> ModelResponse:
        calls: list[ToolCall] = []
        for index in sorted(self._calls):
            partial = self._calls[index]
            arguments, raw = parse_arguments("".join(partial.arguments))
            calls.append(
                ToolCall(id=partial.id, name=partial.name, arguments=arguments, raw_arguments=raw)
            )
        reasoning = "".join(self._reasoning)
        usage = self.usage.model_copy() if self.usage is not None else Usage()
        usage.requests = max(usage.requests, 1)
        return ModelResponse(
            text="".join(self._text),
            reasoning=reasoning or None,
            tool_calls=calls,
            usage=usage,
            finish_reason=map_finish_reason(self.finish_reason, has_tool_calls=bool(calls)),
            model_name=self.model_name,
        )


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    # Some providers (Workers AI's native format) send the arguments as an object.
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
