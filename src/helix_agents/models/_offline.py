"""What the offline models share: the demo model here, and the test models of
:mod:`helix_agents.testing` (which are not part of a deployed Worker, so this module is not
theirs): word-by-word text, call ids that replay the same, usage counted in words, and
arguments valid for a tool's schema.
"""

from __future__ import annotations

import json
import re
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..messages import AssistantMessage, Message, ToolCall, UserMessage
from ..ports.model import ModelRequest, ToolDefinition
from ..usage import Usage
from ._openai_format import tool_result_text
from ._schema import SchemaExampleError, example_from_schema

__all__ = ["WORDS", "compact", "example_arguments", "usage_in_words", "with_ids"]

#: A streamed text's pieces: each word with the spaces after it.
WORDS = re.compile(r"\S+\s*|\s+")


def example_arguments(tool: ToolDefinition) -> dict[str, Any]:
    """Arguments valid for ``tool``'s JSON schema (the same schema, the same arguments)."""
    try:
        value = example_from_schema(tool.parameters)
    except SchemaExampleError as exc:
        raise ConfigurationError(
            f"the test model cannot make arguments for tool {tool.name!r}: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"tool {tool.name!r}: its parameters schema is not an object schema"
        )
    return value


def with_ids(calls: Sequence[ToolCall], messages: Sequence[Message]) -> list[ToolCall]:
    """Give id-less calls an id that is unique within the session (each model call sees a
    longer history than the last) and the same when the same request is answered again."""
    prefix = f"call_{len(messages)}"
    return [
        call if call.id else call.model_copy(update={"id": f"{prefix}_{index}"})
        for index, call in enumerate(calls)
    ]


#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)``, built
#: once: ``json.dumps`` with options builds an encoder on every call (a few per model call).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def compact(value: Any) -> str:
    return _COMPACT.encode(value)


def _words(text: str) -> int:
    return len(text.split())


def _message_words(message: Message) -> int:
    if isinstance(message, UserMessage):
        return _words(message.content)
    if isinstance(message, AssistantMessage):
        return _words(message.content) + sum(
            _words(compact(c.arguments)) + 1 for c in message.tool_calls
        )
    return _words(tool_result_text(message))


class _HistoryWords:
    """The word count of a history, remembered per prefix: O(new messages) per request.

    A run's history grows by a few messages between two model calls and keeps the message
    objects it already had, so the count of the previous request's history is found by the
    identity of its last message (and its position), and only the messages after it are
    counted. A history made of new objects (a replay, another process) is counted whole
    once: the figures are the same either way. Bounded: the least recently used prefixes
    are forgotten, and a message that is gone is never mistaken for a new one (weak
    references).
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        #: id(last message) -> (that message, the prefix's length, its word count).
        self._memo: OrderedDict[int, tuple[weakref.ref[Message], int, int]] = OrderedDict()

    def count(self, messages: Sequence[Message]) -> int:
        end, total = len(messages), 0
        start = 0
        for i in range(end, 0, -1):
            message = messages[i - 1]
            hit = self._memo.get(id(message))
            if hit is not None and hit[1] == i and hit[0]() is message:
                start, total = i, hit[2]
                break
        for message in messages[start:]:
            total += _message_words(message)
        if end:
            last = messages[end - 1]
            try:
                ref = weakref.ref(last)
            except TypeError:  # pragma: no cover - every Message is a weak-referenceable model
                return total
            self._memo[id(last)] = (ref, end, total)
            self._memo.move_to_end(id(last))
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        return total


_HISTORY_WORDS = _HistoryWords()


def usage_in_words(request: ModelRequest, text: str, calls: Sequence[ToolCall]) -> Usage:
    """Tokens counted as words: crude, but deterministic and proportional to the work. The
    history's words are counted once per message, not once per request
    (:class:`_HistoryWords`): a scripted model stays O(1) per call in a long run."""
    prompt = _words(request.system) + _HISTORY_WORDS.count(request.messages)
    output = _words(text) + sum(_words(compact(c.arguments)) + 1 for c in calls)
    return Usage(
        input_tokens=prompt, output_tokens=output, total_tokens=prompt + output, requests=1
    )
