"""Our chunks as AI SDK UI message stream chunks (the protocol ``useChat`` consumes).

The target is the AI SDK v6 chunk set (docs/streaming.md). Every
chunk of the log maps to at most one UI chunk, so an SSE event's ``id`` is the chunk's
sequence and ``Last-Event-ID`` resumes with no state on the server. Only documented keys are
emitted and keys whose value would be null are left out (``ai@6.0.0`` rejected unknown keys).

Choices the protocol leaves to us, also in ``docs/streaming.md``:

- ``output`` (structured output) becomes a ``data-output`` part with id ``output``: it stays
  in the assistant message's parts, and a second one replaces the first.
- ``subagent-start``/``subagent-end`` become one ``data-subagent`` part per delegating tool
  call (id = the tool call id), whose ``data`` moves from ``status: "running"`` to the
  child's final status and output.
- A chunk *from* a sub-agent (``agent`` set) becomes a **transient**
  ``data-subagent-chunk`` part whose ``data`` holds the child's agent, session and the UI
  chunk the child's own chunk maps to. Transient parts reach ``onData`` but never the
  message, so the child's text, steps and lifecycle cannot mix into the parent's message
  (a child's ``start``/``finish`` would end it) and ``useChat`` works unmodified.
- ``step-reset``: a replay never shows superseded text (the log drops it), so a reset maps
  to nothing unless this reader has shown some of the superseded attempt. Then v6 gets a
  transient ``data-reset-step`` part (v6 has no reset chunk: the app drops the parts after
  the message's last ``step-start`` in ``onData``) and v7 (``ui_version=7``) gets the real
  ``reset-step``. The retry's own ``step-start`` is then left out, since the step the
  client is resetting is still open.
- ``tool-approval-response`` (the decision on a gated call, written by the resume that
  applies it) becomes v7's ``tool-approval-response``, so that a client rebuilding the turn
  from a replay holds the decision as the client that made it does; v6 has no such chunk
  and gets nothing.
- ``run-end`` becomes ``finish`` with a documented ``finishReason`` (``error`` for a failed
  run, ``tool-calls`` for a suspended one, ``other`` for an interrupted one), and ``abort``
  for an aborted run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from ..chunks import (
    Chunk,
    CustomDataChunk,
    ErrorChunk,
    OutputChunk,
    ReasoningDeltaChunk,
    ReasoningEndChunk,
    ReasoningStartChunk,
    RunEndChunk,
    RunStartChunk,
    SequencedChunk,
    SourceChunk,
    StepEndChunk,
    StepResetChunk,
    StepStartChunk,
    SubagentEndChunk,
    SubagentStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolApprovalRequestChunk,
    ToolApprovalResponseChunk,
    ToolErrorChunk,
    ToolInputAvailableChunk,
    ToolInputDeltaChunk,
    ToolInputStartChunk,
    ToolOutputChunk,
    ToolOutputDeniedChunk,
)
from ..errors import StreamError
from .chunklog import AttemptKey, attempt_key

if TYPE_CHECKING:
    from .ui_schema import (
        DataUIChunk,
        FinishReason,
        SourceDocumentUIChunk,
        SourceUrlUIChunk,
        ToolApprovalResponseUIChunk,
        ToolInputAvailableUIChunk,
        ToolOutputAvailableUIChunk,
        UIChunk,
    )

__all__ = [
    "FINISH_REASONS",
    "EncoderState",
    "UIChunk",
    "UIMessageEncoder",
    "UIVersion",
    "event_id",
    "source_part",
    "to_ui_chunk",
    "ui_finish_reason",
]

if not TYPE_CHECKING:
    # At run time a UI chunk is a plain dict. mypy checks every chunk built below against
    # its definition in ui_schema, which the encoder does not load: no cost per chunk, and
    # none at import.
    UIChunk = dict[str, Any]
UIVersion = Literal[6, 7]

#: The finish reasons the AI SDK documents for ``finish``.
FINISH_REASONS: Final = frozenset(
    {"stop", "length", "content-filter", "tool-calls", "error", "other"}
)
#: Provider spellings of the same reasons (OpenAI, Anthropic, Workers AI).
_REASON_ALIASES: Final[dict[str, FinishReason]] = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "content-filter": "content-filter",
    "content_filter": "content-filter",
    "tool-calls": "tool-calls",
    "tool_calls": "tool-calls",
    "tool_use": "tool-calls",
    "function_call": "tool-calls",
    "error": "error",
    "other": "other",
}


def source_part(
    source_id: str,
    url: str | None,
    title: str | None,
    media_type: str | None,
    filename: str | None,
) -> SourceUrlUIChunk | SourceDocumentUIChunk:
    """A cited source as the AI SDK's ``source-url`` (it has a URL) or ``source-document``
    chunk; the same dict is the message part the snapshot shows."""
    if url is not None:
        part: SourceUrlUIChunk = {"type": "source-url", "sourceId": source_id, "url": url}
        if title is not None:
            part["title"] = title
        return part
    document: SourceDocumentUIChunk = {
        "type": "source-document",
        "sourceId": source_id,
        "mediaType": media_type or "text/plain",
        "title": title or source_id,
    }
    if filename is not None:
        document["filename"] = filename
    return document


def ui_finish_reason(status: str, reason: str | None) -> FinishReason:
    """The documented ``finishReason`` for a run that ended with ``status``."""
    if status == "failed":
        return "error"
    if status.startswith("suspended"):
        # The run stopped at a tool boundary (approval, client tool, children).
        return "tool-calls"
    if status == "interrupted":
        return "other"
    mapped = _REASON_ALIASES.get(reason) if reason else None
    if status == "completed":
        return mapped or "stop"
    return mapped or "other"


def to_ui_chunk(
    chunk: Chunk, *, ui_version: UIVersion = 6, show_reset: bool = False
) -> UIChunk | None:
    """The UI chunk for one of our chunks, or None when it maps to nothing.

    Stateless: a ``step-reset`` maps to a reset only with ``show_reset`` (the caller knows
    whether its reader showed the superseded text; :class:`UIMessageEncoder` does).
    """
    if ui_version not in (6, 7):
        raise StreamError(f"ui_version must be 6 or 7, not {ui_version!r}")
    inner = _map(chunk, ui_version, show_reset)
    if inner is None or chunk.agent is None:
        return inner
    data: dict[str, Any] = {"agent": chunk.agent}
    if chunk.source_session_id is not None:
        data["sessionId"] = chunk.source_session_id
    data["chunk"] = inner
    return {"type": "data-subagent-chunk", "data": data, "transient": True}


class UIMessageEncoder:
    """Maps one reader's chunks in order, deciding what a ``step-reset`` shows.

    ``after`` is where the reader started (its ``Last-Event-ID``): it has shown every chunk
    up to there. A reset is shown only to a reader that has shown some of what is now void:
    one whose earlier connection reached the superseded attempt (``superseded_from <=
    after``), or that was handed a chunk of that attempt in this connection.
    """

    def __init__(self, *, after: int = 0, ui_version: UIVersion = 6) -> None:
        if ui_version not in (6, 7):
            raise StreamError(f"ui_version must be 6 or 7, not {ui_version!r}")
        self.ui_version: UIVersion = ui_version
        self.cursor = after
        self._after = after
        #: For each attempt this connection was handed chunks of, the last one's sequence.
        self._shown: dict[AttemptKey, int] = {}
        self._reset_shown: set[AttemptKey] = set()
        self._suppress_start: set[tuple[str | None, int]] = set()
        #: Steps this reader was told are finished (with the sequence that told it): a
        #: retried model step closes the step before it again (its first attempt may have
        #: died before it could), and a ``finish-step`` said twice is one too many.
        self._finished: dict[tuple[str | None, int], int] = {}

    def encode(self, item: SequencedChunk) -> UIChunk | None:
        """The UI chunk for the reader's next chunk (in sequence order), or None."""
        self.cursor = max(self.cursor, item.seq)
        chunk = item.chunk
        if isinstance(chunk, StepResetChunk):
            key = attempt_key(chunk)
            # Not "superseded_from <= the last sequence read": a reader that never saw the
            # dead attempt (a replay: the log hides it) still reads chunks of other attempts
            # between its first sequence and the reset (the retry closes the step before it
            # again, a sub-agent writes in between), and shown the reset it would drop the
            # previous, completed step and lose the retry's start-step. So: what this
            # connection was handed of that very attempt (a sequence at or after
            # superseded_from: an earlier instance of a turn reuses step numbers' keys),
            # or, before it, the cursor it came back with.
            first = chunk.superseded_from
            show = (
                key is not None
                and key not in self._reset_shown
                and first is not None
                and (first <= self._after or self._shown.get(key, -1) >= first)
            )
            if show and key is not None:
                self._reset_shown.add(key)
                self._suppress_start.add((key[0], key[1]))
                self._finished.pop((key[0], key[1]), None)  # the retry finishes it again
                # The retry closes the step before again; this reader saw it closed (it
                # saw the dead attempt after it). Sent, that finish-step would move the
                # reader's cursor past the reset, and a reader back with that cursor would
                # no longer know the step is open: it would get a second start-step.
                self._finished.setdefault((key[0], key[1] - 1), item.seq)
            return to_ui_chunk(chunk, ui_version=self.ui_version, show_reset=show)
        key = attempt_key(chunk)
        if key is not None:
            # Even a chunk left out below: a retry that died after its (left out)
            # start-step still left the client's step open on it.
            self._shown[key] = item.seq
        step = None if key is None else (key[0], key[1])
        if isinstance(chunk, StepStartChunk) and step in self._suppress_start:
            assert step is not None
            self._suppress_start.discard(step)
            return None
        if isinstance(chunk, StepEndChunk) and chunk.step is not None:
            scope = chunk.source_session_id if chunk.source_session_id is not None else chunk.agent
            if (scope, chunk.step) in self._finished:
                return None
            self._finished[(scope, chunk.step)] = item.seq
        return to_ui_chunk(chunk, ui_version=self.ui_version)

    # -- the encoder as data (a hibernating WebSocket keeps it in its attachment) ---------

    def state(self) -> EncoderState:
        """What this encoder remembers of its reader, as compact JSON-able data that
        :meth:`from_state` turns back into an encoder that maps the rest of the stream
        exactly as this one would.

        Only what can still matter is kept: for each scope (the run, each sub-agent), the
        entries of its two latest steps. A reset concerns an attempt of the step being
        retried, which is the scope's latest; the step a retry closes again is the one
        before it; a scope's earlier steps are over for good.
        """
        latest: dict[str | None, int] = {}
        steps = [(k[0], k[1]) for k in (*self._shown, *self._reset_shown)]
        for scope, step in (*steps, *self._finished, *self._suppress_start):
            latest[scope] = max(step, latest.get(scope, step))

        def live(scope: str | None, step: int) -> bool:
            return step >= latest.get(scope, step) - 1

        return {
            "a": self._after,
            "c": self.cursor,
            "s": sorted(
                ([k[0], k[1], k[2], seq] for k, seq in self._shown.items() if live(k[0], k[1])),
                key=lambda e: e[3],
            ),
            "r": sorted(([*k] for k in self._reset_shown if live(k[0], k[1])), key=_entry_order),
            "p": sorted(([*k] for k in self._suppress_start), key=_entry_order),
            "f": sorted(
                ([k[0], k[1], seq] for k, seq in self._finished.items() if live(*k)),
                key=lambda e: e[2],
            ),
        }

    @classmethod
    def from_state(cls, state: EncoderState, *, ui_version: UIVersion = 6) -> UIMessageEncoder:
        """The encoder :meth:`state` described (StreamError if ``state`` is malformed)."""
        try:
            encoder = cls(after=int(state["a"]), ui_version=ui_version)
            encoder.cursor = int(state["c"])
            encoder._shown = {
                (_scope(scope), int(step), _attempt(attempt)): int(seq)
                for scope, step, attempt, seq in state.get("s", ())
            }
            encoder._reset_shown = {
                (_scope(scope), int(step), _attempt(attempt))
                for scope, step, attempt in state.get("r", ())
            }
            encoder._suppress_start = {
                (_scope(scope), int(step)) for scope, step in state.get("p", ())
            }
            encoder._finished = {
                (_scope(scope), int(step)): int(seq) for scope, step, seq in state.get("f", ())
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise StreamError(f"a UI encoder's state is malformed: {exc!r}") from None
        return encoder


#: :meth:`UIMessageEncoder.state`: ``a`` the reader's starting cursor, ``c`` its cursor,
#: ``s`` the attempts shown (``[scope, step, attempt, last seq]``), ``r`` the resets shown
#: (``[scope, step, attempt]``), ``p`` the steps whose next ``start-step`` is left out
#: (``[scope, step]``), ``f`` the steps finished (``[scope, step, seq]``).
EncoderState = dict[str, Any]


def _scope(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"a scope must be a string or null, not {value!r}")


def _attempt(value: Any) -> int | None:
    return None if value is None else int(value)


def _entry_order(entry: list[Any]) -> tuple[str, int, int]:
    return (entry[0] or "", int(entry[1]), -1 if len(entry) < 3 or entry[2] is None else entry[2])


def event_id(item: SequencedChunk) -> int:
    """The SSE ``id`` of the event a reader is sent for ``item``: its sequence, except for a
    shown reset, whose id is the sequence before it.

    A reader shown a reset has dropped the dead attempt's parts and keeps the step open, so
    the retry's ``start-step`` must not reach it. A reader that comes back with the reset's
    own id would meet that ``start-step`` with a fresh encoder, which cannot know a reset
    was shown: the client would get a second ``step-start``. With the sequence before it,
    the reader reads the reset again (its ``after`` reaches the dead attempt, so it is shown
    again); dropping the parts after the last ``step-start`` twice drops nothing more, and
    the ``start-step`` is left out as it should be. Ids still never go back: every earlier
    event of the reader has a sequence below the reset's."""
    if isinstance(item.chunk, StepResetChunk) and item.chunk.agent is None:
        return item.seq - 1
    return item.seq


def _map(chunk: Chunk, ui_version: UIVersion, show_reset: bool) -> UIChunk | None:
    # One branch per chunk kind; isinstance narrows for mypy. Deltas come first: they are
    # nearly every chunk of a stream, and each reader maps each of them.
    if isinstance(chunk, TextDeltaChunk):
        return {"type": "text-delta", "id": chunk.part_id, "delta": chunk.delta}
    if isinstance(chunk, ReasoningDeltaChunk):
        return {"type": "reasoning-delta", "id": chunk.part_id, "delta": chunk.delta}
    if isinstance(chunk, ToolInputDeltaChunk):
        return {
            "type": "tool-input-delta",
            "toolCallId": chunk.tool_call_id,
            "inputTextDelta": chunk.delta,
        }
    if isinstance(chunk, RunStartChunk):
        return {"type": "start", "messageId": chunk.message_id}
    if isinstance(chunk, RunEndChunk):
        if chunk.status == "aborted":
            return {"type": "abort", "reason": chunk.error} if chunk.error else {"type": "abort"}
        return {
            "type": "finish",
            "finishReason": ui_finish_reason(chunk.status, chunk.finish_reason),
        }
    if isinstance(chunk, StepStartChunk):
        return {"type": "start-step"}
    if isinstance(chunk, StepEndChunk):
        return {"type": "finish-step"}
    if isinstance(chunk, StepResetChunk):
        if not show_reset:
            return None
        if ui_version >= 7:
            return {"type": "reset-step"}
        data: dict[str, Any] = {"step": chunk.step}
        if chunk.attempt is not None:
            data["attempt"] = chunk.attempt
        return {"type": "data-reset-step", "data": data, "transient": True}
    if isinstance(chunk, TextStartChunk):
        return {"type": "text-start", "id": chunk.part_id}
    if isinstance(chunk, TextEndChunk):
        return {"type": "text-end", "id": chunk.part_id}
    if isinstance(chunk, ReasoningStartChunk):
        return {"type": "reasoning-start", "id": chunk.part_id}
    if isinstance(chunk, ReasoningEndChunk):
        return {"type": "reasoning-end", "id": chunk.part_id}
    if isinstance(chunk, ToolInputStartChunk):
        return {
            "type": "tool-input-start",
            "toolCallId": chunk.tool_call_id,
            "toolName": chunk.tool_name,
        }
    if isinstance(chunk, ToolInputAvailableChunk):
        available: ToolInputAvailableUIChunk = {
            "type": "tool-input-available",
            "toolCallId": chunk.tool_call_id,
            "toolName": chunk.tool_name,
        }
        if chunk.input is not None:
            available["input"] = chunk.input
        return available
    if isinstance(chunk, ToolOutputChunk):
        output: ToolOutputAvailableUIChunk = {
            "type": "tool-output-available",
            "toolCallId": chunk.tool_call_id,
        }
        if chunk.output is not None:
            output["output"] = chunk.output
        return output
    if isinstance(chunk, ToolErrorChunk):
        if chunk.input_error and chunk.tool_name is not None:
            if chunk.input is None:
                return {
                    "type": "tool-input-error",
                    "toolCallId": chunk.tool_call_id,
                    "toolName": chunk.tool_name,
                    "errorText": chunk.error,
                }
            return {
                "type": "tool-input-error",
                "toolCallId": chunk.tool_call_id,
                "toolName": chunk.tool_name,
                "input": chunk.input,
                "errorText": chunk.error,
            }
        return {
            "type": "tool-output-error",
            "toolCallId": chunk.tool_call_id,
            "errorText": chunk.error,
        }
    if isinstance(chunk, ToolApprovalRequestChunk):
        return {
            "type": "tool-approval-request",
            "approvalId": chunk.approval_id,
            "toolCallId": chunk.tool_call_id,
        }
    if isinstance(chunk, ToolApprovalResponseChunk):
        if ui_version < 7:
            return None  # v6 has no chunk for a decision (docs/streaming.md)
        decision: ToolApprovalResponseUIChunk = {
            "type": "tool-approval-response",
            "approvalId": chunk.approval_id,
            "approved": chunk.approved,
        }
        if chunk.reason is not None:
            decision["reason"] = chunk.reason
        return decision
    if isinstance(chunk, ToolOutputDeniedChunk):
        return {"type": "tool-output-denied", "toolCallId": chunk.tool_call_id}
    if isinstance(chunk, SubagentStartChunk | SubagentEndChunk):
        info: dict[str, Any] = {
            "toolCallId": chunk.tool_call_id,
            "sessionId": chunk.child_session_id,
            "agentType": chunk.child_agent_type,
        }
        if isinstance(chunk, SubagentStartChunk):
            info["status"] = "running"
        else:
            info["status"] = chunk.status
            if chunk.output is not None:
                info["output"] = chunk.output
        return {"type": "data-subagent", "id": chunk.tool_call_id, "data": info}
    if isinstance(chunk, CustomDataChunk):
        if not chunk.name:
            raise StreamError("a data chunk needs a name (it becomes the UI type data-<name>)")
        custom: DataUIChunk = {"type": f"data-{chunk.name}"}
        if chunk.id is not None:
            custom["id"] = chunk.id
        if chunk.data is not None:
            custom["data"] = chunk.data
        if chunk.transient:
            custom["transient"] = True
        return custom
    if isinstance(chunk, SourceChunk):
        return source_part(
            chunk.source_id, chunk.url, chunk.title, chunk.media_type, chunk.filename
        )
    if isinstance(chunk, ErrorChunk):
        return {"type": "error", "errorText": chunk.message}
    if isinstance(chunk, OutputChunk):
        if chunk.output is None:
            return {"type": "data-output", "id": "output"}
        return {"type": "data-output", "id": "output", "data": chunk.output}
    raise StreamError(f"no UI mapping for chunk type {chunk.type!r}")  # pragma: no cover
