"""The scripted models' usage in words: the same figures, counted once per message."""

from __future__ import annotations

from helix_agents.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.models import _offline
from helix_agents.models._offline import usage_in_words
from helix_agents.ports.model import ModelRequest


def _whole(request: ModelRequest) -> int:
    """The count the memo must equal: every message walked."""
    return len(request.system.split()) + sum(_offline._message_words(m) for m in request.messages)


def _grow(history: list[Message], i: int) -> None:
    call = ToolCall(id=f"c{i}", name="noop", arguments={"i": i, "note": "two words"})
    history.append(AssistantMessage(content=f"step {i} here", tool_calls=[call]))
    history.append(ToolResultMessage(tool_call_id=f"c{i}", tool_name="noop", content=i))


def test_a_growing_history_is_counted_as_a_whole_walk_would() -> None:
    history: list[Message] = [UserMessage(content="count these four words")]
    for i in range(30):
        request = ModelRequest(system="You test things.", messages=list(history))
        usage = usage_in_words(request, "an answer", [])
        assert usage.input_tokens == _whole(request)
        assert usage.output_tokens == 2
        _grow(history, i)


def test_new_objects_with_the_same_content_count_the_same() -> None:
    history: list[Message] = [UserMessage(content="hello there")]
    for i in range(5):
        _grow(history, i)
    first = usage_in_words(ModelRequest(system="", messages=list(history)), "", [])
    copies = [m.model_copy(deep=True) for m in history]
    again = usage_in_words(ModelRequest(system="", messages=copies), "", [])
    assert first == again


def test_only_the_new_messages_are_counted(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    counted: list[Message] = []
    real = _offline._message_words

    def spy(message: Message) -> int:
        counted.append(message)
        return real(message)

    monkeypatch.setattr(_offline, "_message_words", spy)
    history: list[Message] = [UserMessage(content="go")]
    usage_in_words(ModelRequest(system="", messages=list(history)), "", [])
    for i in range(50):
        _grow(history, i)
        counted.clear()
        usage_in_words(ModelRequest(system="", messages=list(history)), "", [])
        assert len(counted) == 2  # the assistant message and the tool result just added
