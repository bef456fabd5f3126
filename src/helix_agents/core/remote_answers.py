"""Answers for a remote sub-agent that stopped at a human boundary.

A remote child (:mod:`.remote_subagent`) that suspends (an approval, a client tool) makes
its parent's call suspend too, as a local child does. Its session lives on the other
deployment, so what it waits on is mirrored into this one, in the sub-session reference's
``remote_json`` (compare-and-swap on its ``version``):

- ``pending``: the remote's waiting calls (``toolCallId``, ``toolName``, ``kind``:
  ``approval`` or ``client``, and the ``approvalId`` of a request), read from the remote's
  snapshot when the call suspends; the reference's status is then ``suspended``;
- ``answers``: by call id, what the client submitted through the parent's session
  (``POST /chat/{parent}/submit-tool-result``): checked here like a local call's (the
  session's owner, a pending call of the right kind, the request's approval id, once), and
  stored, not sent. The answer that settles the last pending call makes the child ready,
  and the parent's hierarchy resumes from its top (:mod:`.suspension`);
- the parent's resumed delegation step sends the answers to the remote's API (from the
  step, which holds the remote's URL, token and transport, on either host), then follows
  the remote's resumed turn. A replayed step sends them again: the remote refuses a call it
  already settled (409), which changes nothing.

Checking a client tool's result against the tool's schema, and anything the remote alone
knows (a pending call of one of *its* children), is left to the remote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, ToolSubmissionError
from ..state import SubSessionRef
from .hierarchy import walk_hierarchy

if TYPE_CHECKING:
    from ..store import StateStore

__all__ = [
    "RemoteCall",
    "answer_body",
    "find_remote_call",
    "pending_of_snapshot",
    "record_remote_answer",
    "remote_answered",
]

#: An entry of ``remote_json["pending"]``.
RemoteCall = dict[str, Any]
_ATTEMPTS = 8
_MAX_SESSIONS = 1 + 16 * 8


def pending_of_snapshot(snapshot: dict[str, Any]) -> list[RemoteCall]:
    """The calls a suspended remote session waits on, from its snapshot's last assistant
    message: tool parts ``approval-requested`` (an approval) and ``input-available`` (a
    client tool: in a suspended run every server call of the response has run, except a
    call that delegates, which has a ``data-subagent`` part and is left out)."""
    messages = snapshot.get("messages")
    if not isinstance(messages, list):
        return []
    last = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
        None,
    )
    if last is None or not isinstance(last.get("parts"), list):
        return []
    # A call that delegates to a child of the remote's is no client tool: what that child
    # waits on is the remote's to show, not this parent's.
    delegating = {
        p.get("id")
        for p in last["parts"]
        if isinstance(p, dict) and p.get("type") == "data-subagent"
    }
    pending: list[RemoteCall] = []
    for part in last["parts"]:
        if not isinstance(part, dict) or not isinstance(part.get("toolCallId"), str):
            continue
        if part["toolCallId"] in delegating:
            continue
        kind_of = str(part.get("type", ""))
        if not kind_of.startswith("tool-") and kind_of != "dynamic-tool":
            continue
        name = part.get("toolName") if kind_of == "dynamic-tool" else kind_of[len("tool-") :]
        entry: RemoteCall = {"toolCallId": part["toolCallId"], "toolName": str(name or "")}
        if part.get("state") == "approval-requested":
            approval = part.get("approval")
            entry["kind"] = "approval"
            if isinstance(approval, dict) and isinstance(approval.get("id"), str):
                entry["approvalId"] = approval["id"]
        elif part.get("state") == "input-available":
            entry["kind"] = "client"
        else:
            continue
        pending.append(entry)
    return pending


def remote_answered(ref: SubSessionRef) -> bool:
    """Whether a remote child its parent awaits may go on: it is no longer ``suspended``
    here, or every call it waits on has an answer."""
    remote = ref.remote_json or {}
    if ref.status != "suspended":
        return True
    answers = remote.get("answers") or {}
    return all(p.get("toolCallId") in answers for p in remote.get("pending") or [])


async def find_remote_call(
    store: StateStore,
    session_id: str,
    *,
    tool_call_id: str | None = None,
    approval_id: str | None = None,
) -> tuple[SubSessionRef, RemoteCall] | None:
    """The suspended remote child of ``session_id`` or of one of its descendants that waits
    on the call (by its id, or by the approval id of its request)."""
    async for current in walk_hierarchy(store, [session_id], limit=_MAX_SESSIONS):
        for ref in await store.list_sub_sessions(current, status="suspended"):
            for entry in (ref.remote_json or {}).get("pending") or []:
                if tool_call_id is not None and entry.get("toolCallId") == tool_call_id:
                    return ref, entry
                if approval_id is not None and entry.get("approvalId") == approval_id:
                    return ref, entry
    return None


async def record_remote_answer(
    store: StateStore,
    ref: SubSessionRef,
    entry: RemoteCall,
    *,
    approved: bool | None,
    reason: str | None,
    result: Any,
    has_result: bool,
    is_error: bool,
    approval_id: str | None,
    arguments: dict[str, Any] | None,
) -> tuple[str | None, list[str]]:
    """Store the answer to a remote child's pending call (refused, changing nothing, as a
    local call's would be). Returns the decision (for an approval) and the child's calls
    that still wait."""
    call_id = str(entry["toolCallId"])
    answer: dict[str, Any] = {}
    if entry.get("kind") == "approval":
        if approved is None:
            raise ToolSubmissionError(
                f"tool call {call_id!r} ({entry.get('toolName')}) waits for an approval "
                "decision, not a result"
            )
        if approval_id is not None and approval_id != entry.get("approvalId"):
            raise ConflictError(
                f"approval id {approval_id!r} does not match the request of tool call {call_id!r}"
            )
        answer = {"approved": approved}
        if entry.get("approvalId") is not None:
            answer["approvalId"] = entry["approvalId"]
        if reason is not None:
            answer["reason"] = reason
        if arguments is not None:
            answer["arguments"] = arguments
    else:
        if approved is not None or not has_result:
            raise ToolSubmissionError(
                f"tool call {call_id!r} ({entry.get('toolName')}) is executed by the client: "
                "submit its result, not an approval"
            )
        answer = {"errorText": str(result)} if is_error else {"output": result}
    for _ in range(_ATTEMPTS):
        current = await store.get_sub_session(ref.session_id, ref.sub_session_id)
        remote = dict((current.remote_json if current is not None else None) or {})
        pending = remote.get("pending") or []
        if current is None or current.status != "suspended" or entry not in pending:
            raise ConflictError(f"tool call {call_id!r} is no longer waiting")
        answers = dict(remote.get("answers") or {})
        if call_id in answers:
            done = answers[call_id]
            what = (
                ("approved" if done.get("approved") else "denied")
                if "approved" in done
                else "submitted"
            )
            raise ConflictError(f"tool call {call_id!r} was already {what}")
        answers[call_id] = answer
        remote["answers"] = answers
        remote["version"] = int(remote.get("version") or 0) + 1
        if await store.swap_remote_json(ref.session_id, ref.sub_session_id, remote):
            still = [str(p["toolCallId"]) for p in pending if p["toolCallId"] not in answers]
            decision = None if approved is None else ("approved" if approved else "denied")
            return decision, still
    raise ConflictError(  # pragma: no cover - needs eight lost races in a row
        f"the pending calls of session {ref.sub_session_id!r} keep changing; try again"
    )


def answer_body(call_id: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The remote API's ``submit-tool-result`` body for a stored answer."""
    return {"toolCallId": call_id, **answer}
