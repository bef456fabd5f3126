"""The durable agent loop: ``run_agent_workflow(params, step, deps)``.

One instance runs one turn (or one resume of a turn). Its shape, which every replay repeats
identically because it depends only on the params and on step results:

    for each agent step s (from params.start_step):
        step "turn-T/step-SS/model"            -> ModelStepResult (final? tool calls?)
        steps "turn-T/step-SS/tool/<call id>"  -> ToolStepResult, concurrently
    return RunResult

A call's step is of one of two kinds, decided in one place (``_CallSteps.body``): a tool
step, or, for a delegating tool's call, a delegation step. Every side effect happens inside
the steps (see :mod:`.model_step`, :mod:`.tool_step` and :mod:`.delegation_step`):
streaming, the model call, tool calls, message and state writes, usage. Message sequence
numbers are derived from step results (``base_sequence`` plus positions), never read back
from the database, so a step re-run after a crash writes the same rows again, which the
UNIQUE(session_id, sequence) key turns into no-ops.

Interrupt and abort are read inside the model step (and ride back on stream-write acks);
they never cost a step of their own. A run that fails unexpectedly gets one extra
``.../fail`` step that records the failure, so the session never stays ``active``.

Boundaries (docs/hitl.md, docs/subagents.md): a response whose calls all wait on a human or
the client ends the instance in its model step; a mixed one runs its server tools and then
``.../suspend``; a call that delegates to a child adds ``.../wait/<id>`` (a durable
``wait_for_event``) and ``.../collect/<id>`` (the delegation step's second half); a resume
of an expired suspension is one ``.../expire`` step. A resume instance first settles the
calls that waited, each in its own step, then continues with the next model step.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import HelixError, StepTimeoutError
from ..ids import (
    collect_step_name,
    expire_step_name,
    fail_step_name,
    model_step_name,
    suspend_step_name,
    tool_step_name,
    wait_step_name,
)
from ..ports.step import Step, StepConfig, StepContext
from ..state import RunStatus
from ..subagents import DelegatingTool
from .boundary import expire_suspension, suspend_at_boundary
from .converter import decode, durable_step, encode
from .delegation_step import DelegationStep
from .deps import RunDeps
from .mcp_tools import attach_mcp_tools
from .model_step import ModelStep
from .params import (
    EndStepResult,
    ModelStepResult,
    PlannedCall,
    RunParams,
    RunResult,
    ToolStepResult,
)
from .run_context import RunContext
from .schedule_firing import FIRING_KEY, run_schedule_firing
from .summaries import summarize_history
from .tool_step import ToolStep

__all__ = ["CHILD_TIMEOUT", "MODEL_STEP_CONFIG", "run_agent_workflow"]

#: How long a waiting call waits for its child's end by default (a tool may set its own).
CHILD_TIMEOUT = "24 hours"

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
    """Run one instance of an agent's turn to its end or its next boundary (or, for a
    schedule's firing, that firing: :mod:`.schedule_firing`)."""
    if isinstance(params, dict) and FIRING_KEY in params:
        return await run_schedule_firing(params, step, deps)
    if not isinstance(params, RunParams):
        params = decode(RunParams, params)
    agent = deps.registry.get(params.agent_type)
    run = RunContext(params=params, agent=agent, deps=deps)
    if deps.tracing is None:
        return await _run(params, step, deps, run)
    # Tracing on: every step body that runs records a span, the instance its run span.
    from ..tracing.steps import TracedStep, end_run, instance_tracer

    run.tracer = tracer = instance_tracer(params, deps.tracing)
    output = await _run(params, TracedStep(step, tracer), deps, run)
    record = await deps.store.get_run(params.run_id)
    await end_run(tracer, params, output, started_at_ms=record.started_at if record else None)
    return output


async def _run(params: RunParams, step: Step, deps: RunDeps, run: RunContext) -> dict[str, Any]:
    model_step = ModelStep(run)
    calls = _CallSteps(ToolStep(run), DelegationStep(run))

    s = params.start_step
    sequence = params.base_sequence
    used = params.usage_before.model_copy()
    try:
        if params.expired is not None:
            return await _expire(step, run, s - 1)
        # The agent's MCP tools, listed once per run instance (journaled: every replay
        # offers the model the same tools).
        await attach_mcp_tools(step, run)
        # The older turns' summary, when the agent has summarize_older (journaled too).
        await summarize_history(step, run)
        if params.pending_tool_calls or params.waiting_calls:
            # A resume: settle what waited (approved calls run, denials and client results
            # are written), and run the tools an interrupt left unrun.
            results = await _run_tools(step, run, calls, s - 1, params.pending_tool_calls)
            used.tool_calls += _executed(results)
            if params.waiting_calls or _stopped(results):
                return await _boundary(step, run, s - 1, params.waiting_calls, results)
        while True:
            name = model_step_name(params.turn, s)
            result = await durable_step(
                step,
                name,
                functools.partial(model_step.execute, step_no=s, sequence=sequence, used=used),
                ModelStepResult,
                _config(deps.model_step_config, MODEL_STEP_CONFIG),
            )
            run.invalidate_unless_executed([name])
            if result.final:
                return encode(
                    RunResult(
                        session_id=params.session_id,
                        run_id=params.run_id,
                        status=result.status or RunStatus.COMPLETED,
                        output=result.output,
                        error=result.error,
                    )
                )
            used = used + result.usage
            results = await _run_tools(step, run, calls, s, result.tool_calls)
            used.tool_calls += _executed(results)
            if result.waiting_calls or _stopped(results):
                return await _boundary(step, run, s, result.waiting_calls, results)
            sequence = result.next_sequence
            s += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return await _fail(step, run, model_step, s, sequence, exc)


@dataclass(frozen=True)
class _CallSteps:
    """The two kinds of step that run a response's calls (the model step is the loop's)."""

    tool: ToolStep
    delegation: DelegationStep

    def body(
        self, run: RunContext, step_no: int, item: PlannedCall
    ) -> Callable[[StepContext], Awaitable[ToolStepResult]]:
        """The one place that decides which kind runs a call: a delegating tool's call is a
        delegation step (its child may make it wait, then collect), any other a tool step.
        Both are named ``.../tool/<call>``."""
        tool = run.agent.get_tool(item.call.name)
        if isinstance(tool, DelegatingTool):
            return functools.partial(
                self.delegation.start, step_no=step_no, planned=item, tool=tool
            )
        return functools.partial(self.tool.execute, step_no=step_no, planned=item)


def _delegating(run: RunContext, item: PlannedCall) -> DelegatingTool:
    """The delegating tool of a call whose step returned ``waiting``."""
    tool = run.agent.get_tool(item.call.name)
    assert isinstance(tool, DelegatingTool), "only a delegation step waits"
    return tool


async def _run_tools(
    step: Step,
    run: RunContext,
    calls: _CallSteps,
    step_no: int,
    planned: list[PlannedCall],
) -> list[ToolStepResult]:
    """One step per call, concurrently. A delegation step that started a child then waits
    for the child's end (a durable ``wait_for_event``) and collects its result in a second
    step: the instance holds nothing in memory that a restart would lose."""
    turn = run.params.turn
    names = [tool_step_name(turn, step_no, item.call.id) for item in planned]

    async def one(index: int) -> ToolStepResult:
        item = planned[index]
        return await durable_step(
            step,
            names[index],
            calls.body(run, step_no, item),
            ToolStepResult,
            _config(
                run.agent.get_tool(item.call.name), run.deps.tool_step_config, TOOL_STEP_CONFIG
            ),
        )

    # Each step.do takes its journal ordinal before its first await, so starting them in
    # order keeps the journal deterministic even though they run concurrently. For the same
    # reason the waits and the collections run in phases, each started in call order.
    if len(planned) == 1:  # the common case: no task to gather one coroutine into
        results = [await one(0)]
    else:
        results = list(await asyncio.gather(*(one(i) for i in range(len(planned)))))
    run.invalidate_unless_executed(names)
    for result in results:
        run.apply_state_patch(result.state_patch)
    waiting = [i for i, result in enumerate(results) if result.status == "waiting"]
    if not waiting:
        return results
    # One wait per child run: a child's end is one event, however many calls wait on it
    # (a companion asked twice in one response).
    first_waiter: dict[str, int] = {}
    for index in waiting:
        event_type = results[index].event_type
        assert event_type is not None
        first_waiter.setdefault(event_type, index)

    async def wait(index: int) -> bool:
        item, result = planned[index], results[index]
        assert result.event_type is not None
        timeout = _delegating(run, item).timeout or CHILD_TIMEOUT
        try:
            await step.wait_for_event(
                wait_step_name(turn, step_no, item.call.id), result.event_type, timeout
            )
        except StepTimeoutError:
            return True
        return False

    outcome = dict(
        zip(
            first_waiter,
            await asyncio.gather(*(wait(i) for i in first_waiter.values())),
            strict=True,
        )
    )
    timed_out = [outcome[results[i].event_type or ""] for i in waiting]
    collect_names = [collect_step_name(turn, step_no, planned[i].call.id) for i in waiting]

    async def collect(position: int) -> ToolStepResult:
        index = waiting[position]
        return await durable_step(
            step,
            collect_names[position],
            functools.partial(
                calls.delegation.collect,
                step_no=step_no,
                planned=planned[index],
                tool=_delegating(run, planned[index]),
                child=results[index],
                timed_out=timed_out[position],
            ),
            ToolStepResult,
            _config(run.deps.tool_step_config, TOOL_STEP_CONFIG),
        )

    collected = await asyncio.gather(*(collect(p) for p in range(len(waiting))))
    run.invalidate_unless_executed(collect_names)
    for position, index in enumerate(waiting):
        results[index] = collected[position]
    return results


def _executed(results: list[ToolStepResult]) -> int:
    return sum(1 for r in results if r.status in ("success", "error"))


def _stopped(results: list[ToolStepResult]) -> bool:
    return any(r.status in ("suspended", "interrupted") for r in results)


async def _boundary(
    step: Step,
    run: RunContext,
    step_no: int,
    waiting_calls: list[str],
    results: list[ToolStepResult],
) -> dict[str, Any]:
    """The run stops at a boundary after its tools ran: calls still wait on a decision or a
    client result, or a child stopped. One step, ``turn-T/step-SS/suspend``."""
    body = functools.partial(
        suspend_at_boundary,
        run,
        step_no=step_no,
        waiting_calls=waiting_calls,
        suspended_children=[r.child_session_id for r in results if r.status == "suspended"],
        interrupted=any(r.status == "interrupted" for r in results),
    )
    name = suspend_step_name(run.params.turn, step_no)
    ended = await durable_step(step, name, body, EndStepResult, FAIL_STEP_CONFIG)
    return encode(
        RunResult(session_id=run.params.session_id, run_id=run.params.run_id, status=ended.status)
    )


async def _expire(step: Step, run: RunContext, step_no: int) -> dict[str, Any]:
    """Resume of an expired suspension: every unsettled call gets an expiry result and the
    run fails with the reason. One step, ``turn-T/step-SS/expire``."""
    name = expire_step_name(run.params.turn, step_no)
    body = functools.partial(expire_suspension, run, step_no=step_no)
    ended = await durable_step(step, name, body, EndStepResult)
    return encode(
        RunResult(
            session_id=run.params.session_id,
            run_id=run.params.run_id,
            status=ended.status,
            error=ended.error,
        )
    )


async def _fail(
    step: Step,
    run: RunContext,
    model_step: ModelStep,
    step_no: int,
    sequence: int,
    exc: BaseException,
) -> dict[str, Any]:
    """Record an unexpected failure durably, so the session does not stay active. A model
    step that ended the run before it failed (its commit landed, its stream's last write
    never did) leaves a run that is not failed: its stream gets the stored end instead."""
    message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, HelixError) else str(exc)
    reason = getattr(exc, "code", None) or "error"

    async def body(ctx: StepContext) -> EndStepResult:
        ended = await model_step.close_after_failure(ctx, step_no, sequence)
        if ended is not None:
            return EndStepResult(status=ended)
        await run.finish(RunStatus.FAILED, error=message, failure_reason=str(reason), step=ctx)
        return EndStepResult(status=RunStatus.FAILED, error=message)

    name = fail_step_name(run.params.turn, step_no)
    ended = await durable_step(step, name, body, EndStepResult, FAIL_STEP_CONFIG)
    return encode(
        RunResult(
            session_id=run.params.session_id,
            run_id=run.params.run_id,
            status=ended.status,
            error=ended.error,
        )
    )


def _config(*candidates: Any) -> StepConfig:
    for candidate in candidates:
        if candidate is None:
            continue
        config = getattr(candidate, "step_config", candidate)
        if config:
            return config  # type: ignore[no-any-return]
    return {}
