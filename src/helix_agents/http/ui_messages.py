"""Stored messages as AI SDK UI messages (``UIMessage``), for the session snapshot.

The stream builds one assistant UI message per turn: its id is the ``messageId`` of the
turn's ``start`` chunk (``{session}-t{turn}``, the id every assistant message of the turn is
stored with), and every model step adds a ``step-start`` part followed by its reasoning,
text and tool parts. The snapshot rebuilds the same message from storage, so a client that
loaded a snapshot and one that watched the stream hold the same thing.

Tool parts are ``tool-<name>`` with the AI SDK states: ``input-available`` (no result yet),
``approval-requested`` (waiting on a human), ``approval-responded`` (decided, the resume
not yet applied), ``output-available``, ``output-error`` and ``output-denied``. A decided
call keeps its ``approval`` (``{id, approved, reason?}``: the approval id of the request and
the person's own reason) in every later state, as the client that decided it holds it.

A step's calls that worked with a child session (a sub-agent or a companion) are followed,
after the step's tool parts, by their ``data-subagent`` parts (``subagent_parts.py``). The
sources a call cited (``ctx.emit_source``, kept with its result) follow the step's tool parts
as ``source-url``/``source-document`` parts, in call order: where the stream put them, since
its tool parts open before any call runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..agent import OUTPUT_TOOL_NAME
from ..core.suspension import approval_id
from ..core.tool_step import DENIED
from ..messages import AssistantMessage, Message, ToolResultMessage, UserMessage, is_hidden
from ..state import PendingToolCall
from ..streaming.ui import source_part
from .schemas import ApprovalInfo, FileUIPart, ToolUIPart, UIMessage, UIMessagePart
from .subagent_parts import SubagentParts

__all__ = ["to_ui_messages"]


def to_ui_messages(
    session_id: str,
    history: Sequence[tuple[int, Message]],
    *,
    pending: Iterable[PendingToolCall] = (),
    outputs: dict[str, Any] | None = None,
    children: SubagentParts | None = None,
    files: dict[str, str] | None = None,
) -> list[UIMessage]:
    """``history`` (``(sequence, message)`` pairs in order) as UI messages.

    ``pending`` are the session's open approvals and client-tool calls; ``outputs`` maps a
    turn's message id to its structured output (shown as a ``data-output`` part, as the
    stream shows it); ``children`` gives the ``data-subagent`` parts of delegating calls;
    ``files`` maps a stored file's key to its URL (a user message's ``file`` parts).
    """
    results = {m.tool_call_id: m for _, m in history if isinstance(m, ToolResultMessage)}
    approvals = {p.tool_call_id: p for p in pending if p.kind == "approval"}
    outputs = outputs or {}
    out: list[UIMessage] = []
    current: UIMessage | None = None
    for index, (seq, message) in enumerate(history):
        if isinstance(message, UserMessage):
            if _inside_turn(history, index):
                # The loop's own prompt within a turn (e.g. "give your final answer"):
                # the stream never shows it, so neither does the snapshot.
                continue
            current = None
            if is_hidden(message):
                continue  # sent to the model, never shown
            out.append(_user(session_id, seq, message, files or {}))
        elif isinstance(message, AssistantMessage):
            message_id = message.id or f"{session_id}-m{seq}"
            if current is None or current["id"] != message_id:
                current = {"id": message_id, "role": "assistant", "parts": []}
                out.append(current)
            current["parts"].extend(_assistant_parts(session_id, message, results, approvals))
            if children is not None:
                current["parts"].extend(children.of_step(message, results))
    for ui in out:
        if ui["role"] == "assistant" and ui["id"] in outputs:
            output: UIMessagePart = {
                "type": "data-output",
                "id": "output",
                "data": outputs[ui["id"]],
            }
            ui["parts"].append(output)
    return out


def _inside_turn(history: Sequence[tuple[int, Message]], index: int) -> bool:
    before = _neighbour_assistant(reversed(history[:index]))
    after = _neighbour_assistant(history[index + 1 :])
    return before is not None and before == after


def _neighbour_assistant(items: Iterable[tuple[int, Message]]) -> str | None:
    for _, message in items:
        if isinstance(message, AssistantMessage):
            return message.id
        if isinstance(message, UserMessage):
            return None
    return None


def _user(session_id: str, seq: int, message: UserMessage, files: dict[str, str]) -> UIMessage:
    parts: list[UIMessagePart] = []
    if message.content or not message.files:
        parts.append({"type": "text", "text": message.content})
    for ref in message.files or ():
        url = files.get(ref.key)
        if url is None:
            continue  # no longer in the store (or the store is not at hand)
        part: FileUIPart = {"type": "file", "mediaType": ref.media_type, "url": url}
        if ref.filename is not None:
            part["filename"] = ref.filename
        parts.append(part)
    ui: UIMessage = {"id": message.id or f"{session_id}-m{seq}", "role": "user", "parts": parts}
    if message.metadata:
        ui["metadata"] = message.metadata
    return ui


def _assistant_parts(
    session_id: str,
    message: AssistantMessage,
    results: dict[str, ToolResultMessage],
    approvals: dict[str, PendingToolCall],
) -> list[UIMessagePart]:
    parts: list[UIMessagePart] = [{"type": "step-start"}]
    if message.reasoning:
        parts.append({"type": "reasoning", "text": message.reasoning, "state": "done"})
    if message.content:
        parts.append({"type": "text", "text": message.content, "state": "done"})
    for call in message.tool_calls:
        part: ToolUIPart = {
            "type": f"tool-{call.name}",
            "toolCallId": call.id,
            "input": call.arguments,
            "state": "input-available",
        }
        result = results.get(call.id)
        pending = approvals.get(call.id)
        if result is None:
            if pending is not None and pending.approval_id and pending.decision is not None:
                # Decided, not yet applied (the resumed run is on its way).
                part["state"] = "approval-responded"
                responded: ApprovalInfo = {
                    "id": pending.approval_id,
                    "approved": pending.decision == "approved",
                }
                if pending.reason:
                    responded["reason"] = pending.reason
                part["approval"] = responded
            elif pending is not None and pending.approval_id:
                part["state"] = "approval-requested"
                part["approval"] = {"id": pending.approval_id}
        elif result.status == "success":
            part["state"] = "output-available"
            part["output"] = result.content
        elif result.status == "denied":
            part["state"] = "output-denied"
        else:
            part["state"] = "output-error"
            content = result.content
            part["errorText"] = content if isinstance(content, str) else str(content)
        if result is not None:
            decided = _decision(session_id, result)
            if decided is not None:
                part["approval"] = decided
        if call.name == OUTPUT_TOOL_NAME and result is not None and result.status == "success":
            # The output tool is not a tool the user sees run: like the stream, show the
            # call with its input only (its output is the data-output part).
            part["state"] = "input-available"
            part.pop("output", None)
        parts.append(part)
    for call in message.tool_calls:
        result = results.get(call.id)
        for source in (result.sources if result is not None else None) or ():
            parts.append(
                source_part(
                    source.source_id, source.url, source.title, source.media_type, source.filename
                )
            )
    return parts


def _decision(session_id: str, result: ToolResultMessage) -> ApprovalInfo | None:
    """The ``approval`` of a settled call: the decision its result keeps. A denial stored
    without one (before results kept it) is rebuilt: its approval id is derived from the
    call, and the reason is the person's part of what the model was told."""
    if result.approval is not None:
        kept: ApprovalInfo = {"id": result.approval.id, "approved": result.approval.approved}
        if result.approval.reason is not None:
            kept["reason"] = result.approval.reason
        return kept
    if result.status != "denied":
        return None
    approval: ApprovalInfo = {
        "id": approval_id(session_id, result.tool_call_id),
        "approved": False,
    }
    content = result.content
    if isinstance(content, str) and content.startswith(DENIED + " Reason: "):
        approval["reason"] = content[len(DENIED + " Reason: ") :]
    return approval
