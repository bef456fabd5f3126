"""What the offline models share: the demo model here, and the test models of
:mod:`helix_agents.testing` (which are not part of a deployed Worker, so this module is not
theirs): word-by-word text, call ids that replay the same, usage counted in words, and
arguments valid for a tool's schema.
"""

from __future__ import annotations

import json
import re
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


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _words(text: str) -> int:
    return len(text.split())


def usage_in_words(request: ModelRequest, text: str, calls: Sequence[ToolCall]) -> Usage:
    """Tokens counted as words: crude, but deterministic and proportional to the work."""
    prompt = _words(request.system)
    for message in request.messages:
        if isinstance(message, UserMessage):
            prompt += _words(message.content)
        elif isinstance(message, AssistantMessage):
            prompt += _words(message.content)
            prompt += sum(_words(compact(c.arguments)) + 1 for c in message.tool_calls)
        else:
            prompt += _words(tool_result_text(message))
    output = _words(text) + sum(_words(compact(c.arguments)) + 1 for c in calls)
    return Usage(
        input_tokens=prompt, output_tokens=output, total_tokens=prompt + output, requests=1
    )
