"""Decisions and client results for pending tool calls, and the expiry of suspensions.

This is the security boundary of human-in-the-loop: a submission is accepted only

- from the session's owner (anyone else is told the session does not exist),
- for a call that is pending in this session (or in a child session it started): a call
  the model made, that waits on an approval or a client result, and has no result yet (a
  remote child's call is found in its reference's mirror: :mod:`.remote_answers`),
- of the right kind (a decision for an approval, a result for a client tool, a result
  that satisfies the tool's output schema), with the approval id of the request if one
  is given,
- once: the write is a compare-and-swap on the pending list that the checks read, so two
  concurrent submissions cannot both win; a second one is refused.

A refused submission changes nothing. An accepted one may make the session ready, and
then starts its resume (:func:`.suspension.resume_if_ready`); a submission that is refused
as already decided still tries that resume, so that a client retrying after a failure
between the write and the start heals the run instead of leaving it waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from .._json import value_depth
from ..errors import ConflictError, SessionNotFoundError, ToolSubmissionError
from ..messages import AssistantMessage, ToolResultMessage
from ..state import FINAL_STATUSES, SUSPENDED_STATUSES, PendingToolCall
from ..store import PendingView
from ..tools import ToolArgumentsError
from .hierarchy import walk_hierarchy
from .params import RunParams
from .remote_answers import find_remote_call, record_remote_answer
from .starter import check_owner
from .suspension import resume_if_ready

if TYPE_CHECKING:
    from ..store import StateStore
    from ..tracing.propagation import TraceContext
    from .starter import RunStarter

__all__ = ["UNSET", "Submission", "expire_suspensions", "hierarchy", "resume_ready", "submit"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "No result given" (a client tool's result may legitimately be ``None``).
UNSET: Final = _Unset()
_ATTEMPTS = 8
_MAX_DEPTH = 16
#: How deep a client tool's result may nest: it is stored and streamed inside records that
#: add levels of their own, and serializers stop far short of the request JSON's limit.
MAX_RESULT_DEPTH: Final = 128


@dataclass
class Submission:
    """What an accepted submission did."""

    #: The session whose call was settled (the one asked, or a child of it).
    session_id: str
    tool_call_id: str
    kind: Literal["approval", "client"]
    decision: Literal["approved", "denied"] | None = None
    #: Calls of that session that still wait.
    still_pending: list[str] = field(default_factory=list)
    #: The resume this submission started, if it made the run ready.
    resumed: RunParams | None = None


async def submit(
    starter: RunStarter,
    session_id: str,
    *,
    tool_call_id: str,
    approved: bool | None = None,
    reason: str | None = None,
    result: Any = UNSET,
    is_error: bool = False,
    approval_id: str | None = None,
    user_id: str | None = None,
    arguments: dict[str, Any] | None = None,
    trace_context: TraceContext | None = None,
) -> Submission:
    """Settle one pending call (see the module docstring); raises on refusal.
    ``arguments``: an approval's edited arguments (checked against the tool's schema).
    ``trace_context``: the caller's span, which the resume it starts (if any) joins."""
    if not isinstance(tool_call_id, str) or not tool_call_id:
        raise ToolSubmissionError("tool_call_id must be a non-empty string")
    if (approved is None) == (result is UNSET):
        raise ToolSubmissionError(
            "give either an approval decision (approved=true/false) or a client tool's "
            "result, not both and not neither"
        )
    if approved is not None and not isinstance(approved, bool):
        raise ToolSubmissionError("approved must be true or false")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        raise ToolSubmissionError("reason must be a string of at most 2000 characters")
    if arguments is not None:
        if approved is not True:
            raise ToolSubmissionError("edited arguments come only with approved=true")
        if not isinstance(arguments, dict):
            raise ToolSubmissionError("arguments must be a JSON object")
        if value_depth(arguments) > MAX_RESULT_DEPTH:
            raise ToolSubmissionError(
                f"the arguments nest arrays and objects deeper than {MAX_RESULT_DEPTH} levels"
            )
    if result is not UNSET and value_depth(result) > MAX_RESULT_DEPTH:
        raise ToolSubmissionError(
            f"the result nests arrays and objects deeper than {MAX_RESULT_DEPTH} levels"
        )
    store = starter.store
    top = await store.load_session(session_id)
    if top is None:
        raise SessionNotFoundError(f"session {session_id!r} not found")
    check_owner(top, user_id)
    for _ in range(_ATTEMPTS):
        found = await _find(starter, session_id, tool_call_id)
        if found is None:
            # Not pending here: perhaps in a remote child (its answer is kept for the
            # parent's resumed step to send), else refused with the reason.
            return await _submit_remote(
                starter,
                session_id,
                tool_call_id,
                approved=approved,
                reason=reason,
                result=result,
                is_error=is_error,
                approval_id=approval_id,
                user_id=user_id,
                arguments=arguments,
                trace_context=trace_context,
            )
        view, entry = found
        holder = view.state
        check_owner(holder, user_id)
        await _check_unsettled(starter, view, entry)
        updated = _apply(starter, entry, approved, reason, result, is_error, approval_id, view)
        if arguments is not None:
            updated = _edited(starter, updated, arguments, view)
        calls = [updated if p.tool_call_id == tool_call_id else p for p in _pending(view)]
        if await store.swap_pending(holder.session_id, view.raw_pending, calls):
            resumed = await resume_if_ready(starter, holder.session_id, caller_trace=trace_context)
            return Submission(
                session_id=holder.session_id,
                tool_call_id=tool_call_id,
                kind=entry.kind,
                decision=updated.decision,
                still_pending=[p.tool_call_id for p in calls if _waiting(p)],
                resumed=resumed,
            )
        # Someone changed the pending calls since they were read: read and check again.
    raise ConflictError(
        f"the pending calls of session {session_id!r} keep changing; try again"
    )  # pragma: no cover - needs eight lost races in a row


def _pending(view: PendingView) -> list[PendingToolCall]:
    return list(view.state.pending_client_tool_calls)


def _waiting(entry: PendingToolCall) -> bool:
    if entry.kind == "approval":
        return entry.decision is None
    return entry.result_status is None


def hierarchy(store: StateStore, session_id: str) -> AsyncIterator[str]:
    """``session_id``, then its sub-sessions breadth first, each once, up to a bound (where a
    pending call of the hierarchy is looked for: a sub-agent's call is answered through the
    session the client talks to)."""
    return walk_hierarchy(store, [session_id], limit=1 + _MAX_DEPTH * 8)


async def _find(
    starter: RunStarter, session_id: str, tool_call_id: str
) -> tuple[PendingView, PendingToolCall] | None:
    """The session holding the pending call: the one asked, or one of its descendants (a
    sub-agent's approval is answered through the session the client talks to)."""
    store = starter.store
    async for current in hierarchy(store, session_id):
        view = await store.pending_view(current)
        if view is None:
            continue
        for entry in _pending(view):
            if entry.tool_call_id == tool_call_id:
                return view, entry
    return None


async def _submit_remote(
    starter: RunStarter,
    session_id: str,
    tool_call_id: str,
    *,
    approved: bool | None,
    reason: str | None,
    result: Any,
    is_error: bool,
    approval_id: str | None,
    user_id: str | None,
    arguments: dict[str, Any] | None,
    trace_context: TraceContext | None,
) -> Submission:
    """The answer to a call a suspended remote child waits on (:mod:`.remote_answers`):
    stored under the child's reference; the answer that settles its last call resumes the
    hierarchy, whose step sends the answers to the remote."""
    store = starter.store
    found = await find_remote_call(store, session_id, tool_call_id=tool_call_id)
    if found is None:
        await _explain_unknown(starter, session_id, tool_call_id)
        raise AssertionError("unreachable")  # pragma: no cover
    ref, entry = found
    parent = await store.load_session(ref.session_id)
    if parent is None:  # pragma: no cover - a reference outlives no session
        raise SessionNotFoundError(f"session {ref.session_id!r} not found")
    check_owner(parent, user_id)
    decision, still = await record_remote_answer(
        store,
        ref,
        entry,
        approved=approved,
        reason=reason,
        result=None if result is UNSET else result,
        has_result=result is not UNSET,
        is_error=is_error,
        approval_id=approval_id,
        arguments=arguments,
    )
    resumed = await resume_if_ready(starter, ref.session_id, caller_trace=trace_context)
    return Submission(
        session_id=ref.sub_session_id,
        tool_call_id=tool_call_id,
        kind="approval" if entry.get("kind") == "approval" else "client",
        decision="approved" if decision == "approved" else "denied" if decision else None,
        still_pending=still,
        resumed=resumed,
    )


async def _explain_unknown(starter: RunStarter, session_id: str, tool_call_id: str) -> None:
    """Refuse a submission for a call that is not pending, saying why."""
    history = await starter.store.load_messages(session_id)
    call_name = None
    settled = False
    for _, message in history:
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                if call.id == tool_call_id:
                    call_name = call.name
        elif isinstance(message, ToolResultMessage) and message.tool_call_id == tool_call_id:
            settled = True
    if call_name is None:
        raise ConflictError(f"no tool call {tool_call_id!r} is waiting in session {session_id!r}")
    if settled:
        raise ConflictError(f"tool call {tool_call_id!r} ({call_name}) already has its result")
    raise ConflictError(
        f"tool call {tool_call_id!r} ({call_name}) runs on the server: it waits on no decision "
        "or client result"
    )


async def _check_unsettled(starter: RunStarter, view: PendingView, entry: PendingToolCall) -> None:
    state = view.state
    context = state.suspension_context
    if context is not None and (context.detail or {}).get("expired"):
        await resume_if_ready(starter, state.session_id)
        raise ConflictError(f"the suspension of session {state.session_id!r} has expired")
    if state.status in FINAL_STATUSES:
        raise ConflictError(
            f"tool call {entry.tool_call_id!r} can no longer be settled: the run of session "
            f"{state.session_id!r} is {state.status.value}"
        )
    if not _waiting(entry):
        # Already settled: heal a resume that was never started, then refuse.
        await resume_if_ready(starter, state.session_id)
        what = entry.decision or "submitted"
        raise ConflictError(f"tool call {entry.tool_call_id!r} was already {what}")
    if await starter.store.has_tool_result(state.session_id, entry.tool_call_id):
        raise ConflictError(f"tool call {entry.tool_call_id!r} already has its result")


def _edited(
    starter: RunStarter, entry: PendingToolCall, arguments: dict[str, Any], view: PendingView
) -> PendingToolCall:
    """An approval with the person's arguments, once they fit the tool's schema."""
    tool = starter.registry.get(view.state.agent_type).get_tool(entry.tool_name)
    if tool is None:  # pragma: no cover - only known tools wait for approval
        raise ToolSubmissionError(f"tool {entry.tool_name!r} is unknown to the agent")
    try:
        tool.validate_arguments(arguments)
    except ToolArgumentsError as exc:
        raise ToolSubmissionError(f"the edited arguments do not fit: {exc.message}") from None
    return entry.model_copy(update={"edited_arguments": dict(arguments)})


def _apply(
    starter: RunStarter,
    entry: PendingToolCall,
    approved: bool | None,
    reason: str | None,
    result: Any,
    is_error: bool,
    approval_id: str | None,
    view: PendingView,
) -> PendingToolCall:
    now = starter.clock()
    if entry.kind == "approval":
        if approved is None:
            raise ToolSubmissionError(
                f"tool call {entry.tool_call_id!r} ({entry.tool_name}) runs on the server and "
                "waits for an approval decision, not a result"
            )
        if approval_id is not None and approval_id != entry.approval_id:
            raise ConflictError(
                f"approval id {approval_id!r} does not match the request of tool call "
                f"{entry.tool_call_id!r}"
            )
        return entry.model_copy(
            update={
                "decision": "approved" if approved else "denied",
                "reason": reason,
                "submitted_at": now,
            }
        )
    if approved is not None:
        raise ToolSubmissionError(
            f"tool call {entry.tool_call_id!r} ({entry.tool_name}) is executed by the client: "
            "submit its result, not an approval"
        )
    value = result
    if not is_error:
        tool = starter.registry.get(view.state.agent_type).get_tool(entry.tool_name)
        if tool is not None:
            try:
                value = tool.validate_result(result)
            except ValueError as exc:
                raise ToolSubmissionError(str(exc)) from None
    elif not isinstance(result, str):
        value = str(result)
    return entry.model_copy(
        update={
            "result": value,
            "result_status": "error" if is_error else "success",
            "submitted_at": now,
        }
    )


async def expire_suspensions(
    starter: RunStarter, now: int | None = None, *, limit: int = 100
) -> list[str]:
    """Mark suspensions whose expiry passed as expired and resume them (the resume fails
    the run with the reason). Stale suspensions (their run was resumed meanwhile) are
    forgotten. Returns the session ids it expired."""
    store = starter.store
    now = starter.clock() if now is None else now
    expired: list[str] = []
    for item in await store.expired_suspensions(now, limit=limit):
        view = await store.pending_view(item.session_id)
        if view is None or view.raw_context is None:
            continue
        state, context = view.state, view.state.suspension_context
        assert context is not None
        latest = await store.latest_run(state.session_id)
        current = (
            state.status in SUSPENDED_STATUSES
            and latest is not None
            and latest.status in SUSPENDED_STATUSES
            and context.run_id in (None, latest.run_id)
        )
        if not current:
            await store.swap_suspension(state.session_id, view.raw_context, None)
            continue
        reason = _expiry_reason(state.pending_client_tool_calls, now)
        detail = {**(context.detail or {}), "expired": reason, "expiredAt": now}
        marked = context.model_copy(update={"detail": detail, "expires_at": None})
        if await store.swap_suspension(state.session_id, view.raw_context, marked):
            expired.append(state.session_id)
            await resume_if_ready(starter, state.session_id)
    return expired


def _expiry_reason(pending: list[PendingToolCall], now: int) -> str:
    waiting = [
        p for p in pending if _waiting(p) and p.expires_at is not None and p.expires_at <= now
    ]
    if not waiting:
        return "The run waited too long for a decision or a client result."
    names = ", ".join(sorted({p.tool_name for p in waiting}))
    kinds = {p.kind for p in waiting}
    what = (
        "an approval"
        if kinds == {"approval"}
        else "a client result"
        if kinds == {"client"}
        else "an approval or a client result"
    )
    return f"The wait for {what} for {names} expired."


async def resume_ready(starter: RunStarter, *, limit: int = 100) -> list[str]:
    """Resume suspended sessions that are ready but were never resumed (a crash between a
    submission's write and its resume's start). Returns the resumed sessions."""
    resumed = []
    for state in await starter.store.suspended_sessions(limit=limit, ready_only=True):
        params = await resume_if_ready(starter, state.session_id)
        if params is not None:
            resumed.append(params.session_id)
    return resumed
