"""A model step's stream, written again from what the step stored.

A model step that ends its run commits first and streams its tail after: what the model
said since the last periodic write, the step's end and the run's end go out in one write
that also ends the stream (:meth:`.run_context.RunContext.end_stream`), so the tail costs no
write of its own. A process that dies between the commit and that write leaves the run
ended in the database and its stream open, without the tail. The step's retry finds the run
ended and repairs the stream (:func:`close_stream_of_ended_run`; the fail step does the same
after a step that failed for good, :func:`close_after_failure`) with
:func:`replay_response`: it voids every earlier attempt of
the step with a ``step-reset`` (the log hides their chunks from later reads, and a live
reader that showed some of them is told to drop them, see :mod:`..streaming.ui`), then
streams the stored response whole as its own attempt. Whatever the dead attempt managed to
write, readers end up with the response exactly once.

The replay is what the first attempt streamed, rebuilt from storage: reasoning, text, the
tool calls' inputs, the input errors of gated calls (:func:`.gating.input_problem` is pure),
the approval requests that are still pending, and the step's end. Text arrives as one delta
per part (cut below the chunk size limit), not in the model's pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from ..chunks import (
    ReasoningDeltaChunk,
    ReasoningEndChunk,
    ReasoningStartChunk,
    StepEndChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolApprovalRequestChunk,
    ToolErrorChunk,
    ToolInputAvailableChunk,
    ToolInputStartChunk,
)
from ..messages import AssistantMessage, Message, ToolResultMessage
from ..ports.step import StepContext
from ..state import PendingToolCall, RunStatus, SessionState
from .gating import input_error_chunk, input_problem, is_gated
from .partial import read_stream

if TYPE_CHECKING:
    from .run_context import RunContext
    from .stream_writer import StreamWriter

__all__ = [
    "close_after_failure",
    "close_stream_of_ended_run",
    "decided_error_chunks",
    "is_response_of",
    "replay_response",
]

#: Characters per replayed delta: far below the log's 1.9 MB per chunk, even in UTF-8.
_PIECE: Final = 100_000


def is_response_of(run: RunContext, message: Message | None, step_no: int) -> bool:
    """Whether ``message`` (found at the step's sequence) is the response this step stored.
    Sequences are the session's, so the turn's message id and the step number make sure."""
    return (
        isinstance(message, AssistantMessage)
        and message.id == run.params.message_id
        and message.step == step_no
    )


def decided_error_chunks(
    run: RunContext, message: AssistantMessage, results: Sequence[Message]
) -> list[ToolErrorChunk]:
    """The errors a model step decided itself for calls of ``message`` (an unknown tool, a
    refused output, a call not run because the run ends or hit a limit), as chunks: the
    stream shows every result the snapshot shows. A gated call's input error is left out:
    the gate streams it (:func:`.gating.gate_call`)."""
    calls = {call.id: call for call in message.tool_calls}
    chunks = []
    for result in results:
        call = calls.get(result.tool_call_id) if isinstance(result, ToolResultMessage) else None
        if call is None or not isinstance(result, ToolResultMessage) or result.status != "error":
            continue
        tool = run.agent.get_tool(call.name)
        if tool is not None and is_gated(tool) and input_problem(tool, call) is not None:
            continue
        content = result.content
        chunks.append(
            ToolErrorChunk(
                tool_call_id=call.id, error=content if isinstance(content, str) else str(content)
            )
        )
    return chunks


async def replay_response(
    run: RunContext,
    writer: StreamWriter,
    message: AssistantMessage,
    *,
    step_no: int,
    attempt: int,
    status: RunStatus,
    pending: list[PendingToolCall],
    results: Sequence[Message] = (),
) -> None:
    """Queue the stored response of step ``step_no`` on ``writer`` (a held writer of this
    attempt), after resets of every earlier attempt; ``status`` is how the step ended the
    run, ``pending`` the session's pending calls (this step's approvals among them),
    ``results`` the results the step stored with its response."""
    for superseded in range(1, attempt):
        await writer.add(StepResetChunk(), tag=False, step=step_no, attempt=superseded)
    await writer.add(StepStartChunk())
    prefix = f"{run.params.message_id}-{step_no}-{attempt}"
    kinds = (
        (message.reasoning, ReasoningStartChunk, ReasoningDeltaChunk, ReasoningEndChunk),
        (message.content, TextStartChunk, TextDeltaChunk, TextEndChunk),
    )
    parts = 0
    for text, start, delta, end in kinds:
        if text:
            parts += 1
            part = f"{prefix}-{parts}"
            await writer.add(start(part_id=part))
            for piece in _pieces(text):
                await writer.add(delta(part_id=part, delta=piece))
            await writer.add(end(part_id=part))
    agent = run.agent
    for call in message.tool_calls:
        tool = agent.get_tool(call.name)
        await writer.add(ToolInputStartChunk(tool_call_id=call.id, tool_name=call.name))
        await writer.add(
            ToolInputAvailableChunk(
                tool_call_id=call.id,
                tool_name=call.name,
                input=call.arguments,
                client=True if tool is not None and tool.execute == "client" else None,
            )
        )
    if status == RunStatus.ABORTED:
        return  # stopped mid-response: the step never got to decide, nor to end its step
    for call in message.tool_calls:
        tool = agent.get_tool(call.name)
        if tool is not None and is_gated(tool):
            problem = input_problem(tool, call)
            if problem is not None:
                await writer.add(input_error_chunk(call, problem))
    for chunk in decided_error_chunks(run, message, results):
        await writer.add(chunk)
    if status.is_suspended:
        waiting = {p.tool_call_id: p for p in pending if p.step == step_no}
        for call in message.tool_calls:
            entry = waiting.get(call.id)
            if entry is not None and entry.approval_id is not None:
                await writer.add(
                    ToolApprovalRequestChunk(tool_call_id=call.id, approval_id=entry.approval_id)
                )
        await writer.add(StepEndChunk(finish_reason="tool-calls"))
    else:
        await writer.add(StepEndChunk(finish_reason=message.finish_reason or "stop"))


def _pieces(text: str) -> list[str]:
    return [text[i : i + _PIECE] for i in range(0, len(text), _PIECE)]


# -- repairs: the stream of a run that ended in the store without its last write -----------


async def close_stream_of_ended_run(
    run: RunContext,
    ctx: StepContext,
    status: RunStatus,
    state: SessionState,
    step_no: int,
    sequence: int,
    existing: Message | None,
    *,
    attempt: int | None = None,
) -> None:
    """An earlier attempt of this step committed the run's end, then died before the
    write that carries the stream's tail and end (or someone else ended the run): write
    them now, or readers would wait on a stream that never ends, and miss the tail.

    When the response this step stored ended the run, the stream gets it again, whole,
    as this attempt, after resets of the earlier ones (:func:`replay_response`): readers see it
    exactly once however much of it the dead attempt wrote. A stream already ended (by
    that attempt, or by an abort) is left alone; so is a parent's stream this run writes
    into, unless there is a response to replay (the resets void whatever the dead
    attempt wrote there, its end included). An abort that ended the run without
    ending its stream (the executor died in between) leaves the text readers saw of
    this step to be kept from the stream, as the executor would have."""
    response = existing
    if not is_response_of(run, response, step_no):
        response = None
    if run.forwarded:
        if response is None:
            return
    elif not await run.stream_is_open():
        return
    if status == RunStatus.ABORTED and response is None and not run.forwarded:
        await run.keep_streamed_answer(sequence)
        return
    attempt = attempt or ctx.attempt
    writer = run.writer(step=step_no, attempt=attempt)
    writer.hold()
    if isinstance(response, AssistantMessage):
        results = []
        if response.tool_calls:
            # The repair's one extra read: the results the step stored with it.
            stored = await run.deps.store.load_messages(
                run.params.session_id,
                after=sequence,
                before=sequence + 1 + len(response.tool_calls),
            )
            results = [message for _, message in stored]
        await replay_response(
            run,
            writer,
            response,
            step_no=step_no,
            attempt=attempt,
            status=status,
            pending=state.pending_client_tool_calls,
            results=results,
        )
    await run.end_stream_of_ended_run(status, state, writer=writer)


async def close_after_failure(
    run: RunContext, ctx: StepContext, step_no: int, sequence: int
) -> RunStatus | None:
    """For the run's fail step, after step ``step_no`` failed for good: if that step had
    ended the run (its commit landed, the stream's last write never did), give the
    stream that end, with the stored answer streamed again after resets of every
    attempt the step made, and return the status; None when the run is still active
    (the failure is the run's to record)."""
    view = await run.deps.store.step_view(
        run.params.session_id, run.params.run_id, sequence=sequence
    )
    status = view.run_status
    if status is None or status == RunStatus.ACTIVE or view.state is None:
        return None
    chunks = await read_stream(run.deps.streams, run.params.stream_id)
    made = max((c.chunk.attempt or 0 for c in chunks if c.chunk.step == step_no), default=0)
    await close_stream_of_ended_run(
        run, ctx, status, view.state, step_no, sequence, view.existing, attempt=made + 1
    )
    await run.report_end(status)
    return status
