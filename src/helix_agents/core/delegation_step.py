"""The delegation step: a call of a delegating tool, run as a step kind of its own.

The loop runs every call of a response as one step named ``turn-T/step-SS/tool/<call>``;
which kind of step runs it is decided in one place (``core/loop.py``): a function tool's
call is a :class:`.tool_step.ToolStep`, a delegating tool's
(:class:`~helix_agents.subagents.DelegatingTool`: a sub-agent or a companion tool) is
this step. It opens like any call (:func:`.tool_step.open_call`: a stored result, settling,
the stop check, the decision's chunk), then starts, continues or resumes the child
(:mod:`.subagents`, :mod:`.companions`, over :mod:`.children`), or runs a remote
sub-agent's call to its end (:mod:`.remote_subagent`). When the child runs, the
step returns ``waiting``; the loop waits for the child's end (``.../wait/<call>``) and runs
:meth:`DelegationStep.collect` (``.../collect/<call>``), which writes the call's result.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..ports.step import StepContext
from ..subagents import CompanionTool, DelegatingTool, RemoteSubagentTool, SubagentTool
from ..tracing.calls import end_tool_span, tool_span
from .children import DelegatedCall, collect_child
from .companions import run_companion
from .params import PlannedCall, ToolStepResult
from .run_context import RunContext
from .subagents import start_subagent
from .tool_step import open_call, tool_writer

__all__ = ["DelegationStep"]


class DelegationStep:
    """Runs the calls of delegating tools: ``start``, then, after the wait, ``collect``."""

    def __init__(self, run: RunContext) -> None:
        self.rc = run

    async def start(
        self, ctx: StepContext, *, step_no: int, planned: PlannedCall, tool: DelegatingTool
    ) -> ToolStepResult:
        """``turn-T/step-SS/tool/<call>``: the call's result, or ``waiting`` on its child
        (``suspended`` / ``interrupted`` when the child stopped at a boundary)."""
        opened = await open_call(self.rc, ctx, step_no=step_no, planned=planned)
        if isinstance(opened, ToolStepResult):
            return opened
        call = DelegatedCall(run=self.rc, ctx=ctx, writer=opened.writer, planned=planned)
        # The call's span is the one a child's run span hangs under (its params carry it).
        tracer = self.rc.tracer
        span = tool_span(tracer, planned.call.name, planned.call.id)
        token = tracer.enter(span) if tracer is not None and span is not None else None
        try:
            if isinstance(tool, SubagentTool):
                result = await start_subagent(call, tool)
            elif isinstance(tool, CompanionTool):
                result = await run_companion(call, tool)
            elif isinstance(tool, RemoteSubagentTool):
                # Imported here: it brings httpx (about 0.27 s under Pyodide), which an
                # isolate without remote sub-agents never needs. It runs to the call's
                # result in this step (no wait).
                from .remote_subagent import start_remote_subagent

                result = await start_remote_subagent(call, tool)
            else:
                raise ConfigurationError(f"tool {tool.name!r}: no delegation runs a {type(tool)}")
        finally:
            if tracer is not None and token is not None:
                tracer.leave(token)
        if span is not None:
            span.set("helix.delegation.status", result.status)
            span.set("helix.child_session.id", result.child_session_id)
        end_tool_span(tracer, span, error=None)
        await opened.writer.flush()
        return result

    async def collect(
        self,
        ctx: StepContext,
        *,
        step_no: int,
        planned: PlannedCall,
        tool: DelegatingTool,
        child: ToolStepResult,
        timed_out: bool,
    ) -> ToolStepResult:
        """``turn-T/step-SS/collect/<call>``, after the child's end (or the wait's
        timeout): write the call's result, or report that the child stopped at a boundary."""
        run = self.rc
        run.executed.add(ctx.name)
        writer = tool_writer(run, step_no)
        call = DelegatedCall(run=run, ctx=ctx, writer=writer, planned=planned)
        result = await collect_child(call, child, timed_out=timed_out, timeout=tool.timeout)
        await writer.flush()
        return result
