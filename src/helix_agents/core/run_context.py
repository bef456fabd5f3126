"""Per-instance state of the loop and the persistence it does through the store.

Only what is derived from params and step results may steer the loop; this object also
keeps caches (the message history, the custom state) that make a step cheap when the
previous steps ran in this same process. A replayed step leaves the caches stale, so they
are dropped and reloaded inside the next step.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..chunks import ErrorChunk, OutputChunk, RunEndChunk
from ..errors import StreamClosedError, StreamNotFoundError
from ..history import HistorySummary, history_window
from ..messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from ..ports.step import StepContext
from ..ports.streams import StreamStatus
from ..state import RunStatus, SessionState
from ..usage import Usage, UsageKind, UsageRecord
from .deps import RunDeps
from .params import RunParams
from .partial import keep_streamed_answer
from .stream_writer import StreamWriter

if TYPE_CHECKING:
    from ..agent import Agent
    from ..tracing.spans import Tracer
    from .starter import RunStarter

__all__ = ["RunContext", "SessionHistory", "call_ids_of"]


def call_ids_of(message: Message) -> Iterable[str]:
    """The tool-call ids ``message`` takes in its session: an assistant message's calls (ours
    and the provider's), a tool result's call."""
    if isinstance(message, AssistantMessage):
        for call in message.tool_calls:
            yield call.id
            if call.provider_id:
                yield call.provider_id
    elif isinstance(message, ToolResultMessage):
        yield message.tool_call_id


def has_files(message: Message) -> bool:
    """Whether ``message`` references attached files (only a user message can)."""
    return isinstance(message, UserMessage) and bool(message.files)


class SessionHistory:
    """The session's messages in sequence order, the tool-call ids they take, and how many
    of them reference attached files.

    Kept across the steps of an instance (:attr:`RunContext.history`), so a step neither
    sorts nor walks the whole history again: a step's messages are appended (their
    sequences come after every one held), and the ids of its calls added to the set the
    next model call's ``CallIds`` starts from. Anything else (a message put at a sequence
    already held, or before one) is handled too, at the cost of a rebuild of the ids and
    the count."""

    def __init__(self, rows: Iterable[tuple[int, Message]] = ()) -> None:
        self._sequences: list[int] = []
        self._messages: list[Message] = []
        self._call_ids: set[str] = set()
        self._with_files = 0
        for sequence, message in sorted(rows, key=lambda row: row[0]):
            self.put(sequence, message)

    def __len__(self) -> int:
        return len(self._messages)

    def put(self, sequence: int, message: Message) -> None:
        if not self._sequences or sequence > self._sequences[-1]:
            self._sequences.append(sequence)
            self._messages.append(message)
            self._call_ids.update(call_ids_of(message))
            self._with_files += has_files(message)
            return
        index = bisect_left(self._sequences, sequence)
        if index < len(self._sequences) and self._sequences[index] == sequence:
            self._messages[index] = message
            # The message replaced may have taken ids (or had files) this one does not.
            self._call_ids = {i for m in self._messages for i in call_ids_of(m)}
            self._with_files = sum(has_files(m) for m in self._messages)
        else:
            self._sequences.insert(index, sequence)
            self._messages.insert(index, message)
            self._call_ids.update(call_ids_of(message))
            self._with_files += has_files(message)

    def before(self, sequence: int) -> list[Message]:
        """The messages written before ``sequence``, in order (a new list)."""
        if not self._sequences or sequence > self._sequences[-1]:
            return self._messages[:]
        return self._messages[: bisect_left(self._sequences, sequence)]

    def call_ids(self, messages: list[Message]) -> set[str] | None:
        """The ids ``messages`` take, when ``messages`` is all this history holds (a list
        :meth:`before` returned, with nothing added since); else None. Not a copy: the
        caller must not change it."""
        if not self._holds(messages):
            return None
        return self._call_ids

    def files_in(self, messages: list[Message]) -> bool | None:
        """Whether any of ``messages`` references files, when ``messages`` is all this
        history holds (as for :meth:`call_ids`); else None (unknown: walk them)."""
        if not self._holds(messages):
            return None
        return self._with_files > 0

    def _holds(self, messages: list[Message]) -> bool:
        if len(messages) != len(self._messages):
            return False
        return not messages or messages[-1] is self._messages[-1]


@dataclass
class RunContext:
    params: RunParams
    agent: Agent
    deps: RunDeps
    #: Names of the steps whose bodies ran in this process (vs. served from the journal).
    executed: set[str] = field(default_factory=set)
    #: The session's messages by sequence, when known to be complete.
    history: SessionHistory | None = None
    custom_state: dict[str, Any] | None = None
    #: This instance's spans, when tracing is on (``helix_agents.tracing``).
    tracer: Tracer | None = None
    #: The summary ``summarize_older`` sends for the older turns (``core/summaries.py``).
    summary: HistorySummary | None = None

    # -- caches --------------------------------------------------------------------------

    def invalidate_unless_executed(self, names: Sequence[str]) -> None:
        if any(name not in self.executed for name in names):
            self.history = None
            self.custom_state = None

    def apply_state_patch(self, patch: dict[str, Any]) -> None:
        if self.custom_state is None:
            return
        for key, value in patch.items():
            if value is None:
                self.custom_state.pop(key, None)
            else:
                self.custom_state[key] = value

    async def messages_before(self, sequence: int) -> list[Message]:
        """The history the model sees at ``sequence`` (everything written before it)."""
        if self.history is None:
            # Only the turns the agent's history processors can use, when they say so.
            window = history_window(self.agent.history_processors)
            rows = await self.deps.store.load_messages(
                self.params.session_id,
                before=None if window is None else sequence,
                last_turns=window,
            )
            self.history = SessionHistory(rows)
        return self.history.before(sequence)

    def call_ids_in(self, messages: list[Message]) -> set[str] | None:
        """The tool-call ids ``messages`` take, from the cache when ``messages`` is the
        whole cached history (what :meth:`messages_before` returned); else None."""
        return None if self.history is None else self.history.call_ids(messages)

    def files_in(self, messages: list[Message]) -> bool | None:
        """Whether ``messages`` reference files, from the cache when ``messages`` is the
        whole cached history; else None (unknown)."""
        return None if self.history is None else self.history.files_in(messages)

    def remember(self, messages: Sequence[tuple[int, Message]]) -> None:
        if self.history is not None:
            for seq, msg in messages:
                self.history.put(seq, msg)

    # -- stream --------------------------------------------------------------------------

    def writer(self, *, step: int | None, attempt: int | None) -> StreamWriter:
        forwarded = self.forwarded
        return StreamWriter(
            self.deps.streams,
            self.params.stream_id,
            step=step,
            attempt=attempt,
            policy=self.deps.flush_policy,
            agent=self.agent.name if forwarded else None,
            source_session_id=self.params.session_id if forwarded else None,
        )

    @property
    def forwarded(self) -> bool:
        """Whether this run writes into its parent's stream (a sub-agent the parent waits
        on) rather than its own."""
        parent = self.params.parent
        return parent is not None and parent.forward

    def starter(self) -> RunStarter:
        from .starter import RunStarter

        return RunStarter.from_deps(self.deps)

    # -- persistence ---------------------------------------------------------------------

    async def load_session(self) -> SessionState:
        state = await self.deps.store.load_session(self.params.session_id)
        if state is None:
            from ..errors import SessionNotFoundError

            raise SessionNotFoundError(f"session {self.params.session_id!r} does not exist")
        if self.custom_state is None:
            self.custom_state = dict(state.custom_state)
        return state

    def usage_record(
        self, name: str, usage: Usage, *, kind: UsageKind, model: str | None
    ) -> UsageRecord | None:
        """The usage of step ``name``; its id is deterministic so a re-run records nothing
        twice."""
        if usage.is_empty:
            return None
        return UsageRecord(
            record_id=f"{self.params.run_id}/{name}",
            session_id=self.params.session_id,
            run_id=self.params.run_id,
            kind=kind,
            model=model,
            usage=usage,
            created_at=self.deps.clock(),
        )

    async def finish(
        self,
        status: RunStatus,
        *,
        step: StepContext | None = None,
        output: Any = None,
        error: str | None = None,
        failure_reason: str | None = None,
        finish_reason: str | None = None,
        step_count: int | None = None,
        writer: StreamWriter | None = None,
    ) -> None:
        """End this instance's run: state, run record, and the stream's last chunks.

        Idempotent: a re-run after a crash writes the same values again, and a stream that
        already ended is left alone.
        """
        await self.deps.store.finish_run(
            self.params.session_id,
            self.params.run_id,
            status,
            output=output,
            error=error,
            failure_reason=failure_reason,
            step_count=step_count,
        )
        await self.end_stream(
            status,
            writer=writer or self.writer(step=None, attempt=step.attempt if step else None),
            error=error,
            failure_reason=failure_reason,
            finish_reason=finish_reason,
        )

    async def keep_streamed_answer(self, sequence: int) -> None:
        """Store the answer readers saw of this run's stream (an abort cut it short)."""
        await keep_streamed_answer(
            self.deps.store,
            self.deps.streams,
            session_id=self.params.session_id,
            run_id=self.params.run_id,
            stream_id=self.params.stream_id,
            sequence=sequence,
            message_id=self.params.message_id,
        )

    async def end_stream(
        self,
        status: RunStatus,
        *,
        writer: StreamWriter,
        error: str | None = None,
        failure_reason: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """The stream's last chunks after the run ended in the store, in one write with
        whatever ``writer`` still buffers, which also ends the stream. A stream that is
        already ended (an abort, or this same step before a crash) is left alone.

        A child's run then tells its parent (see :func:`.suspension.notify_parent`); this
        runs inside the ending step, so a crash before it is repaired by the step's retry.
        """
        await self._end_chunks(status, writer, error, failure_reason, finish_reason)
        await self.report_end(status)

    async def stream_is_open(self) -> bool:
        """Whether this run's own stream exists and is not final (a forwarded child's
        stream is its parent's, never this run's to end: False)."""
        if self.forwarded:
            return False
        info = await self.deps.streams.info(self.params.stream_id)
        return info is not None and info.status not in ("ended", "failed")

    async def end_stream_of_ended_run(
        self, status: RunStatus, state: SessionState, *, writer: StreamWriter
    ) -> None:
        """The end of the stream of a run that ended in the store without it (the step that
        ended it died before its last write): the structured output, the error, the run's
        end, from what the store says, after whatever ``writer`` holds."""
        failed = status == RunStatus.FAILED
        if status == RunStatus.COMPLETED and self.agent.output_type is not None:
            await writer.add(OutputChunk(output=state.output))
        await self.end_stream(
            status,
            writer=writer,
            error=state.error if failed else None,
            failure_reason=state.failure_reason if failed else None,
            finish_reason=_finish_reason(status),
        )

    async def report_end(self, status: RunStatus) -> None:
        """Tell the parent session, if any, that this run ended (idempotent)."""
        if self.deps.launcher is not None and self.params.parent_session_id is not None:
            from .suspension import notify_parent

            await notify_parent(self.starter(), self.params.session_id, self.params.run_id, status)

    async def _end_chunks(
        self,
        status: RunStatus,
        writer: StreamWriter,
        error: str | None,
        failure_reason: str | None,
        finish_reason: str | None,
    ) -> None:
        # Whatever is still buffered, these chunks and the stream's end: one write.
        writer.hold()
        try:
            if error is not None and status == RunStatus.FAILED:
                await writer.add(ErrorChunk(message=error, code=failure_reason))
            await writer.add(
                RunEndChunk(
                    run_id=self.params.run_id,
                    status=status.value,
                    finish_reason=finish_reason,
                    error=error,
                )
            )
            # A child writing into its parent's stream never ends that stream.
            final: StreamStatus | None = None
            if not self.forwarded:
                final = "failed" if status == RunStatus.FAILED else "ended"
            await writer.flush(status=final)
        except (StreamClosedError, StreamNotFoundError):
            # The stream ended first (an abort, or this step's own write before a crash).
            # Any other failure fails the step: its retry finds the run ended and writes
            # the stream's end then (ModelStep._close_stream_of_ended_run).
            writer.discard()


def _finish_reason(status: RunStatus) -> str:
    """The ``finish_reason`` of a run's end, as the step that ended it gives it."""
    if status == RunStatus.COMPLETED:
        return "stop"
    if status == RunStatus.FAILED:
        return "error"
    if status.is_suspended:
        return "tool-calls"
    return "other"
