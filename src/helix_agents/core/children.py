"""Calls that delegate to a child agent: the lifecycle they share.

A child is its own session (``parent_session_id`` set, a row in
``__agents_sub_session_refs``) and runs as its own instances, started from the parent's
delegation step (:mod:`.delegation_step`). A call that needs the child's answer goes through
three steps::

    turn-T/step-SS/tool/<call>      start (or resume, or continue) the child
    turn-T/step-SS/wait/<call>      wait_for_event: the child's end, durably
    turn-T/step-SS/collect/<call>   write the call's result from the child's outcome

The child's run, when it ends, sends its parent's active instance an event whose type
names the child's run (:func:`.suspension.child_event_type`). While the parent waits,
nothing is held in memory: a restarted host replays the journal to the wait, and the event,
buffered by the engine if it came early, wakes it. On Cloudflare the wait is a
``step.wait_for_event``: a waiting Workflow instance costs no CPU and does not count as
running.

Everything is idempotent: child session ids are derived from the parent's session and the
call (or the companion's name), starting an active run again returns it, and a companion's
turn remembers the call that sent it (``parentToolCallId`` in the message's metadata), so a
retried step never sends a message twice.

If the child stops at a boundary, the call has no result yet: ``suspended`` makes the
parent suspend ``suspended_awaiting_children``, ``interrupted`` makes it stop
``interrupted``. When the parent resumes, the same call's first step (``tool/<call>``)
runs again and resumes the child (with a link to the parent's new stream) instead of starting one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chunks import SubagentEndChunk, SubagentStartChunk, ToolErrorChunk, ToolOutputChunk
from ..errors import StepError
from ..messages import UserMessage
from ..ports.step import StepContext
from ..state import FINAL_STATUSES, SUSPENDED_STATUSES, RunRecord, RunStatus, SubSessionRef
from ..tracing.spans import current_traceparent
from ..usage import Usage
from .params import ParentLink, PlannedCall, ToolStepResult
from .suspension import child_event_type, is_ready
from .tool_step import write_call_result

if TYPE_CHECKING:
    from .run_context import RunContext
    from .stream_writer import StreamWriter

__all__ = [
    "ChildRef",
    "DelegatedCall",
    "child_session_id",
    "collect_child",
    "finish_with_child",
    "open_child",
]


@dataclass(frozen=True)
class DelegatedCall:
    """One delegating call inside its step: the run, the step, the call's writer and the
    call. What the delegation's code needs of a step, and nothing more."""

    run: RunContext
    ctx: StepContext
    writer: StreamWriter
    planned: PlannedCall

    @property
    def call_id(self) -> str:
        return self.planned.call.id

    @property
    def session_id(self) -> str:
        """The parent's session."""
        return self.run.params.session_id

    async def write_result(self, content: Any, status: str, *, usage: Usage | None = None) -> None:
        """The call's result: the step's one write."""
        await write_call_result(self.run, self.ctx, self.planned, content, status, usage=usage)


async def collect_child(
    call: DelegatedCall, child: ToolStepResult, *, timed_out: bool, timeout: str | float
) -> ToolStepResult:
    """The child's run ``child.child_run_id`` ended (or the wait of ``timeout`` ran out)."""
    assert child.child_session_id is not None
    assert child.child_run_id is not None
    store = call.run.deps.store
    record = await store.get_run(child.child_run_id)
    if record is not None and record.status == RunStatus.ACTIVE and timed_out:
        starter = call.run.starter()
        await store.abort(child.child_session_id, record.run_id, "timed out")
        await starter.stop_instance(record)
        message = (
            f"The agent in session {child.child_session_id!r} did not finish within "
            f"{timeout} and was stopped."
        )
        # The child's data-subagent part ends too (aborted), as the snapshot shows it.
        await call.writer.add(
            SubagentEndChunk(
                child_session_id=child.child_session_id,
                child_agent_type=(await store.require_session(child.child_session_id)).agent_type,
                tool_call_id=call.call_id,
                status=RunStatus.ABORTED.value,
            )
        )
        await call.writer.add(ToolErrorChunk(tool_call_id=call.call_id, error=message))
        await call.write_result(message, "error", usage=Usage(tool_calls=1))
        return ToolStepResult(status="error")
    return await finish_with_child(call, child.child_session_id)


@dataclass(frozen=True)
class ChildRef:
    """Which child a call works with, and how."""

    session_id: str
    agent_type: str
    mode: str = "ephemeral"
    name: str | None = None
    #: The parent waits for the child's end (its chunks are forwarded to the parent).
    blocking: bool = True


def child_session_id(parent_session_id: str, key: str, prefix: str = "sub") -> str:
    """A child's session id: derived, so a retried step finds the same child (and within
    the 64-character session id limit whatever the parent's id)."""
    digest = hashlib.sha256(f"{parent_session_id}\x00{key}".encode()).hexdigest()
    return f"{prefix}_{digest[:40]}"


def _link(call: DelegatedCall, blocking: bool) -> ParentLink:
    params = call.run.params
    return ParentLink(
        session_id=params.session_id,
        run_id=params.run_id,
        stream_id=params.stream_id,
        tool_call_id=call.call_id,
        agent_type=call.run.agent.name,
        forward=blocking,
    )


def _waiting(child: ChildRef, run_id: str) -> ToolStepResult:
    return ToolStepResult(
        status="waiting",
        child_session_id=child.session_id,
        child_run_id=run_id,
        event_type=child_event_type(run_id),
    )


async def open_child(
    call: DelegatedCall, child: ChildRef, *, message: str | None
) -> ToolStepResult | None:
    """Make ``child`` run the parent's request: start its first turn, send ``message`` as a
    new turn, resume it where it stopped, or find it already running.

    Returns ``waiting`` (with the run to wait for), ``suspended`` (the child waits on a
    human: the parent must suspend), or None when the child is already done and idle with
    nothing to send (the caller writes its outcome).
    """
    run = call.run
    store = run.deps.store
    starter = run.starter()
    link = _link(call, child.blocking)
    call_id = call.call_id
    await store.add_sub_session(
        SubSessionRef(
            session_id=run.params.session_id,
            sub_session_id=child.session_id,
            agent_type=child.agent_type,
            parent_tool_call_id=call_id,
            mode="persistent" if child.mode == "persistent" else "ephemeral",
            name=child.name,
        )
    )
    state = await store.load_session(child.session_id)
    latest = await store.latest_run(child.session_id) if state is not None else None
    sent = message is not None and await store.turn_started_by(child.session_id, call_id)
    if latest is None or (message is not None and not sent and latest.status in FINAL_STATUSES):
        if message is None:
            return None
        agent = run.deps.registry.get(child.agent_type)
        params = await starter.start_turn(
            agent,
            [UserMessage(content=message, metadata={"parentToolCallId": call_id})],
            session_id=child.session_id,
            user_id=run.params.user_id,
            parent=link,
            parent_session_id=run.params.session_id,
            trace_parent=current_traceparent() if run.tracer is not None else None,
        )
        await store.update_sub_session(run.params.session_id, child.session_id, "active")
        await starter.launch(params)
        await call.writer.add(
            SubagentStartChunk(
                child_session_id=child.session_id,
                child_agent_type=child.agent_type,
                tool_call_id=call_id,
            )
        )
        return _waiting(child, params.run_id)
    if latest.status == RunStatus.ACTIVE:
        await _ensure_launched(run, latest, link)
        return _waiting(child, latest.run_id)
    if latest.status in FINAL_STATUSES:
        return None
    resumed = None
    # The delegating call's span: a child resumed without a tracing context of its own (an
    # interrupt kept none) continues the trace from there.
    traced = current_traceparent() if run.tracer is not None else None
    if latest.status in SUSPENDED_STATUSES:
        if not await is_ready(store, child.session_id):
            return ToolStepResult(status="suspended", child_session_id=child.session_id)
        # Marked before the start: the resumed child may end (and say so) at once.
        await store.update_sub_session(run.params.session_id, child.session_id, "active")
        resumed = await starter.start_resume(
            child.session_id, statuses=SUSPENDED_STATUSES, parent=link, trace_parent=traced
        )
    elif latest.status == RunStatus.INTERRUPTED:
        await store.update_sub_session(run.params.session_id, child.session_id, "active")
        resumed = await starter.start_resume(
            child.session_id,
            statuses=frozenset({RunStatus.INTERRUPTED}),
            parent=link,
            clear_interrupt=True,
            trace_parent=traced,
        )
    if resumed is not None:
        return _waiting(child, resumed.run_id)
    # Someone else moved the child on meanwhile: look again at what it does now.
    latest = await store.latest_run(child.session_id)
    if latest is not None and latest.status == RunStatus.ACTIVE:
        return _waiting(child, latest.run_id)
    return (
        None
        if latest is None or latest.status in FINAL_STATUSES
        else ToolStepResult(
            status="suspended" if latest.status in SUSPENDED_STATUSES else "interrupted",
            child_session_id=child.session_id,
        )
    )


async def _ensure_launched(run: RunContext, record: RunRecord, link: ParentLink) -> None:
    """A child run recorded but never launched (a failure between the two) is launched."""
    deps = run.deps
    assert deps.launcher is not None
    if (await deps.launcher.status(record.run_id)).status == "unknown":
        await run.starter().relaunch(record, parent=link)


async def finish_with_child(call: DelegatedCall, child_session_id: str) -> ToolStepResult:
    """Write the call's result from the child's latest outcome (or report its boundary)."""
    store = call.run.deps.store
    state = await store.require_session(child_session_id)
    latest = await store.latest_run(child_session_id)
    status = latest.status if latest is not None else state.status
    if status in SUSPENDED_STATUSES:
        return ToolStepResult(status="suspended", child_session_id=child_session_id)
    if status == RunStatus.INTERRUPTED:
        return ToolStepResult(status="interrupted", child_session_id=child_session_id)
    if status == RunStatus.ACTIVE:
        # Its end event came, so this cannot last: let the step's retry look again.
        raise StepError(f"the agent in session {child_session_id!r} is still running")
    call_id = call.call_id
    writer = call.writer
    await writer.add(
        SubagentEndChunk(
            child_session_id=child_session_id,
            child_agent_type=state.agent_type,
            tool_call_id=call_id,
            status=status.value,
            output=state.output if status == RunStatus.COMPLETED else None,
        )
    )
    content: Any
    if status == RunStatus.COMPLETED:
        content, outcome = state.output, "success"
        await writer.add(ToolOutputChunk(tool_call_id=call_id, output=content))
    else:
        what = "was aborted" if status == RunStatus.ABORTED else "failed"
        content = f"The agent {state.agent_type!r} {what}" + (
            f": {state.error}" if state.error else "."
        )
        outcome = "error"
        await writer.add(ToolErrorChunk(tool_call_id=call_id, error=content))
    await call.write_result(content, outcome, usage=Usage(tool_calls=1))
    return ToolStepResult(status=outcome)
