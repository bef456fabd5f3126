"""The body of a tool step: one tool call, run at most once to completion.

Before running, the step looks for its result message at its sequence number: if a previous
attempt completed the tool and persisted the result but died before the journal recorded the
step, the result is returned as it is and the tool is NOT run again. The only window in which
a tool can run twice is a crash after the tool's own side effect and before its result is
written; tools with external side effects should key them on ``ctx.tool_call_id``.

In a resume instance a call that waited is settled here, in its own step like any call: an
approved call runs; a denied one gets a result that tells the model so (and
``tool-output-denied`` on the stream); a client tool's submitted result is written as its
result. A tool that delegates to a child agent (:class:`.children.ChildTool`) starts the
child here and, when it must wait, returns ``waiting``; :meth:`ToolStep.collect` writes the
result once the child ended.
"""

from __future__ import annotations

from typing import Any

from ..chunks import ToolErrorChunk, ToolOutputChunk, ToolOutputDeniedChunk
from ..errors import HelixError, RunSignal
from ..messages import ToolResultMessage
from ..ports.step import StepContext
from ..tools import ToolArgumentsError
from ..usage import Usage
from .children import ChildTool
from .context import RunToolContext
from .params import PlannedCall, ToolStepResult
from .run_context import RunContext
from .stream_writer import StreamWriter

__all__ = ["ToolStep", "jsonable"]


class ToolStep:
    def __init__(self, run: RunContext) -> None:
        self.rc = run

    async def execute(
        self, ctx: StepContext, *, step_no: int, planned: PlannedCall
    ) -> dict[str, Any]:
        run = self.rc
        run.executed.add(ctx.name)
        store = run.deps.store
        session_id = run.params.session_id
        call = planned.call

        if ctx.attempt > 1:
            # A retry: if an earlier attempt saved the result, the tool completed. Never run
            # a completed tool again.
            existing = await store.get_message(session_id, planned.sequence)
            if isinstance(existing, ToolResultMessage) and existing.tool_call_id == call.id:
                return ToolStepResult(status=existing.status).to_dict()

        writer = run.writer(step=step_no, attempt=ctx.attempt)
        if planned.resolution in ("denied", "client", "expired"):
            return await self._settle(ctx, writer, planned)
        tool = run.agent.get_tool(call.name)
        assert tool is not None, "the model step only plans known tools"
        if isinstance(tool, ChildTool):
            result = await tool.start(self, ctx, writer, planned)
            await writer.flush()
            return result.to_dict()
        if run.custom_state is None:
            await run.load_session()
        tool_ctx = RunToolContext(
            session_id=session_id,
            run_id=run.params.run_id,
            agent_name=run.agent.name,
            tool_call_id=call.id,
            custom_state=run.custom_state or {},
            writer=writer,
            check_interrupt=lambda: store.interrupt_requested(session_id),
        )
        status: str = "success"
        try:
            if call.raw_arguments is not None and not call.arguments:
                raise ToolArgumentsError(
                    f"The arguments for tool {call.name!r} were not a JSON object: "
                    f"{call.raw_arguments[:200]!r}. Call the tool again with a JSON object."
                )
            output = await tool.call(call.arguments, tool_ctx)
            content = jsonable(output)
            await writer.add(ToolOutputChunk(tool_call_id=call.id, output=content))
        except RunSignal:
            writer.discard()
            raise
        except ToolArgumentsError as exc:
            status, content = "error", exc.message
            await writer.add(
                ToolErrorChunk(
                    tool_call_id=call.id,
                    error=exc.message,
                    input_error=True,
                    tool_name=call.name,
                    input=call.arguments,
                )
            )
        except Exception as exc:
            # A failing tool is reported to the model, which may try something else.
            status = "error"
            content = str(exc) if isinstance(exc, HelixError) else f"{type(exc).__name__}: {exc}"
            await writer.add(ToolErrorChunk(tool_call_id=call.id, error=content))
        await writer.flush()
        patch = tool_ctx.state_patch
        await self.write_result(
            ctx,
            planned,
            content,
            status,
            usage=Usage(tool_calls=1, custom=dict(tool_ctx.custom_usage)),
            state_patch=patch,
        )
        return ToolStepResult(status=status, state_patch=patch).to_dict()

    async def collect(
        self,
        ctx: StepContext,
        *,
        step_no: int,
        planned: PlannedCall,
        child: ToolStepResult,
        timed_out: bool,
    ) -> dict[str, Any]:
        """After a child's end (or the wait's timeout): write the call's result, or report
        that the child stopped at a boundary."""
        run = self.rc
        run.executed.add(ctx.name)
        tool = run.agent.get_tool(planned.call.name)
        assert isinstance(tool, ChildTool)
        writer = run.writer(step=step_no, attempt=ctx.attempt)
        result = await tool.collect(self, ctx, writer, planned, child, timed_out)
        await writer.flush()
        return result.to_dict()

    async def write_result(
        self,
        ctx: StepContext,
        planned: PlannedCall,
        content: Any,
        status: str,
        *,
        usage: Usage | None = None,
        state_patch: dict[str, Any] | None = None,
    ) -> None:
        """The call's result message, its state patch and its usage: the step's one write."""
        run = self.rc
        result = ToolResultMessage(
            tool_call_id=planned.call.id,
            tool_name=planned.call.name,
            content=content,
            status=status,
        )
        await run.deps.store.commit_tool_step(
            run.params.session_id,
            run.params.run_id,
            planned.sequence,
            result,
            state_patch=state_patch or None,
            usage=None
            if usage is None
            else run.usage_record(ctx.name, usage, kind="tool", model=None),
        )
        run.remember([(planned.sequence, result)])

    async def _settle(
        self, ctx: StepContext, writer: StreamWriter, planned: PlannedCall
    ) -> dict[str, Any]:
        """A call that waited: write the denial or the client's result (read from the
        session's pending list, where the submission put it)."""
        run = self.rc
        call = planned.call
        state = await run.load_session()
        entry = next(
            (p for p in state.pending_client_tool_calls if p.tool_call_id == call.id), None
        )
        usage: Usage | None = None
        if planned.resolution == "denied":
            reason = entry.reason if entry is not None else None
            content: Any = "The user denied this tool call; it was not executed." + (
                f" Reason: {reason}" if reason else ""
            )
            status = "denied"
            await writer.add(ToolOutputDeniedChunk(tool_call_id=call.id, reason=reason))
        elif planned.resolution == "client" and entry is not None:
            content = entry.result
            status = entry.result_status or "success"
            usage = Usage(tool_calls=1)
            if status == "success":
                await writer.add(ToolOutputChunk(tool_call_id=call.id, output=content))
            else:
                await writer.add(ToolErrorChunk(tool_call_id=call.id, error=str(content)))
        else:
            content = "Not executed: its decision is missing or expired."
            status = "error"
            await writer.add(ToolErrorChunk(tool_call_id=call.id, error=content))
        await writer.flush()
        await self.write_result(ctx, planned, content, status, usage=usage)
        return ToolStepResult(status=status).to_dict()


def jsonable(value: Any) -> Any:
    """Tool outputs are stored as JSON: pydantic models and dataclasses become dicts."""
    from pydantic import BaseModel, TypeAdapter

    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return TypeAdapter(Any).dump_python(value, mode="json")
