"""Steering a session's run: interrupt, resume, abort, and tool results from the client.

Each route checks the caller may see the session (404 otherwise) before it acts, and the
executor refuses what the run's state does not allow (409): interrupting or aborting when
no run is active, resuming a run that is not interrupted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..core.remote_answers import find_remote_call
from ..core.submissions import hierarchy
from ..errors import ConflictError
from ..tracing.propagation import incoming_trace_context
from .bodies import ReasonBody, SubmitToolResultBody, parse_body, read_json
from .chat import run_stream_response
from .context import ApiContext
from .responses import JsonResponse
from .schemas import RunAccepted, SubmissionResult, dump

__all__ = ["abort", "interrupt", "resume", "submit_tool_result"]


async def interrupt(request: Request) -> Response:
    """Ask the active run to stop at its next safe point (202: it stops soon, not now)."""
    api, user, session_id = await _prelude(request)
    body = parse_body(
        ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True)
    )
    run = await api.executor.interrupt(session_id, reason=body.reason, user_id=user)
    accepted = RunAccepted(session_id=session_id, run_id=run.run_id, status="interrupting")
    return JsonResponse(dump(accepted, exclude_none=True), status_code=202)


async def abort(request: Request) -> Response:
    """Stop the active run for good."""
    api, user, session_id = await _prelude(request)
    body = parse_body(
        ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True)
    )
    run = await api.executor.abort(session_id, reason=body.reason, user_id=user)
    accepted = RunAccepted(session_id=session_id, run_id=run.run_id, status="aborted")
    return JsonResponse(dump(accepted, exclude_none=True))


async def resume(request: Request) -> Response:
    """Continue an interrupted run as a new instance: 202 with its ids, or, for a client
    that accepts ``text/event-stream``, the new instance's stream."""
    api, user, session_id = await _prelude(request)
    parse_body(ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True))
    handle = await api.executor.resume(
        session_id, user_id=user, trace_context=incoming_trace_context(request.headers)
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        return run_stream_response(api, session_id, handle.run_id, 0)
    accepted = RunAccepted(
        session_id=session_id, run_id=handle.run_id, turn=handle.turn, status="active"
    )
    return JsonResponse(dump(accepted, exclude_none=True), status_code=202)


async def submit_tool_result(request: Request) -> Response:
    """A client tool's result or an approval decision for a pending call.

    The executor is the security boundary: it accepts a submission only for a call pending
    in this session (or a child it started), from the session's owner, once (409 otherwise).
    When nothing else waits, the run resumes as a new instance: the answer names it, or,
    for a client that accepts ``text/event-stream``, is its stream.
    """
    api, user, session_id = await _prelude(request)
    body = parse_body(SubmitToolResultBody, await read_json(request, api.settings.max_body_bytes))
    kind = body.kind()
    tool_call_id = body.tool_call_id
    if tool_call_id is None:
        tool_call_id = await _call_of_approval(api, session_id, user, body.approval_id)
    executor = api.executor
    # The caller's trace context: the resume this submission starts (if any) joins it.
    trace = incoming_trace_context(request.headers)
    if kind == "approval":
        submission = await executor.submit_tool_result(
            session_id,
            tool_call_id=tool_call_id,
            approved=body.approved,
            reason=body.reason,
            approval_id=body.approval_id,
            user_id=user,
            arguments=body.arguments,
            trace_context=trace,
        )
    elif body.error_text is not None:
        submission = await executor.submit_tool_result(
            session_id,
            tool_call_id=tool_call_id,
            result=body.error_text,
            is_error=True,
            user_id=user,
            trace_context=trace,
        )
    else:
        submission = await executor.submit_tool_result(
            session_id,
            tool_call_id=tool_call_id,
            result=body.output,
            user_id=user,
            trace_context=trace,
        )
    resumed = submission.resumed
    if resumed is not None and "text/event-stream" in request.headers.get("accept", ""):
        return run_stream_response(api, resumed.session_id, resumed.run_id, 0)
    answer = SubmissionResult(
        session_id=submission.session_id,
        tool_call_id=submission.tool_call_id,
        kind=submission.kind,
        decision=submission.decision,
        still_pending=submission.still_pending,
        resumed_run_id=resumed.run_id if resumed is not None else None,
    )
    return JsonResponse(dump(answer))


async def _call_of_approval(
    api: ApiContext, session_id: str, user: str | None, approval_id: str | None
) -> str:
    """The tool call an approval id (the AI SDK's handle for it) stands for: pending in the
    session or in one of its descendants. A sub-agent's approval request reaches the client
    through the parent's stream and is answered through the parent, by its ``toolCallId`` or
    its ``approvalId`` (docs/subagents.md); looking in the session alone refused the
    ``approvalId`` of a child's call (409) on every host."""
    await api.session(session_id, user)
    store = api.executor.store
    async for current in hierarchy(store, session_id):
        state = await store.load_session(current)
        if state is None:
            continue
        for pending in state.pending_client_tool_calls:
            if pending.approval_id is not None and pending.approval_id == approval_id:
                return pending.tool_call_id
    # A remote child's request, mirrored into its reference (core/remote_answers.py).
    remote = await find_remote_call(store, session_id, approval_id=approval_id)
    if remote is not None:
        return str(remote[1]["toolCallId"])
    raise ConflictError(f"session {session_id!r} has no pending approval {approval_id!r}")


async def _prelude(request: Request) -> tuple[ApiContext, str | None, str]:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    return api, user, state.session_id
