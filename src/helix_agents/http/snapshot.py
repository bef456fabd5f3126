"""``GET /chat/{sessionId}``: a session as a client needs it to draw the conversation.

While a run is active, ``messages`` holds the conversation as it stood when the current
turn began (its user message included, its assistant message left out), and ``activeRun``
says so: the turn's whole assistant message arrives by replaying the turn's stream from its
start, across all of its instances (``GET /chat/{id}/stream`` with no cursor, which is what
``useChat``'s ``resumeStream`` does; the AI SDK rebuilds the message from that replay).
Loading the snapshot and then replaying the stream therefore shows every part exactly once,
however far the turn had got and however many times it was resumed.

``lastSequence`` (and ``activeRun.lastSequence``) is a turn position, as SSE event ids and
cursors are (``turns.py``).
"""

from __future__ import annotations

from typing import Any

from ..agent import OUTPUT_TOOL_NAME
from ..chunks import RunStartChunk
from ..errors import StreamNotFoundError
from ..executor import Executor
from ..messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from ..services import Services
from ..state import RunRecord, RunStatus, SessionState
from ..typed_state import session_state_json
from .files import file_urls
from .pages import SNAPSHOT_PAGE, PageQuery, read_page, turn_aligned
from .schemas import ActiveRun, Snapshot, SnapshotPage, dump
from .subagent_parts import SubagentParts
from .turns import position
from .ui_messages import to_ui_messages

__all__ = ["build_snapshot", "run_message_id"]


async def build_snapshot(
    executor: Executor,
    state: SessionState,
    page: PageQuery | None = None,
    services: Services | None = None,
) -> dict[str, Any]:
    """The snapshot's JSON (``schemas.Snapshot``): the newest page of the history (``page``,
    by default the last :data:`.pages.SNAPSHOT_PAGE` stored messages), cut to whole turns.
    The files user messages carry are read from ``services``' object storage."""
    store = executor.store
    session_id = state.session_id
    latest = await store.latest_run(session_id)
    page = page or PageQuery(limit=SNAPSHOT_PAGE)
    rows, more = await read_page(store, session_id, PageQuery(page.limit, before=page.before))
    history = turn_aligned(rows) if more else rows
    more = more or len(history) < len(rows)
    active: ActiveRun | None = None
    last_seq = 0
    message_id: str | None = None
    if latest is not None:
        info = await executor.streams.info(latest.run_id)
        last_seq = position(latest.run_id, info.last_seq) if info is not None else 0
        message_id = await run_message_id(executor, latest)
        if latest.status == RunStatus.ACTIVE:
            history = _before_turn(history, message_id)
            active = ActiveRun(
                run_id=latest.run_id,
                turn=latest.turn,
                message_id=message_id,
                last_sequence=last_seq,
            )
    outputs = _outputs(history)
    if (
        latest is not None
        and message_id is not None
        and latest.status == RunStatus.COMPLETED
        and message_id in outputs
    ):
        outputs[message_id] = state.output  # the validated value, defaults filled in
    children = SubagentParts(session_id, await store.list_sub_sessions(session_id))
    usage = await store.usage_rollup(session_id, include_sub_sessions=True)
    snapshot = Snapshot(
        session_id=session_id,
        agent_type=state.agent_type,
        status=(latest.status if latest is not None else state.status).value,
        run_id=latest.run_id if latest is not None else None,
        turn=latest.turn if latest is not None else 0,
        message_id=message_id,
        last_sequence=last_seq,
        active_run=active,
        messages=to_ui_messages(
            session_id,
            history,
            pending=state.pending_client_tool_calls,
            outputs=outputs,
            children=children,
            files=await file_urls(services, history),
        ),
        page=SnapshotPage(
            has_more=more, before=history[0][0] if history else None, limit=page.limit
        ),
        output=state.output,
        error=state.error,
        usage=usage.usage,
        state=session_state_json(executor.registry, state),
        created_at=state.created_at,
        updated_at=state.updated_at,
    )
    return dump(snapshot)


async def run_message_id(executor: Executor, run: RunRecord) -> str:
    """The UI message id of a run: what its stream's ``start`` chunk carries."""
    try:
        result = await executor.streams.read(run.run_id, after=0, timeout=0, limit=1)
    except StreamNotFoundError:
        # A sub-agent's run that wrote into its parent's stream has no stream of its own
        # (its ``start`` chunk, in the parent's stream, carries the id below): without this
        # the snapshot of a child session was a 404 ``stream_not_found``.
        return f"{run.session_id}-t{run.turn}"
    first = result.chunks[0].chunk if result.chunks else None
    if isinstance(first, RunStartChunk):
        return first.message_id
    return f"{run.session_id}-t{run.turn}"


def _before_turn(
    history: list[tuple[int, Message]], message_id: str | None
) -> list[tuple[int, Message]]:
    """Leave out the running turn's assistant message (every model step of the turn, their
    tool results, the loop's own prompts inside it): the turn's stream replays all of it."""
    dropped: set[str] = set()
    dropped_any = False
    kept: list[tuple[int, Message]] = []
    for seq, message in history:
        if isinstance(message, AssistantMessage) and message.id == message_id:
            dropped.update(call.id for call in message.tool_calls)
            dropped_any = True
            continue
        if isinstance(message, ToolResultMessage) and message.tool_call_id in dropped:
            continue
        if isinstance(message, UserMessage) and dropped_any:
            continue  # the loop's own prompt inside the running turn
        kept.append((seq, message))
    return kept


def _outputs(history: list[tuple[int, Message]]) -> dict[str, Any]:
    """Each turn's structured output, from its accepted output-tool call."""
    accepted = {
        m.tool_call_id
        for _, m in history
        if isinstance(m, ToolResultMessage)
        and m.tool_name == OUTPUT_TOOL_NAME
        and m.status == "success"
    }
    outputs: dict[str, Any] = {}
    for _, message in history:
        if isinstance(message, AssistantMessage) and message.id:
            for call in message.tool_calls:
                if call.name == OUTPUT_TOOL_NAME and call.id in accepted:
                    outputs.setdefault(message.id, call.arguments)
    return outputs
