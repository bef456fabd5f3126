"""The ``data-subagent`` parts of a snapshot: a delegation as the stream leaves it.

The stream (``streaming/ui.py``) gives every tool call that works with a child session a
``data-subagent`` part whose id is the call's id: the child's start adds it with
``status: "running"``, the child's end (written in the same step as the call's result,
``core/children.py``) replaces it in place with the child's final status and, when it
completed, its output. ``useChat`` keeps such a part where it first appeared: in the
step's tool steps, so after every part of the model step that made the call.

The snapshot rebuilds the same part from what is stored: which child a call worked with
(the session's sub-session references) and the call's result (how the child ended).

- ``subagent_tool``: one ephemeral child per call, its reference names the call.
- the companion tools that run a companion (``spawn_agent``, ``send_message``,
  ``wait_for_result``): the companion's session id is derived from its name, as the tools
  derive it. A call the tool refused (its error is not a child's end) has no part, nor has a
  ``wait_for_result`` still without a result (it shows nothing until the child ends); a
  call with ``wait: false`` stays ``running`` (its result is the companion's start).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.children import child_session_id
from ..messages import AssistantMessage, ToolCall, ToolResultMessage
from ..state import SubSessionRef
from .schemas import DataUIPart

__all__ = ["SubagentParts"]

#: The companion tools that run a companion (``core/companions.py``), and which of them
#: start one of its turns (the others only wait for its end).
_RUNS = frozenset({"spawn_agent", "send_message", "wait_for_result"})
_STARTS = frozenset({"spawn_agent", "send_message"})


class SubagentParts:
    """The ``data-subagent`` part of each of a session's calls that worked with a child."""

    def __init__(self, session_id: str, refs: Iterable[SubSessionRef]) -> None:
        self.session_id = session_id
        self.by_call: dict[str, SubSessionRef] = {}
        self.by_session: dict[str, SubSessionRef] = {}
        for ref in refs:
            if ref.mode == "persistent":
                self.by_session[ref.sub_session_id] = ref
            else:
                self.by_call[ref.parent_tool_call_id] = ref

    def of_step(
        self, message: AssistantMessage, results: dict[str, ToolResultMessage]
    ) -> list[DataUIPart]:
        """The parts of a model step's calls, in the order of its calls."""
        parts: list[DataUIPart] = []
        for call in message.tool_calls:
            part = self._part(call, results.get(call.id))
            if part is not None:
                parts.append(part)
        return parts

    def _part(self, call: ToolCall, result: ToolResultMessage | None) -> DataUIPart | None:
        ref = self.by_call.get(call.id)
        companion = ref is None
        if companion:
            ref = self._companion(call)
        if ref is None:
            return None
        data: dict[str, Any] = {
            "toolCallId": call.id,
            "sessionId": ref.sub_session_id,
            "agentType": ref.agent_type,
            "status": "running",
        }
        if result is None:
            if companion and call.name not in _STARTS:
                return None  # waiting on the companion: nothing streamed yet
        elif result.status == "success":
            if not (companion and _in_background(call, result, ref)):
                data["status"] = "completed"
                if result.content is not None:
                    data["output"] = result.content
        else:
            end = _child_end(result, ref)
            if end is None and companion:
                return None  # refused: the call never reached the companion
            data["status"] = end or "failed"
        return {"type": "data-subagent", "id": call.id, "data": data}

    def _companion(self, call: ToolCall) -> SubSessionRef | None:
        name = call.arguments.get("name")
        if call.name not in _RUNS or not isinstance(name, str):
            return None
        return self.by_session.get(child_session_id(self.session_id, name, prefix="cmp"))


def _in_background(call: ToolCall, result: ToolResultMessage, ref: SubSessionRef) -> bool:
    """A ``wait: false`` call: its result says the companion started, not how it ended
    (``core/companions.py`` writes exactly this)."""
    started = {"name": call.arguments.get("name"), "sessionId": ref.sub_session_id}
    return call.name in _STARTS and result.content == {**started, "status": "running"}


def _child_end(result: ToolResultMessage, ref: SubSessionRef) -> str | None:
    """How the child ended, from the error its call recorded in ``core/children.py``'s
    words (a child its call's timeout stopped was aborted); None for any other error."""
    content = result.content if isinstance(result.content, str) else ""
    if content.startswith(f"The agent {ref.agent_type!r} was aborted"):
        return "aborted"
    if content.startswith(f"The agent in session {ref.sub_session_id!r} did not finish"):
        return "aborted"
    if content.startswith(f"The agent {ref.agent_type!r} failed"):
        return "failed"
    return None
