"""Answers that an AI SDK client sends inside its messages, as submissions.

With ``useChat``, a human's decision and a client tool's result do not arrive at a route of
their own: the client updates the tool part of the last assistant message and posts the
messages again (``sendAutomaticallyWhen``). This module reads those parts:

- a tool part in state ``approval-responded`` carries ``approval: {id, approved, reason?}``
  (AI SDK v6 ``addToolApprovalResponse``): a decision;
- a tool part in state ``output-available`` (``output``) or ``output-error``
  (``errorText``) for a call that waits on the client (``addToolOutput``): a result.

A message that answers a call which does not wait is refused before any of its answers is
applied. Every answer goes through :meth:`~helix_agents.executor.Executor.submit_tool_result`, so
the client's message is never trusted beyond what a submission may do: a decision for a
call that is not pending, a second decision, another user's session, all are refused as
they would be at ``/submit-tool-result``. Parts of calls that do not wait (a server tool's
output the client merely echoes) are not answers and are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core.submissions import UNSET, Submission
from .errors import ConflictError, ToolSubmissionError

if TYPE_CHECKING:
    from .executor import Executor
    from .tracing.propagation import TraceContext

__all__ = ["UIAnswer", "submit_ui_answers", "ui_answers"]


@dataclass(frozen=True)
class UIAnswer:
    tool_call_id: str
    approved: bool | None = None
    reason: str | None = None
    approval_id: str | None = None
    result: Any = UNSET
    is_error: bool = False


def _is_tool_part(part: Mapping[str, Any]) -> bool:
    kind = part.get("type")
    return isinstance(kind, str) and (kind.startswith("tool-") or kind == "dynamic-tool")


def ui_answers(parts: Sequence[Mapping[str, Any]], waiting_on_client: set[str]) -> list[UIAnswer]:
    """The answers in one UI message's parts. ``waiting_on_client``: the ids of the calls
    that wait on a client result (only their outputs are answers)."""
    out: list[UIAnswer] = []
    for part in parts:
        if not _is_tool_part(part):
            continue
        call_id = part.get("toolCallId")
        state = part.get("state")
        if not isinstance(call_id, str) or not call_id:
            continue
        if state == "approval-responded":
            approval = part.get("approval")
            if not isinstance(approval, Mapping) or not isinstance(approval.get("approved"), bool):
                raise ToolSubmissionError(
                    f"the approval-responded part of tool call {call_id!r} needs "
                    "approval.approved (true or false)"
                )
            reason = approval.get("reason")
            approval_id = approval.get("id")
            out.append(
                UIAnswer(
                    call_id,
                    approved=approval["approved"],
                    reason=reason if isinstance(reason, str) else None,
                    approval_id=approval_id if isinstance(approval_id, str) else None,
                )
            )
        elif call_id in waiting_on_client and state == "output-available":
            out.append(UIAnswer(call_id, result=part.get("output")))
        elif call_id in waiting_on_client and state == "output-error":
            out.append(UIAnswer(call_id, result=str(part.get("errorText") or ""), is_error=True))
    return out


async def submit_ui_answers(
    executor: Executor,
    session_id: str,
    parts: Sequence[Mapping[str, Any]],
    *,
    user_id: str | None,
    trace_context: TraceContext | None = None,
) -> list[Submission] | None:
    """Submit the answers in ``parts`` (the last assistant message of a ``useChat`` post).
    None when the message carries no answer; raises the submission's refusal otherwise.
    ``trace_context``: the caller's span, which a resume they start joins."""
    state = await executor.get_session(session_id, user_id=user_id)
    waiting = {
        p.tool_call_id
        for p in state.pending_client_tool_calls
        if p.kind == "client" and p.result_status is None
    }
    answers = ui_answers(parts, waiting)
    if not answers:
        return None
    # All or nothing where it can be checked up front: a message that answers a call which
    # does not wait (any more) is refused before any of its answers is applied.
    undecided = {
        p.tool_call_id
        for p in state.pending_client_tool_calls
        if p.kind == "approval" and p.decision is None
    }
    for answer in answers:
        if answer.approved is not None and answer.tool_call_id not in undecided:
            raise ConflictError(
                f"tool call {answer.tool_call_id!r} of session {session_id!r} does not wait "
                "for a decision (unknown, or already decided)"
            )
    submissions = []
    for answer in answers:
        submissions.append(
            await executor.submit_tool_result(
                session_id,
                tool_call_id=answer.tool_call_id,
                approved=answer.approved,
                reason=answer.reason,
                approval_id=answer.approval_id,
                result=answer.result,
                is_error=answer.is_error,
                user_id=user_id,
                trace_context=trace_context,
            )
        )
    return submissions
