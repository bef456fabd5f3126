"""The two steps a run takes only at a human boundary: ``suspend`` and ``expire``.

``turn-T/step-SS/suspend`` runs after an agent step's tools when some call of the response
has no result and cannot get one now: it waits on a decision or a client result (a mixed
response: the server tools ran first), or its child stopped (suspended: the parent suspends
``suspended_awaiting_children``; interrupted: the parent stops ``interrupted``). It writes
the suspension and the run's end in one batch, ends the stream, and, when the decisions
already arrived while the tools ran, starts the resume itself.

``turn-T/step-SS/expire`` is the whole body of a resume whose suspension expired: one
result per unsettled call, saying it expired, and the run's end as ``failed`` with the
reason, in one batch. The client sees it on the resume's stream and in the snapshot.

An approval that nobody answered ends as what it is in the AI SDK's terms: not approved.
Its result is ``denied`` and keeps ``{id, approved: false, reason: <the expiry>}``, the
stream says so (the decision, then ``tool-output-denied``), and the snapshot shows the same
``output-denied`` part. A call approved in time but expired before it ran keeps its
approval on an error; a client tool's call gets an error.
"""

from __future__ import annotations

from ..chunks import Chunk, ToolErrorChunk, ToolOutputDeniedChunk
from ..messages import Message, ToolApproval, ToolResultMessage
from ..ports.step import StepContext
from ..state import PendingToolCall, RunStatus, SessionState
from ..store import Outcome, Suspension
from .gating import suspension_context
from .params import EndStepResult
from .run_context import RunContext
from .suspension import resume_if_ready
from .tool_step import decision_chunk, decision_of

__all__ = ["EXPIRED_REASON", "expire_suspension", "suspend_at_boundary"]

#: ``failure_reason`` of a run whose suspension expired.
EXPIRED_REASON = "suspension_expired"


async def suspend_at_boundary(
    run: RunContext,
    ctx: StepContext,
    *,
    step_no: int,
    waiting_calls: list[str],
    suspended_children: list[str | None],
    interrupted: bool,
) -> EndStepResult:
    run.executed.add(ctx.name)
    store = run.deps.store
    params = run.params
    view = await store.step_view(params.session_id, params.run_id)
    children = [c for c in suspended_children if c is not None]
    if view.run_status != RunStatus.ACTIVE or view.state is None:
        # An earlier attempt (or an abort) already ended the run; an attempt that died
        # between its commit and its stream's end leaves the end to this one.
        status = view.run_status or RunStatus.ABORTED
        await run.report_end(status)
    else:
        if children:
            status = RunStatus.SUSPENDED_AWAITING_CHILDREN
        elif waiting_calls:
            status = RunStatus.SUSPENDED_STEP_PARTIAL
        else:
            status = RunStatus.INTERRUPTED
        suspension = None
        if status.is_suspended:
            waiting = set(waiting_calls)
            pending: list[PendingToolCall] = [
                p for p in view.state.pending_client_tool_calls if p.tool_call_id in waiting
            ]
            context = suspension_context(run, status, step_no, pending)
            context.suspended_awaiting_children = children
            suspension = Suspension(context)
        await store.commit_model_step(
            params.session_id,
            params.run_id,
            [],
            step_count=step_no,
            outcome=Outcome(status),
            suspension=suspension,
        )
        # Decisions that arrived while the tools ran found the run still active and left
        # the resume to this step; it starts before the stream ends, so that a client that
        # sees the end finds the resume. (A child its parent waits on leaves it to the
        # parent.)
        await _resume_if_ready(run, status)
        writer = run.writer(step=None, attempt=ctx.attempt)
        await run.end_stream(
            status,
            writer=writer,
            finish_reason="tool-calls" if status.is_suspended else "other",
        )
        return EndStepResult(status=status)
    await _resume_if_ready(run, status)
    await _end_lost_stream(run, ctx, status, view.state)
    return EndStepResult(status=status)


async def _end_lost_stream(
    run: RunContext, ctx: StepContext, status: RunStatus, state: SessionState | None
) -> None:
    """The stream's end, when the run ended in the store and its stream is still open."""
    if state is not None and await run.stream_is_open():
        writer = run.writer(step=None, attempt=ctx.attempt)
        await run.end_stream_of_ended_run(status, state, writer=writer)


async def _resume_if_ready(run: RunContext, status: RunStatus) -> None:
    if status.is_suspended and not run.forwarded:
        await resume_if_ready(run.starter(), run.params.session_id)


async def expire_suspension(run: RunContext, ctx: StepContext, *, step_no: int) -> EndStepResult:
    run.executed.add(ctx.name)
    store = run.deps.store
    params = run.params
    reason = params.expired or "The suspension expired."
    view = await store.step_view(params.session_id, params.run_id)
    if view.run_status != RunStatus.ACTIVE:
        ended = view.run_status or RunStatus.ABORTED
        await _end_lost_stream(run, ctx, ended, view.state)
        await run.report_end(ended)
        return EndStepResult(status=ended, error=reason)
    writer = run.writer(step=step_no, attempt=ctx.attempt)
    rows: list[tuple[int, Message]] = []
    waited = view.state.pending_client_tool_calls if view.state is not None else []
    pending = {p.tool_call_id: p for p in waited}
    for item in params.pending_tool_calls:
        content = f"Not executed: {reason}"
        approval = _how_it_ended(pending.get(item.call.id), reason)
        denied = approval is not None and not approval.approved
        rows.append(
            (
                item.sequence,
                ToolResultMessage(
                    tool_call_id=item.call.id,
                    tool_name=item.call.name,
                    content=content,
                    status="denied" if denied else "error",
                    approval=approval,
                ),
            )
        )
        chunks: list[Chunk] = []
        if approval is not None:
            chunks.append(decision_chunk(item.call.id, approval))
        if denied:
            assert approval is not None
            chunks.append(ToolOutputDeniedChunk(tool_call_id=item.call.id, reason=approval.reason))
        else:
            chunks.append(ToolErrorChunk(tool_call_id=item.call.id, error=content))
        for chunk in chunks:
            await writer.add(chunk)
    await store.commit_model_step(
        params.session_id,
        params.run_id,
        rows,
        step_count=step_no,
        outcome=Outcome(RunStatus.FAILED, None, reason, EXPIRED_REASON),
        settle=True,
    )
    await run.end_stream(
        RunStatus.FAILED,
        writer=writer,
        error=reason,
        failure_reason=EXPIRED_REASON,
        finish_reason="error",
    )
    return EndStepResult(status=RunStatus.FAILED, error=reason)


def _how_it_ended(entry: PendingToolCall | None, reason: str) -> ToolApproval | None:
    """The approval of an expired call as it really ended: the person's decision if one
    came in time, else not approved, for the expiry's reason. None for a call that waited
    on no approval (a client tool's)."""
    if entry is None or entry.kind != "approval" or entry.approval_id is None:
        return None
    decided = decision_of(entry)
    if decided is not None:
        return decided
    return ToolApproval(id=entry.approval_id, approved=False, reason=reason)
