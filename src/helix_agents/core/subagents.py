"""A sub-agent's call: the task handed to a fresh child session, its output the result.

Each call of a :class:`~helix_agents.subagents.SubagentTool` runs the child agent in a
session of its own (derived from the parent's session and the call id), as its own
instances. The child's chunks reach the parent's stream marked with the child's agent and
session (the UI shows them as transient ``data-subagent-chunk`` parts, framed by a
``data-subagent`` part); its final output is the call's result; its usage rolls up into the
parent's through the sub-session reference. The delegation step (:mod:`.delegation_step`)
calls :func:`start_subagent`; :mod:`.children` holds the durable lifecycle;
docs/subagents.md is the guide.
"""

from __future__ import annotations

from ..chunks import ToolErrorChunk
from ..subagents import RemoteSubagentTool, SubagentTool
from ..tools import ToolArgumentsError
from .children import ChildRef, DelegatedCall, child_session_id, finish_with_child, open_child
from .params import ToolStepResult

__all__ = ["start_subagent", "task_message"]


async def task_message(call: DelegatedCall, tool: SubagentTool | RemoteSubagentTool) -> str | None:
    """The task a delegating call gives its child (its ``message`` argument), or None once
    arguments that do not fit are reported to the stream and as the call's error result."""
    planned = call.planned
    try:
        return str(tool.validate_arguments(planned.call.arguments).message)  # type: ignore[attr-defined]
    except ToolArgumentsError as exc:
        await call.writer.add(
            ToolErrorChunk(
                tool_call_id=planned.call.id,
                error=exc.message,
                input_error=True,
                tool_name=planned.call.name,
                input=planned.call.arguments,
            )
        )
        await call.write_result(exc.message, "error")
        return None


async def start_subagent(call: DelegatedCall, tool: SubagentTool) -> ToolStepResult:
    """Start the call's child (or find it, on a retry or a resume) with the task."""
    planned = call.planned
    message = await task_message(call, tool)
    if message is None:
        return ToolStepResult(status="error")
    child = ChildRef(
        session_id=child_session_id(call.session_id, planned.call.id),
        agent_type=tool.agent_name,
    )
    opened = await open_child(call, child, message=message)
    if opened is None:
        return await finish_with_child(call, child.session_id)
    return opened
