"""History processors: what of a long session's history each model request carries.

An agent declares ``history_processors=[...]``; before each model request the loop passes
the stored history (oldest first) through them in order and sends what comes out. They
shape the request only: the stored history is never altered, the snapshot and the history
route still show every message, and a processor sees a fresh list each time.

A processor is a plain function ``(messages) -> messages``. It must be a pure function of
its input (no clock, no randomness, no I/O): a model step that is replayed after a crash
then sends the same request, and the call ids the step derives stay the same.

Whatever a processor drops, it should keep the pairs a provider insists on: a tool result
right after the response that called it. The shipped ones cut only at turn boundaries (a
user message), or blank a tool result's content instead of removing it, so they do.

- :func:`keep_last_turns` keeps the last ``n`` turns;
- :func:`drop_old_tool_outputs` blanks all but the latest ``keep`` tool outputs;
- :func:`fit_token_budget` drops the oldest turns until an estimate fits a budget.
- :func:`summarize_older` replaces the turns before the last ``keep_last`` by a summary a
  model wrote. It is the one processor that is not a pure function: the loop makes the
  summary in a durable step of its own (``core/summaries.py``), and binds the journaled
  text to it before each request, so a replay sends the same request without asking the
  model again.

A turn here starts at a user message that does not follow another one (:func:`turn_starts`).
When the first processor is :func:`keep_last_turns`, the loop reads only those turns from
the store (:func:`history_window`): a new turn's cost no longer grows with the session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._base import Record
from .errors import ConfigurationError
from .messages import AssistantMessage, Message, ToolResultMessage, UserMessage

if TYPE_CHECKING:
    from .ports.model import Model

__all__ = [
    "OMITTED_OUTPUT",
    "SUMMARY_PROMPT",
    "HistoryProcessor",
    "HistorySummary",
    "SummarizeOlder",
    "TokenEstimator",
    "apply_history_processors",
    "drop_old_tool_outputs",
    "estimate_tokens",
    "fit_token_budget",
    "history_window",
    "keep_last_turns",
    "summarize_older",
    "turn_starts",
]

HistoryProcessor = Callable[[list[Message]], list[Message]]
TokenEstimator = Callable[[Message], int]

#: What a blanked tool output says to the model instead.
OMITTED_OUTPUT = "[output omitted to save space]"

#: The per-message framing a chat request adds around content (role, separators).
_MESSAGE_OVERHEAD = 4


def apply_history_processors(
    processors: Sequence[HistoryProcessor], messages: Sequence[Message]
) -> list[Message]:
    """``messages`` through each processor in order (a copy of the list: processors may
    build on it freely; the messages themselves are immutable records)."""
    out = list(messages)
    for processor in processors:
        result = processor(list(out))
        if not isinstance(result, list):
            raise ConfigurationError(
                f"history processor {_name(processor)} returned {type(result).__name__}, "
                "not a list of messages"
            )
        out = result
    return out


def keep_last_turns(n: int) -> HistoryProcessor:
    """Keep the last ``n`` turns: everything from the ``n``-th last user message on. A
    history with fewer turns is kept whole."""
    if not isinstance(n, int) or n < 1:
        raise ConfigurationError("keep_last_turns(n): n must be a positive integer")

    def keep_last_turns(messages: list[Message]) -> list[Message]:
        starts = turn_starts(messages)
        if len(starts) <= n:
            return messages
        return messages[starts[-n] :]

    # What history_window reads: first in an agent's list, it bounds the store's read.
    keep_last_turns.window_turns = n  # type: ignore[attr-defined]
    return keep_last_turns


def drop_old_tool_outputs(keep: int = 3, *, placeholder: str = OMITTED_OUTPUT) -> HistoryProcessor:
    """Replace the content of every tool result but the latest ``keep`` with
    ``placeholder`` (the result itself stays, so each call still has its answer)."""
    if not isinstance(keep, int) or keep < 0:
        raise ConfigurationError("drop_old_tool_outputs(keep): keep must be an integer >= 0")

    def drop_old_tool_outputs(messages: list[Message]) -> list[Message]:
        results = [i for i, m in enumerate(messages) if isinstance(m, ToolResultMessage)]
        old = results[: len(results) - keep] if keep else results
        out = list(messages)
        for i in old:
            message = out[i]
            assert isinstance(message, ToolResultMessage)
            out[i] = message.model_copy(update={"content": placeholder, "sources": None})
        return out

    return drop_old_tool_outputs


def estimate_tokens(message: Message) -> int:
    """A rough, provider-free estimate: one token per four characters of the message's
    content (text, reasoning, tool calls' names and arguments, a tool's output as JSON),
    plus a few for the framing. Deterministic, which is what a replay needs."""
    chars = 0
    if isinstance(message, UserMessage):
        chars = len(message.content)
    elif isinstance(message, AssistantMessage):
        chars = len(message.content) + len(message.reasoning or "")
        for call in message.tool_calls:
            chars += len(call.name) + len(call.raw_arguments or _dumps(call.arguments))
    else:
        content = message.content
        chars = len(message.tool_name) + len(
            content if isinstance(content, str) else _dumps(content)
        )
    return _MESSAGE_OVERHEAD + (chars + 3) // 4


def fit_token_budget(
    max_tokens: int, *, estimator: TokenEstimator = estimate_tokens
) -> HistoryProcessor:
    """Drop the oldest turns until the history's estimated tokens (``estimator`` per
    message) are at most ``max_tokens``. The last turn is always kept, whole: the request
    needs the question it answers, and cutting inside a turn could part a tool result
    from its call. Leave room in ``max_tokens`` for the system prompt and the tools."""
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ConfigurationError("fit_token_budget(max_tokens): must be a positive integer")

    def fit_token_budget(messages: list[Message]) -> list[Message]:
        costs = [estimator(m) for m in messages]
        total = sum(costs)
        if total <= max_tokens:
            return messages
        starts = turn_starts(messages)
        start = 0
        for cut in starts[1:]:
            total -= sum(costs[start:cut])
            start = cut
            if total <= max_tokens:
                break
        if start == 0 and starts and starts[0] > 0:
            start = starts[0]  # what comes before the first user message goes first
        return messages[start:]

    return fit_token_budget


#: What the summarizing model is told (its system prompt), unless ``prompt=`` says otherwise.
SUMMARY_PROMPT = (
    "Summarize the conversation below for the assistant that continues it: the facts, "
    "decisions, open questions and anything the user asked to remember. Be brief; write "
    "only the summary."
)
#: What the request carries in place of the summarized turns, before the summary's text.
SUMMARY_HEADING = "[Summary of the earlier conversation]"


class HistorySummary(Record):
    """A summary step's result (journaled): the summary of the first ``covered`` messages of
    the history, or nothing to summarize (``covered`` 0)."""

    text: str = ""
    covered: int = 0


class SummarizeOlder:
    """The processor :func:`summarize_older` returns. Called as a plain processor (which
    the loop never does) it changes nothing; the loop binds the summary it made
    (:meth:`bind`)."""

    def __init__(self, model: Model | str, keep_last: int, prompt: str) -> None:
        self.model = model
        self.keep_last = keep_last
        self.prompt = prompt
        self.__name__ = "summarize_older"

    def __call__(self, messages: list[Message]) -> list[Message]:
        return messages

    def older(self, messages: Sequence[Message]) -> int:
        """How many leading messages are older than the last ``keep_last`` turns."""
        starts = turn_starts(messages)
        return starts[-self.keep_last] if len(starts) > self.keep_last else 0

    def bind(self, summary: HistorySummary | None) -> HistoryProcessor:
        """The pure processor that puts ``summary`` in place of the messages it covers."""

        def summarized(messages: list[Message]) -> list[Message]:
            if summary is None or not summary.covered or summary.covered > len(messages):
                return messages
            note = UserMessage(content=f"{SUMMARY_HEADING}\n{summary.text}")
            return [note, *messages[summary.covered :]]

        return summarized


def summarize_older(
    model: Model | str, *, keep_last: int = 4, prompt: str = SUMMARY_PROMPT
) -> SummarizeOlder:
    """Send the last ``keep_last`` turns as they are, and the turns before them as one
    summary that ``model`` (a Model or a model string) writes. It must be the agent's first
    processor (it summarizes the stored history itself); the summary is made once per run
    instance, in its own durable step (``turn-T/step-SS/summary``), and never stored in
    the history."""
    if not isinstance(keep_last, int) or keep_last < 1:
        raise ConfigurationError("summarize_older(keep_last): must be a positive integer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigurationError("summarize_older(prompt): must be a non-empty string")
    return SummarizeOlder(model, keep_last, prompt)


def transcript(messages: Sequence[Message]) -> str:
    """``messages`` as plain text, one line a message, for a summarizing model."""
    lines: list[str] = []
    for message in messages:
        if isinstance(message, UserMessage):
            text = message.content
            for ref in message.files or ():
                text += f" [attached file {ref.filename or ''} ({ref.media_type})]"
            lines.append(f"User: {text}")
        elif isinstance(message, AssistantMessage):
            calls = "".join(f" [called {c.name} {_dumps(c.arguments)}]" for c in message.tool_calls)
            lines.append(f"Assistant: {message.content}{calls}")
        else:
            content = message.content
            text = content if isinstance(content, str) else _dumps(content)
            lines.append(f"Tool {message.tool_name} ({message.status}): {text}")
    return "\n".join(lines)


def turn_starts(messages: Sequence[Message]) -> list[int]:
    """Where each turn starts: the index of each user message that does not follow another
    user message (messages sent together, a hidden one with the visible, are one turn)."""
    return [
        i
        for i, m in enumerate(messages)
        if isinstance(m, UserMessage) and not (i and isinstance(messages[i - 1], UserMessage))
    ]


def history_window(processors: Sequence[HistoryProcessor]) -> int | None:
    """How many of the last turns the processors can use at most, when the first of them
    says so (:func:`keep_last_turns`); None when they may need the whole history. The loop
    then reads only those turns from the store, so a new turn costs the same in a session
    of ten messages or ten thousand."""
    if not processors:
        return None
    turns = getattr(processors[0], "window_turns", None)
    return turns if isinstance(turns, int) and turns >= 1 else None


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _name(processor: HistoryProcessor) -> str:
    return getattr(processor, "__name__", type(processor).__name__)
