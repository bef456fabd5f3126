"""Steering a session's run: interrupt, resume, abort, and tool results from the client.

Each route checks the caller may see the session (404 otherwise) before it acts, and the
executor refuses what the run's state does not allow (409): interrupting or aborting when
no run is active, resuming a run that is not interrupted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ConflictError
from .bodies import ReasonBody, SubmitToolResultBody, parse_body, read_json
from .chat import run_stream_response
from .context import ApiContext
from .responses import JsonResponse

__all__ = ["abort", "interrupt", "resume", "submit_tool_result"]


async def interrupt(request: Request) -> Response:
    """Ask the active run to stop at its next safe point (202: it stops soon, not now)."""
    api, user, session_id = await _prelude(request)
    body = parse_body(
        ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True)
    )
    run = await api.executor.interrupt(session_id, reason=body.reason, user_id=user)
    return JsonResponse(
        {"sessionId": session_id, "runId": run.run_id, "status": "interrupting"}, status_code=202
    )


async def abort(request: Request) -> Response:
    """Stop the active run for good."""
    api, user, session_id = await _prelude(request)
    body = parse_body(
        ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True)
    )
    run = await api.executor.abort(session_id, reason=body.reason, user_id=user)
    return JsonResponse({"sessionId": session_id, "runId": run.run_id, "status": "aborted"})


async def resume(request: Request) -> Response:
    """Continue an interrupted run as a new instance: 202 with its ids, or, for a client
    that accepts ``text/event-stream``, the new instance's stream."""
    api, user, session_id = await _prelude(request)
    parse_body(ReasonBody, await read_json(request, api.settings.max_body_bytes, optional=True))
    handle = await api.executor.resume(session_id, user_id=user)
    if "text/event-stream" in request.headers.get("accept", ""):
        return run_stream_response(api, session_id, handle.run_id, 0)
    return JsonResponse(
        {"sessionId": session_id, "runId": handle.run_id, "turn": handle.turn, "status": "active"},
        status_code=202,
    )


async def submit_tool_result(request: Request) -> Response:
    """A client tool's result or an approval decision for a pending call.

    The input is validated in full; applying it belongs to the approvals and client-tools
    work, which this server does not do yet, so a well-formed submission is answered 409:
    either nothing is pending, or the pending call cannot be completed over HTTP yet.
    """
    api, user, session_id = await _prelude(request)
    body = parse_body(SubmitToolResultBody, await read_json(request, api.settings.max_body_bytes))
    kind = body.kind()
    state = await api.session(session_id, user)
    if kind == "approval":
        pending = [p for p in state.pending_client_tool_calls if p.approval_id == body.approval_id]
        what = f"approval {body.approval_id!r}"
    else:
        pending = [
            p for p in state.pending_client_tool_calls if p.tool_call_id == body.tool_call_id
        ]
        what = f"tool call {body.tool_call_id!r}"
    if not pending:
        raise ConflictError(f"session {session_id!r} has no pending {what}")
    raise ConflictError(
        f"{what} is pending, but this server cannot take tool results or approvals yet"
    )


async def _prelude(request: Request) -> tuple[ApiContext, str | None, str]:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    return api, user, state.session_id
