"""The durable agent loop: ``run_agent_workflow(params, step, deps)``.

One instance runs one turn (or one resume of a turn). Its shape, which every replay repeats
identically because it depends only on the params and on step results:

    for each agent step s (from params.start_step):
        step "turn-T/step-SS/model"            -> ModelStepResult (final? tool calls?)
        steps "turn-T/step-SS/tool/<call id>"  -> ToolStepResult, concurrently
    return RunResult

Every side effect happens inside those steps (see :mod:`.model_step` and
:mod:`.tool_step`): streaming, the model call, tool calls, message and state writes,
usage. Message sequence numbers are derived from step results (``base_sequence`` plus
positions), never read back from the database, so a step re-run after a crash writes the
same rows again, which the UNIQUE(session_id, sequence) key turns into no-ops.

Interrupt and abort are read inside the model step (and ride back on stream-write acks);
they never cost a step of their own. A run that fails unexpectedly gets one extra
``.../fail`` step that records the failure, so the session never stays ``active``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from ..errors import HelixError
from ..ids import model_step_name, tool_step_name
from ..ports.step import Step, StepConfig, StepContext
from ..state import RunStatus
from .deps import RunDeps
from .model_step import ModelStep
from .params import ModelStepResult, PlannedCall, RunParams, RunResult, ToolStepResult
from .run_context import RunContext
from .tool_step import ToolStep

__all__ = ["MODEL_STEP_CONFIG", "run_agent_workflow"]

#: Provider retries (429, 5xx) happen inside the adapter; a step retry covers a stream that
#: broke after text went out, a crash, or a transient database error.
MODEL_STEP_CONFIG: StepConfig = {
    "retries": {"limit": 2, "delay": 500, "backoff": "exponential"},
    "timeout": "10 minutes",
}
TOOL_STEP_CONFIG: StepConfig = {
    "retries": {"limit": 2, "delay": 500, "backoff": "exponential"},
    "timeout": "10 minutes",
}
FAIL_STEP_CONFIG: StepConfig = {
    "retries": {"limit": 5, "delay": 1000, "backoff": "exponential"},
    "timeout": "1 minute",
}


async def run_agent_workflow(
    params: RunParams | dict[str, Any], step: Step, deps: RunDeps
) -> dict[str, Any]:
    """Run one instance of an agent's turn to its end or its next boundary."""
    if not isinstance(params, RunParams):
        params = RunParams.from_dict(params)
    agent = deps.registry.get(params.agent_type)
    run = RunContext(params=params, agent=agent, deps=deps)
    model_step = ModelStep(run)
    tool_step = ToolStep(run)

    s = params.start_step
    sequence = params.base_sequence
    try:
        if params.pending_tool_calls:
            # Tools of a response whose run was interrupted before they ran.
            await _run_tools(step, run, tool_step, s - 1, params.pending_tool_calls)
        while True:
            name = model_step_name(params.turn, s)
            raw = await step.do(
                name,
                functools.partial(model_step.execute, step_no=s, sequence=sequence),
                _config(deps.model_step_config, MODEL_STEP_CONFIG),
            )
            run.invalidate_unless_executed([name])
            result = ModelStepResult.from_dict(raw)
            if result.final:
                return RunResult(
                    session_id=params.session_id,
                    run_id=params.run_id,
                    status=result.status or RunStatus.COMPLETED,
                    output=result.output,
                    error=result.error,
                ).to_dict()
            await _run_tools(step, run, tool_step, s, result.tool_calls)
            sequence = result.next_sequence
            s += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return await _fail(step, run, s, exc)


async def _run_tools(
    step: Step,
    run: RunContext,
    tool_step: ToolStep,
    step_no: int,
    planned: list[PlannedCall],
) -> None:
    turn = run.params.turn
    names = [tool_step_name(turn, step_no, item.call.id) for item in planned]

    async def one(index: int) -> ToolStepResult:
        item = planned[index]
        raw = await step.do(
            names[index],
            functools.partial(tool_step.execute, step_no=step_no, planned=item),
            _config(
                run.agent.get_tool(item.call.name), run.deps.tool_step_config, TOOL_STEP_CONFIG
            ),
        )
        return ToolStepResult.from_dict(raw)

    # Each step.do takes its journal ordinal before its first await, so starting them in
    # order keeps the journal deterministic even though they run concurrently.
    results = await asyncio.gather(*(one(i) for i in range(len(planned))))
    run.invalidate_unless_executed(names)
    for result in results:
        run.apply_state_patch(result.state_patch)


async def _fail(step: Step, run: RunContext, step_no: int, exc: BaseException) -> dict[str, Any]:
    """Record an unexpected failure durably, so the session does not stay active."""
    message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, HelixError) else str(exc)
    reason = getattr(exc, "code", None) or "error"

    async def body(ctx: StepContext) -> dict[str, Any]:
        await run.finish(RunStatus.FAILED, error=message, failure_reason=str(reason), step=ctx)
        return {"status": RunStatus.FAILED.value, "error": message}

    name = f"turn-{run.params.turn}/step-{step_no:02d}/fail"
    await step.do(name, body, FAIL_STEP_CONFIG)
    return RunResult(
        session_id=run.params.session_id,
        run_id=run.params.run_id,
        status=RunStatus.FAILED,
        error=message,
    ).to_dict()


def _config(*candidates: Any) -> StepConfig:
    for candidate in candidates:
        if candidate is None:
            continue
        config = getattr(candidate, "step_config", candidate)
        if config:
            return config  # type: ignore[no-any-return]
    return {}
