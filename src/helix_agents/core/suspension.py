"""Stateless suspension across a hierarchy of sessions: who resumes what, and when.

A run that stops at a human boundary ends its instance (docs/invariants.md invariant 7). What is
left is data: the session's pending calls and its suspension context, which names the
children it awaits. Nothing waits in memory, so a resume is started by whoever makes a
session *ready*:

- a submission (an approval decision, a client result) that settles the last pending call;
- a child's end, when its parent is suspended awaiting it ("the cascade");
- the run's own boundary step, when the decisions arrived while it was still running;
- the expiry sweep, which marks a suspension expired (an expired suspension is ready: its
  resume writes the expiry and fails the run);
- a restarting host, which resumes what is ready but was never resumed.

A hierarchy always resumes from its top: when a child is ready and its parent is suspended
awaiting it, the *parent* is resumed, and the parent's tool step resumes the child with a
link to the parent's new stream. So the client that follows the parent sees the child's
chunks live, and the child's end wakes a parent that is actually waiting. Every start is
idempotent (deterministic instance ids), so two of these triggers racing start one resume.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ..errors import HelixError
from ..state import FINAL_STATUSES, SUSPENDED_STATUSES, RunStatus, SessionState
from .remote_answers import remote_answered

if TYPE_CHECKING:
    from ..store import StateStore
    from ..tracing.propagation import TraceContext
    from .params import RunParams
    from .starter import RunStarter

__all__ = [
    "approval_id",
    "child_event_type",
    "find_root",
    "is_ready",
    "notify_parent",
    "resume_if_ready",
]

#: How deep a hierarchy the readiness walk follows (a guard against a cycle in bad data).
_MAX_DEPTH = 16


def approval_id(session_id: str, tool_call_id: str) -> str:
    """The approval id of a call: deterministic (a retried step streams the same one), not
    guessable from the call id alone. It is not a secret: the boundary is that only the
    session's owner may decide, once, a call that is pending."""
    digest = hashlib.sha256(f"{session_id}\x00{tool_call_id}".encode()).hexdigest()
    return "apr_" + digest[:24]


def child_event_type(child_run_id: str) -> str:
    """The event a child's run sends its parent's instance when it ends (one type per child
    run, so that an event left over from an earlier run can never wake a later wait)."""
    return "child-" + hashlib.sha256(child_run_id.encode()).hexdigest()[:32]


def awaited_children(state: SessionState) -> list[str]:
    context = state.suspension_context
    return list(context.suspended_awaiting_children) if context is not None else []


def _own_calls_ready(state: SessionState) -> bool:
    context = state.suspension_context
    if context is not None and (context.detail or {}).get("expired"):
        return True
    for entry in state.pending_client_tool_calls:
        if entry.kind == "approval" and entry.decision is None:
            return False
        if entry.kind == "client" and entry.result_status is None:
            return False
    return True


async def is_ready(store: StateStore, session_id: str, *, _depth: int = 0) -> bool:
    """Whether a resume of ``session_id`` could continue: every pending call settled and
    every awaited child ready or done. As a child, a session that ended is ready."""
    state = await store.load_session(session_id)
    if state is None or _depth > _MAX_DEPTH:
        return False
    if state.status in FINAL_STATUSES:
        return True
    if state.status not in SUSPENDED_STATUSES:
        return False  # active (it will report its end) or interrupted (a human resumes it)
    if not _own_calls_ready(state):
        return False
    for child in awaited_children(state):
        if not await is_ready(store, child, _depth=_depth + 1) and not await _remote_ready(
            store, session_id, child
        ):
            return False
    return True


async def _remote_ready(store: StateStore, session_id: str, child: str) -> bool:
    """A remote child (its session on another deployment) is ready once every call it
    waits on has an answer here (:mod:`.remote_answers`)."""
    ref = await store.get_sub_session(session_id, child)
    return ref is not None and ref.remote_json is not None and remote_answered(ref)


async def find_root(store: StateStore, session_id: str) -> str | None:
    """The session to resume so that ``session_id`` continues: itself, or the topmost
    ancestor suspended awaiting it. None when an active parent is waiting on it (that
    parent's boundary step takes care of it)."""
    current = session_id
    for _ in range(_MAX_DEPTH):
        ref = await store.find_parent(current)
        if ref is None:
            return current
        parent = await store.load_session(ref.session_id)
        if parent is None:
            return current
        if parent.status == RunStatus.SUSPENDED_AWAITING_CHILDREN and current in awaited_children(
            parent
        ):
            current = parent.session_id
            continue
        if parent.status == RunStatus.ACTIVE:
            child = await store.load_session(current)
            awaited_by = None
            if child is not None and child.suspension_context is not None:
                awaited_by = (child.suspension_context.detail or {}).get("awaitedBy")
            active = await store.active_run(parent.session_id)
            if awaited_by is not None and active is not None and active.run_id == awaited_by:
                return None
        return current
    return None


async def resume_if_ready(
    starter: RunStarter, session_id: str, *, caller_trace: TraceContext | None = None
) -> RunParams | None:
    """Start the resume that lets ``session_id`` continue, if everything it waits on is
    settled. Returns the started instance's params (None when not ready, or when someone
    else started it). ``caller_trace``: the span of the HTTP request that settled it."""
    root = await find_root(starter.store, session_id)
    if root is None or not await is_ready(starter.store, root):
        return None
    return await starter.start_resume(root, statuses=SUSPENDED_STATUSES, caller_trace=caller_trace)


async def notify_parent(
    starter: RunStarter, session_id: str, run_id: str, status: RunStatus
) -> None:
    """Tell a child's parent that the child's run ``run_id`` ended with ``status``.

    The parent's active run (if any) gets an event on its instance: a parent waiting on
    this child wakes. A parent suspended awaiting this child is resumed if now ready.
    """
    store = starter.store
    ref = await store.find_parent(session_id)
    if ref is None:
        return
    await store.update_sub_session(ref.session_id, session_id, status.value)
    active = await store.active_run(ref.session_id)
    if active is not None:
        try:
            await starter.launcher.send_event(
                active.run_id, child_event_type(run_id), {"status": status.value}
            )
        except HelixError:
            pass  # the parent's instance ended meanwhile: its state is what counts
        return
    if status in SUSPENDED_STATUSES or status in FINAL_STATUSES:
        await resume_if_ready(starter, session_id)
