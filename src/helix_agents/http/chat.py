"""``POST /chat``, ``GET /chat/{sessionId}/stream`` and ``GET /chat/{sessionId}``.

``POST /chat`` takes either body. With ``useChat``'s ``{id, messages, trigger, messageId}``
the server's stored history is the truth: only the text of the last user message is new
input, and the client's other messages are not read; when the last message is the
assistant's, its tool parts may carry approval decisions (``approval-responded``) and client
tool results, which are submitted as ``/submit-tool-result`` would (``ui_answers``). ``regenerate-message`` runs the last
stored user message again as a new turn (history is append-only, so the earlier answer
stays in it). With the Helix body ``{agentType, message, sessionId}`` the message is the
input. Either way the answer is the new run's stream, from its first chunk.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..agent import Agent
from ..errors import InvalidCursorError, SessionNotFoundError
from ..executor import RunHandle
from ..ids import validate_session_id
from ..messages import UserMessage
from ..streaming.sse import UI_MESSAGE_STREAM_HEADERS, resume_cursor, sse_stream
from .bodies import HelixChatBody, UseChatBody, parse_body, read_json
from .context import ApiContext, may_see
from .errors import UnprocessableError
from .responses import JsonResponse
from .snapshot import build_snapshot
from .sse_response import SSEResponse

__all__ = ["get_snapshot", "post_chat", "reattach", "run_stream_response"]

#: Response headers naming the session and the run instance a stream belongs to. Sequence
#: numbers (SSE ids, cursors) count within one run instance.
SESSION_HEADER = "x-helix-session-id"
RUN_HEADER = "x-helix-run-id"


async def post_chat(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    data = await read_json(request, api.settings.max_body_bytes)
    if isinstance(data, dict) and "messages" in data:
        body = parse_body(UseChatBody, data)
        answered = await _answer_tool_parts(api, body, user)
        if answered is not None:
            return answered
        handle = await _start_use_chat(api, request, body, user)
    else:
        handle = await _start_helix(api, request, parse_body(HelixChatBody, data), user)
    return run_stream_response(api, handle.session_id, handle.run_id, 0)


def run_stream_response(api: ApiContext, session_id: str, run_id: str, after: int) -> SSEResponse:
    """The SSE response following run ``run_id`` from after sequence ``after``."""
    body = sse_stream(
        api.executor.streams,
        run_id,
        after,
        keep_alive=api.settings.keep_alive,
        ui_version=api.settings.ui_version,
    )
    headers = {**UI_MESSAGE_STREAM_HEADERS, SESSION_HEADER: session_id, RUN_HEADER: run_id}
    return SSEResponse(body, headers)


async def _answer_tool_parts(
    api: ApiContext, body: UseChatBody, user: str | None
) -> Response | None:
    """A post whose last message is the assistant's, carrying approval decisions
    (``approval-responded``) or client tool results: submit them; the answer is the
    resumed run's stream (202 with what still waits when the run does not resume yet)."""
    last = body.messages[-1] if body.messages else None
    if body.id is None or last is None or last.role != "assistant":
        return None
    from ..ui_answers import submit_ui_answers

    parts = [part.model_dump() for part in last.parts]
    submissions = await submit_ui_answers(api.executor, body.id, parts, user_id=user)
    if submissions is None:
        return None
    for submission in reversed(submissions):
        if submission.resumed is not None:
            resumed = submission.resumed
            return run_stream_response(api, resumed.session_id, resumed.run_id, 0)
    waiting = sorted({c for s in submissions for c in s.still_pending})
    return JsonResponse(
        {"sessionId": body.id, "status": "waiting", "stillPending": waiting}, status_code=202
    )


async def _start_helix(
    api: ApiContext, request: Request, body: HelixChatBody, user: str | None
) -> RunHandle:
    if not body.message.strip():
        raise UnprocessableError("message: the message is empty")
    agent, session_id = await _agent_and_session(
        api, request, body.agent_type, body.session_id, user
    )
    message = UserMessage(content=body.message, id=body.message_id or _new_message_id())
    return await api.executor.execute(
        agent, message, session_id=session_id, user_id=user, supersede=body.supersede
    )


async def _start_use_chat(
    api: ApiContext, request: Request, body: UseChatBody, user: str | None
) -> RunHandle:
    agent, session_id = await _agent_and_session(api, request, body.agent_type, body.id, user)
    text: str | None = None
    message_id: str | None = None
    if body.trigger == "regenerate-message" and session_id is not None:
        # Re-run the last user turn as the server stored it (a fresh message id: the
        # stored one is already taken by the earlier turn's message).
        for _, stored in reversed(await api.executor.store.load_messages(session_id)):
            if isinstance(stored, UserMessage):
                text = stored.content
                break
    if text is None:
        last = body.messages[-1] if body.messages else None
        if last is None or last.role != "user":
            raise UnprocessableError("messages: the last message must be a user message")
        text = last.text()
        message_id = last.id or None
        if not text.strip():
            raise UnprocessableError("messages: the last user message has no text part")
    message = UserMessage(content=text, id=message_id or _new_message_id())
    return await api.executor.execute(agent, message, session_id=session_id, user_id=user)


async def _agent_and_session(
    api: ApiContext,
    request: Request,
    named: str | None,
    session_id: str | None,
    user: str | None,
) -> tuple[Agent, str | None]:
    """The agent to run (body, then ``?agent=``, then the session's, then the only one)
    and the session id (validated; None for a new session)."""
    query = request.query_params.get("agent")
    if named is not None and query is not None and named != query:
        raise UnprocessableError(
            f"the body names agent {named!r} and the query names {query!r}: name one"
        )
    name = named if named is not None else query
    executor = api.executor
    if session_id is not None:
        validate_session_id(session_id)
        state = await executor.store.load_session(session_id)
        if state is not None:
            if not may_see(state, user):
                raise SessionNotFoundError(f"session {session_id!r} not found")
            if name is None:
                name = state.agent_type
    if name is None:
        agents = list(executor.registry)
        if len(agents) != 1:
            raise UnprocessableError(
                "name the agent: 'agentType' in the body or ?agent= (known: "
                f"{', '.join(executor.registry.names) or 'none'})"
            )
        return agents[0], session_id
    return executor.registry.get(name), session_id


def _new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


async def reattach(request: Request) -> Response:
    """``GET /chat/{sessionId}/stream``: the active run's stream after the client's cursor
    (from the run's start without one); 204 when no run is active."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    session_id = validate_session_id(request.path_params["session_id"])
    cursor = resume_cursor(request.headers, request.query_params)
    await api.session(session_id, user)
    store, streams = api.executor.store, api.executor.streams
    run = await store.active_run(session_id)
    if run is None:
        # No run is active: nothing to resume (the AI SDK's 204), unless the client was
        # following the latest run and missed its end: then it gets the rest, exactly once.
        latest = await store.latest_run(session_id) if cursor is not None else None
        info = await streams.info(latest.run_id) if latest is not None else None
        if latest is None or info is None or cursor is None or cursor >= info.last_seq:
            return Response(status_code=204, headers={SESSION_HEADER: session_id})
        return run_stream_response(api, session_id, latest.run_id, cursor)
    info = await streams.info(run.run_id)
    if info is None:
        # The run was recorded a moment ago and its stream is being created: create is
        # idempotent, and the run's start chunk follows.
        info = await streams.create(run.run_id)
    if cursor is not None and cursor > info.last_seq:
        raise InvalidCursorError(
            f"cursor {cursor} is past the end of the current run's stream (last sequence "
            f"{info.last_seq}); cursors count within one run ({run.run_id})"
        )
    return run_stream_response(api, session_id, run.run_id, cursor or 0)


async def get_snapshot(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    snapshot: dict[str, Any] = await build_snapshot(api.executor, state)
    return JsonResponse(snapshot)
