"""The body of a tool step: one tool call, run at most once to completion.

Before running, the step looks for its result message at its sequence number: if a previous
attempt completed the tool and persisted the result but died before the journal recorded the
step, the result is returned as it is and the tool is NOT run again. The only window in which
a tool can run twice is a crash after the tool's own side effect and before its result is
written; tools with external side effects should key them on ``ctx.tool_call_id``.

In a resume instance a call that waited is settled here, in its own step like any call: an
approved call runs; a denied one gets a result that tells the model so (and
``tool-output-denied`` on the stream); a client tool's submitted result is written as its
result. A decided call's stream first says what was decided (``tool-approval-response``),
and its result message keeps the decision (``approval``), so that the stream and the
snapshot show it as the client that decided it does.

A call's step opens the same way whatever runs it (:func:`open_call`: the stored result of
an earlier attempt, settling, the stop check, the decision's chunk) and ends with the same
one write (:func:`write_call_result`); a call of a delegating tool runs its child in the
delegation step instead (:mod:`.delegation_step`), which shares both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..chunks import (
    CustomDataChunk,
    ToolApprovalResponseChunk,
    ToolErrorChunk,
    ToolOutputChunk,
    ToolOutputDeniedChunk,
)
from ..errors import HelixError, StateValidationError, StorageUnavailableError
from ..messages import Source, ToolApproval, ToolResultMessage
from ..ports.step import StepContext
from ..state import PendingToolCall
from ..tools import ToolArgumentsError
from ..tracing.calls import end_tool_span, tool_span
from ..usage import Usage
from .context import STATE_PATCH_PART, RunToolContext
from .params import PlannedCall, ToolStepResult
from .run_context import RunContext
from .stream_writer import StreamWriter

__all__ = [
    "DENIED",
    "OpenedCall",
    "ToolStep",
    "decision_of",
    "jsonable",
    "open_call",
    "recorded_decision",
    "tool_writer",
    "write_call_result",
]

#: What the model is told of a denied call (then `` Reason: <the person's reason>``).
DENIED = "The user denied this tool call; it was not executed."


def decision_of(entry: PendingToolCall | None) -> ToolApproval | None:
    """The decision recorded on a pending approval, or None (not an approval, undecided)."""
    if entry is None or entry.kind != "approval" or entry.decision is None:
        return None
    if entry.approval_id is None:
        return None
    return ToolApproval(
        id=entry.approval_id,
        approved=entry.decision == "approved",
        reason=entry.reason,
        arguments=entry.edited_arguments if entry.decision == "approved" else None,
    )


def decision_chunk(call_id: str, approval: ToolApproval) -> ToolApprovalResponseChunk:
    return ToolApprovalResponseChunk(
        tool_call_id=call_id,
        approval_id=approval.id,
        approved=approval.approved,
        reason=approval.reason,
    )


@dataclass(frozen=True)
class OpenedCall:
    """A call its step goes on to run: the writer of its chunks, its recorded approval."""

    writer: StreamWriter
    approval: ToolApproval | None


async def open_call(
    run: RunContext, ctx: StepContext, *, step_no: int, planned: PlannedCall
) -> OpenedCall | ToolStepResult:
    """What every call's step does first. Returns the step's result when there is nothing
    to run (an earlier attempt's stored result, a settled call, an accepted stop), else the
    call, opened."""
    run.executed.add(ctx.name)
    store = run.deps.store
    call = planned.call
    if ctx.attempt > 1:
        # A retry: if an earlier attempt saved the result, the tool completed. Never run
        # a completed tool again.
        existing = await store.get_message(run.params.session_id, planned.sequence)
        if isinstance(existing, ToolResultMessage) and existing.tool_call_id == call.id:
            # Its state patch is in the database, not in this result: read the state
            # again where it is next needed. The result joins the cached history (an
            # attempt that died in this process after its write never added it there, and
            # the next model step would not see it).
            run.custom_state = None
            run.remember([(planned.sequence, existing)])
            return ToolStepResult(status=existing.status)

    writer = tool_writer(run, step_no)
    if planned.resolution in ("denied", "client", "expired"):
        return await _settle(run, ctx, writer, planned)
    if await _stop_requested(run, writer):
        # No tool starts once an interrupt (or an abort) is accepted. The call keeps
        # no result, so a resume runs it; a replay returns this same decision.
        return ToolStepResult(status="interrupted")
    approval: ToolApproval | None = None
    if planned.resolution == "approved":
        approval = await recorded_decision(run, call.id)
        if approval is not None:
            await writer.add(decision_chunk(call.id, approval))
    return OpenedCall(writer=writer, approval=approval)


class ToolStep:
    """Runs a call of a function tool."""

    def __init__(self, run: RunContext) -> None:
        self.rc = run

    async def execute(
        self, ctx: StepContext, *, step_no: int, planned: PlannedCall
    ) -> ToolStepResult:
        run = self.rc
        opened = await open_call(run, ctx, step_no=step_no, planned=planned)
        if isinstance(opened, ToolStepResult):
            return opened
        writer, approval = opened.writer, opened.approval
        store = run.deps.store
        session_id = run.params.session_id
        call = planned.call
        if approval is not None and approval.arguments is not None:
            # Approved with edited arguments (validated when submitted): run with those.
            call = call.model_copy(update={"arguments": approval.arguments, "raw_arguments": None})
        tool = run.agent.get_tool(call.name)
        assert tool is not None, "the model step only plans known tools"
        if run.custom_state is None:
            await run.load_session()
        tool_ctx = RunToolContext(
            session_id=session_id,
            run_id=run.params.run_id,
            agent_name=run.agent.name,
            tool_call_id=call.id,
            custom_state=run.custom_state or {},
            writer=writer,
            check_interrupt=lambda: store.interrupt_requested(session_id),
            resources=run.deps.resources,
            agent=run.agent,
        )
        status: str = "success"
        patch: dict[str, Any] | None = None
        span = tool_span(run.tracer, call.name, call.id, description=tool.description)
        try:
            if call.raw_arguments is not None and not call.arguments:
                raise ToolArgumentsError(
                    f"The arguments for tool {call.name!r} were not a JSON object: "
                    f"{call.raw_arguments[:200]!r}. Call the tool again with a JSON object."
                )
            output = await tool.call(call.arguments, tool_ctx)
            # A typed state the tool left invalid fails the call (StateValidationError).
            patch = tool_ctx.state_patch
            content = jsonable(output)
            await writer.add(ToolOutputChunk(tool_call_id=call.id, output=content))
        except StorageUnavailableError:
            # A full disk under our own writes (the tool's output chunk) is no failure of
            # the tool to tell the model about: the step stops and runs again.
            raise
        except ToolArgumentsError as exc:
            status, content = "error", exc.message
            await writer.add(
                ToolErrorChunk(
                    tool_call_id=call.id,
                    error=exc.message,
                    input_error=True,
                    tool_name=call.name,
                    input=call.arguments,
                )
            )
        except Exception as exc:
            # A failing tool is reported to the model, which may try something else.
            status = "error"
            content = str(exc) if isinstance(exc, HelixError) else f"{type(exc).__name__}: {exc}"
            await writer.add(ToolErrorChunk(tool_call_id=call.id, error=content))
        end_tool_span(run.tracer, span, error=str(content) if status == "error" else None)
        if patch is None:
            patch = _patch_after_failure(tool_ctx)
        if patch:
            # The change as JSON Patch, for a client that mirrors the state (transient: not
            # a part of the message; the snapshot carries the state itself).
            ops = tool_ctx.state_json_patch()
            if ops:
                await writer.add(CustomDataChunk(name=STATE_PATCH_PART, data=ops, transient=True))
        await writer.flush()
        await write_call_result(
            run,
            ctx,
            planned,
            content,
            status,
            usage=Usage(tool_calls=1, custom=dict(tool_ctx.custom_usage)),
            state_patch=patch,
            approval=approval,
            sources=tool_ctx.sources,
        )
        return ToolStepResult(status=status, state_patch=patch)


def _patch_after_failure(tool_ctx: RunToolContext) -> dict[str, Any]:
    """What a call that failed still writes of the state: its changes, as for any call,
    unless they leave a typed state invalid (then none)."""
    try:
        return tool_ctx.state_patch
    except StateValidationError:
        return {}


async def _stop_requested(run: RunContext, writer: StreamWriter) -> bool:
    """Whether a stop was accepted, read just before the tool would start: from the ack
    of an empty stream write (the stream carries the session's stop requests, and an
    executor sets the store's flag first), or, for a sub-agent writing into its
    parent's stream (whose stop requests are the parent's), from the store."""
    if not run.forwarded:
        return await writer.probe() is not None
    control = await run.deps.store.get_control(run.params.session_id)
    return control.interrupt is not None or control.aborted


async def write_call_result(
    run: RunContext,
    ctx: StepContext,
    planned: PlannedCall,
    content: Any,
    status: str,
    *,
    usage: Usage | None = None,
    state_patch: dict[str, Any] | None = None,
    approval: ToolApproval | None = None,
    sources: list[Source] | None = None,
) -> None:
    """The call's result message, its state patch and its usage: the step's one write.
    An approved call's result keeps its decision (looked up here when not given)."""
    if approval is None and planned.resolution == "approved":
        approval = await recorded_decision(run, planned.call.id)
    result = ToolResultMessage(
        tool_call_id=planned.call.id,
        tool_name=planned.call.name,
        content=content,
        status=status,
        approval=approval,
        sources=sources or None,
    )
    await run.deps.store.commit_tool_step(
        run.params.session_id,
        run.params.run_id,
        planned.sequence,
        result,
        state_patch=state_patch or None,
        usage=None if usage is None else run.usage_record(ctx.name, usage, kind="tool", model=None),
    )
    run.remember([(planned.sequence, result)])


async def recorded_decision(run: RunContext, call_id: str) -> ToolApproval | None:
    """The recorded decision on a call of this session (the resume reads it from the
    pending list, which its first model step clears)."""
    state = await run.load_session()
    entry = next((p for p in state.pending_client_tool_calls if p.tool_call_id == call_id), None)
    return decision_of(entry)


async def _settle(
    run: RunContext, ctx: StepContext, writer: StreamWriter, planned: PlannedCall
) -> ToolStepResult:
    """A call that waited: write the denial or the client's result (read from the
    session's pending list, where the submission put it)."""
    call = planned.call
    state = await run.load_session()
    entry = next((p for p in state.pending_client_tool_calls if p.tool_call_id == call.id), None)
    usage: Usage | None = None
    approval: ToolApproval | None = None
    if planned.resolution == "denied":
        reason = entry.reason if entry is not None else None
        content: Any = DENIED + (f" Reason: {reason}" if reason else "")
        status = "denied"
        approval = decision_of(entry)
        if approval is not None:
            await writer.add(decision_chunk(call.id, approval))
        await writer.add(ToolOutputDeniedChunk(tool_call_id=call.id, reason=reason))
    elif planned.resolution == "client" and entry is not None:
        content = entry.result
        status = entry.result_status or "success"
        usage = Usage(tool_calls=1)
        if status == "success":
            await writer.add(ToolOutputChunk(tool_call_id=call.id, output=content))
        else:
            await writer.add(ToolErrorChunk(tool_call_id=call.id, error=str(content)))
    else:
        content = "Not executed: its decision is missing or expired."
        status = "error"
        await writer.add(ToolErrorChunk(tool_call_id=call.id, error=content))
    await writer.flush()
    await write_call_result(run, ctx, planned, content, status, usage=usage, approval=approval)
    return ToolStepResult(status=status)


def tool_writer(run: RunContext, step_no: int) -> StreamWriter:
    """The writer of a tool step of model step ``step_no``: its chunks carry the step's
    number (the UI shows a tool's output inside its step) and NO attempt.

    A chunk's ``(step, attempt)`` is what a ``step-reset`` voids (streaming/chunklog.py), and
    resets are about *model* attempts: a model step's retry resets attempts 1..n-1 of its
    step, and the log then stores every later chunk of those attempts superseded at once.
    A tool step runs after its model step succeeded, so none of its chunks is ever void;
    tagged with the tool step's own attempt (1) they would collide with the model step's
    dead attempt 1 and vanish from every reader. No reset names attempt None.
    """
    return run.writer(step=step_no, attempt=None)


def jsonable(value: Any) -> Any:
    """Tool outputs are stored as JSON: pydantic models and dataclasses become dicts."""
    if value is None or isinstance(value, str | int | float | bool):
        return value  # before the import below: it costs a call on every tool step
    from pydantic import BaseModel, TypeAdapter

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return TypeAdapter(Any).dump_python(value, mode="json")
