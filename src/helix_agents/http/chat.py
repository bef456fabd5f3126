"""``POST /chat``, ``GET /chat/{sessionId}/stream`` and ``GET /chat/{sessionId}``.

``POST /chat`` takes either body. With ``useChat``'s ``{id, messages, trigger, messageId}``
the server's stored history is the truth: only the text of the last user message is new
input (with its file parts, kept in object storage: ``files.py``), and the client's other
messages are not read; when the last message is the
assistant's, its tool parts may carry approval decisions (``approval-responded``) and client
tool results, which are submitted as ``/submit-tool-result`` would (``ui_answers``). ``regenerate-message`` runs the last
stored user message again as a new turn (history is append-only, so the earlier answer
stays in it). With the Helix body ``{agentType, message, sessionId}`` the message is the
input. Either way the answer is the new run's stream, from its first chunk.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from ..agent import Agent
from ..errors import ConflictError, InvalidCursorError, SessionNotFoundError
from ..executor import RunHandle
from ..ids import new_session_id, validate_session_id
from ..messages import AssistantMessage, FilePart, UserMessage
from ..state import RunRecord, RunStatus
from ..streaming.sse import UI_MESSAGE_STREAM_HEADERS, resume_cursor
from ..tracing.propagation import TraceContext, incoming_trace_context
from .bodies import HelixChatBody, UseChatBody, parse_body, read_json
from .context import ApiContext, may_see
from .errors import UnprocessableError
from .files import store_file_parts
from .pages import SNAPSHOT_PAGE, page_query
from .responses import JsonResponse
from .schemas import Waiting, dump
from .snapshot import build_snapshot
from .sse_response import SSEResponse
from .turns import Instance, instance_index, position, split_position, turn_instances, turn_sse

__all__ = ["get_snapshot", "post_chat", "reattach", "run_stream_response", "turn_stream_response"]

#: Response headers naming the session and the run instance a stream belongs to (the last
#: one it follows). Event ids and cursors are positions in the turn (``turns.py``).
SESSION_HEADER = "x-helix-session-id"
RUN_HEADER = "x-helix-run-id"


async def post_chat(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    data = await read_json(request, api.settings.max_body_bytes)
    # The caller's W3C trace context: the run (or the resume) joins its trace. A header
    # that is not valid is ignored, never refused.
    trace = incoming_trace_context(request.headers)
    if isinstance(data, dict) and "messages" in data:
        body = parse_body(UseChatBody, data)
        answered = await _answer_tool_parts(api, body, user, trace)
        if answered is not None:
            return answered
        handle = await _start_use_chat(api, request, body, user, trace)
    else:
        handle = await _start_helix(api, request, parse_body(HelixChatBody, data), user, trace)
    if isinstance(handle, Response):
        return handle  # a retried request: the turn its message started
    return run_stream_response(api, handle.session_id, handle.run_id, 0)


def run_stream_response(api: ApiContext, session_id: str, run_id: str, after: int) -> SSEResponse:
    """The SSE response following run instance ``run_id`` from after its sequence
    ``after`` (its event ids are turn positions)."""
    instance = Instance(run_id, instance_index(run_id))
    return turn_stream_response(api, session_id, [instance], position(run_id, after))


def turn_stream_response(
    api: ApiContext, session_id: str, instances: list[Instance], after: int
) -> SSEResponse:
    """The SSE response of a turn's ``instances`` from after turn position ``after``."""
    body = turn_sse(
        api.executor.streams,
        instances,
        after,
        keep_alive=api.settings.keep_alive,
        ui_version=api.settings.ui_version,
    )
    headers = {
        **UI_MESSAGE_STREAM_HEADERS,
        SESSION_HEADER: session_id,
        RUN_HEADER: instances[-1].run_id,
    }
    return SSEResponse(body, headers)


async def _answer_tool_parts(
    api: ApiContext, body: UseChatBody, user: str | None, trace: TraceContext | None
) -> Response | None:
    """A post whose last message is the assistant's, carrying approval decisions
    (``approval-responded``) or client tool results: submit them; the answer is the
    resumed run's stream (202 with what still waits when the run does not resume yet)."""
    last = body.messages[-1] if body.messages else None
    if body.id is None or last is None or last.role != "assistant":
        return None
    from ..ui_answers import submit_ui_answers

    parts = [part.model_dump() for part in last.parts]
    submissions = await submit_ui_answers(
        api.executor, body.id, parts, user_id=user, trace_context=trace
    )
    if submissions is None:
        return None
    for submission in reversed(submissions):
        if submission.resumed is not None:
            resumed = submission.resumed
            return run_stream_response(api, resumed.session_id, resumed.run_id, 0)
    waiting = sorted({c for s in submissions for c in s.still_pending})
    return JsonResponse(
        dump(Waiting(session_id=body.id, status="waiting", still_pending=waiting)),
        status_code=202,
    )


async def _start_helix(
    api: ApiContext,
    request: Request,
    body: HelixChatBody,
    user: str | None,
    trace: TraceContext | None,
) -> RunHandle | Response:
    if not body.message.strip():
        raise UnprocessableError("message: the message is empty")
    agent, session_id = await _agent_and_session(
        api, request, body.agent_type, body.session_id, user
    )
    message = UserMessage(
        content=body.message,
        id=body.message_id or _new_message_id(),
        metadata=body.metadata or None,
    )
    context = [UserMessage(content=c.content, metadata=c.metadata or None) for c in body.context]
    return await _start_once(
        api,
        agent,
        message,
        session_id,
        user,
        client_id=body.message_id,
        supersede=body.supersede,
        context=context,
        trace=trace,
    )


async def _start_once(
    api: ApiContext,
    agent: Agent,
    message: UserMessage,
    session_id: str | None,
    user: str | None,
    *,
    client_id: str | None,
    supersede: bool = False,
    context: Sequence[UserMessage] = (),
    trace: TraceContext | None = None,
) -> RunHandle | Response:
    """Start the turn of ``message``, unless the client's message id ``client_id`` already
    started a turn of the session: a retried request (a network retry, a reconnect) then
    gets that turn's stream (followed live, or replayed whole when it ended), and no second
    turn starts. The id is looked up in the stored user messages, which a turn writes
    atomically with its run; two identical requests at once both end on the one turn (the
    loser's start is refused as a conflict, then finds the winner's message)."""
    if session_id is not None and client_id:
        retried = await _retried_turn(api, session_id, client_id)
        if retried is not None:
            return retried
    try:
        return await api.executor.execute(
            agent,
            [*context, message],
            session_id=session_id,
            user_id=user,
            supersede=supersede,
            trace_context=trace,
        )
    except ConflictError:
        if session_id is None or not client_id:
            raise
        retried = await _retried_turn(api, session_id, client_id)
        if retried is None:
            raise
        return retried


async def _retried_turn(api: ApiContext, session_id: str, client_id: str) -> Response | None:
    """The stream of the turn whose user message has the id ``client_id`` (from its start),
    or None when no stored message has it."""
    store = api.executor.store
    found = await store.find_user_message(session_id, client_id)
    if found is None:
        return None
    sequence, message = found
    turn = message.turn
    if turn is None:  # a message stored before turns were recorded with it
        turn = await _turn_of(api, session_id, sequence)
    runs = [r for r in await store.list_runs(session_id) if r.turn == turn]
    if not runs:
        return None
    last = max(runs, key=lambda r: instance_index(r.run_id))
    streams = api.executor.streams
    if last.status == RunStatus.ACTIVE and await streams.info(last.run_id) is None:
        # Recorded a moment ago, its stream being created (create is idempotent).
        await streams.create(last.run_id)
    instances = await turn_instances(store, last)
    return turn_stream_response(api, session_id, instances, 0)


async def _turn_of(api: ApiContext, session_id: str, sequence: int) -> int | None:
    """The turn of the user message at ``sequence``, from the id of the turn's assistant
    message after it (``{session}-t{turn}``), else the latest turn's."""
    prefix = f"{session_id}-t"
    for _, later in await api.executor.store.load_messages(session_id, after=sequence):
        if isinstance(later, UserMessage):
            break
        if isinstance(later, AssistantMessage) and (later.id or "").startswith(prefix):
            number = (later.id or "")[len(prefix) :]
            if number.isdigit() and len(number) < 10:
                return int(number)
    latest = await api.executor.store.latest_run(session_id)
    return None if latest is None else latest.turn


async def _start_use_chat(
    api: ApiContext,
    request: Request,
    body: UseChatBody,
    user: str | None,
    trace: TraceContext | None,
) -> RunHandle | Response:
    agent, session_id = await _agent_and_session(api, request, body.agent_type, body.id, user)
    text: str | None = None
    message_id: str | None = None
    files: list[FilePart] | None = None
    client_id: str | None = None
    if body.trigger == "regenerate-message" and session_id is not None:
        # Re-run the last user turn as the server stored it (a fresh message id: the
        # stored one is already taken by the earlier turn's message).
        for _, stored in reversed(await api.executor.store.load_messages(session_id)):
            if isinstance(stored, UserMessage):
                text, files = stored.content, stored.files
                break
    if text is None:
        last = body.messages[-1] if body.messages else None
        if last is None or last.role != "user":
            raise UnprocessableError("messages: the last message must be a user message")
        text = last.text()
        message_id = client_id = last.id or None
        attached = any(p.type == "file" for p in last.parts)
        if not text.strip() and not attached:
            raise UnprocessableError("messages: the last user message has no text part")
        if attached:
            # The files' keys name the session and the message: both are fixed here.
            session_id = session_id or new_session_id()
            message_id = message_id or _new_message_id()
            files = await store_file_parts(last.parts, api.services(), session_id, message_id)
    message = UserMessage(content=text, id=message_id or _new_message_id(), files=files or None)
    return await _start_once(
        api, agent, message, session_id, user, client_id=client_id, trace=trace
    )


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
    """``GET /chat/{sessionId}/stream``: the active turn's stream after the client's cursor
    (a turn position), across the turn's instances; without a cursor, the whole turn from
    its start, which is what the AI SDK requires of a resumed stream. 204 when no run is
    active (unless the cursor shows the client missed the end of the latest turn)."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    session_id = validate_session_id(request.path_params["session_id"])
    cursor = resume_cursor(request.headers, request.query_params)
    await api.session(session_id, user)
    store, streams = api.executor.store, api.executor.streams
    run = await store.active_run(session_id)
    if run is None:
        # No run is active: nothing to resume (the AI SDK's 204), unless the client was
        # following the latest turn and missed its end: then it gets the rest, exactly once.
        latest = await store.latest_run(session_id) if cursor is not None else None
        info = await streams.info(latest.run_id) if latest is not None else None
        if (
            latest is None
            or info is None
            or cursor is None
            or cursor >= position(latest.run_id, info.last_seq)
        ):
            return Response(status_code=204, headers={SESSION_HEADER: session_id})
        return await _turn_from(api, session_id, latest, cursor)
    info = await streams.info(run.run_id)
    if info is None:
        # The run was recorded a moment ago and its stream is being created: create is
        # idempotent, and the run's start chunk follows.
        info = await streams.create(run.run_id)
    end = position(run.run_id, info.last_seq)
    if cursor is not None and cursor > end:
        raise InvalidCursorError(
            f"cursor {cursor} is past the end of the current turn's stream (last position "
            f"{end}); cursors are positions within one turn ({run.run_id})"
        )
    return await _turn_from(api, session_id, run, cursor or 0)


async def _turn_from(api: ApiContext, session_id: str, run: RunRecord, after: int) -> Response:
    """The response for ``run``'s turn from after position ``after``: the instance that
    position falls in, and every later one up to ``run``."""
    first = split_position(after)[0]
    instances = [i for i in await turn_instances(api.executor.store, run) if i.index >= first]
    return turn_stream_response(api, session_id, instances, after)


async def get_snapshot(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    page = page_query(request.query_params, default_limit=SNAPSHOT_PAGE)
    return JsonResponse(await build_snapshot(api.executor, state, page, api.services()))
