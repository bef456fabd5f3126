"""The body of a tool step: one tool call, run at most once to completion.

Before running, the step looks for its result message at its sequence number: if a previous
attempt completed the tool and persisted the result but died before the journal recorded the
step, the result is returned as it is and the tool is NOT run again. The only window in which
a tool can run twice is a crash after the tool's own side effect and before its result is
written; tools with external side effects should key them on ``ctx.tool_call_id``.
"""

from __future__ import annotations

from typing import Any

from ..chunks import ToolErrorChunk, ToolOutputChunk
from ..errors import HelixError, RunSignal
from ..messages import ToolResultMessage
from ..ports.step import StepContext
from ..tools import ToolArgumentsError
from ..usage import Usage
from .context import RunToolContext
from .params import PlannedCall, ToolStepResult
from .run_context import RunContext

__all__ = ["ToolStep"]


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

        tool = run.agent.get_tool(call.name)
        assert tool is not None, "the model step only plans known tools"
        writer = run.writer(step=step_no, attempt=ctx.attempt)
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
            content = _jsonable(output)
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
        result = ToolResultMessage(
            tool_call_id=call.id,
            tool_name=call.name,
            content=content,
            status=status,
        )
        await store.commit_tool_step(
            session_id,
            run.params.run_id,
            planned.sequence,
            result,
            state_patch=patch or None,
            usage=run.usage_record(
                ctx.name,
                Usage(tool_calls=1, custom=dict(tool_ctx.custom_usage)),
                kind="tool",
                model=None,
            ),
        )
        run.remember([(planned.sequence, result)])
        return ToolStepResult(status=status, state_patch=patch).to_dict()


def _jsonable(value: Any) -> Any:
    """Tool outputs are stored as JSON: pydantic models and dataclasses become dicts."""
    from pydantic import BaseModel, TypeAdapter

    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return TypeAdapter(Any).dump_python(value, mode="json")
