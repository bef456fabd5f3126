"""Which tool calls of a response wait on a human or the client, and what they leave behind.

Decided inside the model step, per call: a client tool (``@tool(execute="client")``) waits
for the client's result; a server tool whose ``requires_approval`` says so waits for a
decision. Arguments are validated first (a call the tool would refuse is answered at once,
as any invalid call is, instead of costing a human's time), and a predicate that raises
counts as "approval required": a gate fails closed.

A waiting call becomes a :class:`~helix_agents.state.PendingToolCall` with an approval id
and an expiry, and the run writes a :class:`~helix_agents.state.SuspensionContext` naming
the step, the instance and the earliest expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..chunks import ToolErrorChunk
from ..ids import step_prefix
from ..messages import ToolCall, ToolResultMessage
from ..state import PendingToolCall, RunStatus, SuspensionContext
from ..tools import Tool, ToolArgumentsError
from ..tracing.steps import suspension_tracing_context
from .context import RunToolContext
from .suspension import approval_id

if TYPE_CHECKING:
    from .run_context import RunContext
    from .stream_writer import StreamWriter

__all__ = [
    "gate_call",
    "input_error_chunk",
    "input_problem",
    "is_gated",
    "suspension_context",
]


async def gate_call(
    run: RunContext, tool: Tool, call: ToolCall, writer: StreamWriter, step_no: int, now: int
) -> PendingToolCall | ToolResultMessage | None:
    """None: the call runs on the server now. A PendingToolCall: it waits (its expiry
    counts from ``now``, the step's one clock reading). A result: the arguments were
    invalid and the model is told so."""
    if not is_gated(tool):
        return None
    problem = input_problem(tool, call)
    if problem is not None:
        await writer.add(input_error_chunk(call, problem))
        return ToolResultMessage(
            tool_call_id=call.id, tool_name=call.name, content=problem, status="error"
        )
    if tool.execute == "client":
        kind = "client"
    else:
        if not await _needs_approval(run, tool, call, writer):
            return None
        kind = "approval"
    expires_in = tool.expires_in if tool.expires_in is not None else run.agent.pending_expires_in
    expires_at = None if expires_in is None else now + int(expires_in * 1000)
    session_id = run.params.session_id
    return PendingToolCall(
        tool_call_id=call.id,
        tool_name=call.name,
        arguments=call.arguments,
        kind=kind,
        approval_id=approval_id(session_id, call.id) if kind == "approval" else None,
        step=step_no,
        expires_at=expires_at,
    )


def is_gated(tool: Tool) -> bool:
    """Whether calls of ``tool`` may wait: a client tool, or one that may need approval."""
    return tool.execute == "client" or tool.requires_approval is not False


def input_problem(tool: Tool, call: ToolCall) -> str | None:
    """Why ``tool`` would refuse the call's arguments, or None. Pure: a step that streams a
    stored response again finds the same problems (:mod:`.replay`)."""
    if call.raw_arguments is not None and not call.arguments:
        return (
            f"The arguments for tool {call.name!r} were not a JSON object: "
            f"{call.raw_arguments[:200]!r}. Call the tool again with a JSON object."
        )
    try:
        tool.validate_arguments(call.arguments)
    except ToolArgumentsError as exc:
        return exc.message
    return None


def input_error_chunk(call: ToolCall, problem: str) -> ToolErrorChunk:
    return ToolErrorChunk(
        tool_call_id=call.id,
        error=problem,
        input_error=True,
        tool_name=call.name,
        input=call.arguments,
    )


async def _needs_approval(
    run: RunContext, tool: Tool, call: ToolCall, writer: StreamWriter
) -> bool:
    store = run.deps.store
    session_id = run.params.session_id
    ctx = RunToolContext(
        session_id=session_id,
        run_id=run.params.run_id,
        agent_name=run.agent.name,
        tool_call_id=call.id,
        custom_state=dict(run.custom_state or {}),
        writer=writer,
        check_interrupt=lambda: store.interrupt_requested(session_id),
        resources=run.deps.resources,
        agent=run.agent,
    )
    try:
        return await tool.needs_approval(dict(call.arguments), ctx)
    except Exception:
        return True  # fail closed: a broken predicate must not let a call through


def suspension_context(
    run: RunContext, status: RunStatus, step_no: int, pending: list[PendingToolCall]
) -> SuspensionContext:
    expiries = [p.expires_at for p in pending if p.expires_at is not None]
    detail: dict[str, object] = {}
    parent = run.params.parent
    if parent is not None and parent.forward:
        # The parent's run is waiting on this one: a decision here resumes the parent.
        detail["awaitedBy"] = parent.run_id
    return SuspensionContext(
        status=status,
        suspended_step_id=step_prefix(run.params.turn, step_no),
        expires_at=min(expiries) if expiries else None,
        run_id=run.params.run_id,
        detail=detail or None,
        tracing_context=suspension_tracing_context(run.tracer),
    )
