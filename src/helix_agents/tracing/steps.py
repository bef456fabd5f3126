"""Tracing a run instance: its tracer, its steps' spans, its run span.

:func:`instance_tracer` derives the instance's ids (see :mod:`.spans`); :class:`TracedStep`
wraps the Step port so that each step body that runs records one span (named after the
step, one per attempt) and starts the export of what it recorded as it ends (waiting for
the exports in flight before a durable wait or sleep); :func:`end_run` records the
instance's own span, ``invoke_agent``, when the instance returns, and waits for every
export.

The run span is sent once the instance returns (outside any step, which suits a telemetry
write that may be lost): an engine that replays an instance only reaches that return in its
last execution. Its start is the run's ``started_at`` from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ids import run_instance_id
from ..ports.step import JSONValue, Step, StepConfig, StepContext, StepFn
from .config import TracingConfig
from .spans import Tracer, derive_id, parse_traceparent

if TYPE_CHECKING:
    from ..core.params import RunParams

__all__ = ["TracedStep", "end_run", "instance_tracer", "run_span_id", "turn_trace_id"]


def turn_trace_id(session_id: str, turn: int) -> str:
    """The trace id of a root session's turn (every instance of the turn derives it)."""
    return derive_id(16, "trace", run_instance_id(session_id, turn))


def run_span_id(run_id: str) -> str:
    """The span id of the run span of instance ``run_id``."""
    return derive_id(8, "run", run_id)


def instance_tracer(params: RunParams, config: TracingConfig) -> Tracer:
    """The tracer of the instance ``params`` describes. Its run span's parent: the span
    named by ``params.trace_parent`` (the HTTP caller's span, a child's delegating call, or
    a suspended instance), else, for a root session's resume, the previous instance's run
    span. Both come from the params, which are durable: a replay derives the same."""
    from .otlp import export_spans

    parent = parse_traceparent(params.trace_parent)
    parent_id: str | None
    if parent is not None:
        trace_id, parent_id = parent
    else:
        trace_id = turn_trace_id(params.session_id, params.turn)
        previous = (
            run_instance_id(params.session_id, params.turn, params.resume - 1)
            if params.resume > 0
            else None
        )
        parent_id = run_span_id(previous) if previous is not None else None
    return Tracer(
        config,
        trace_id=trace_id,
        run_span_id=run_span_id(params.run_id),
        parent_span_id=parent_id,
        export=export_spans,
        trace_state=params.trace_state if parent is not None else None,
    )


def suspension_tracing_context(tracer: Tracer | None) -> dict[str, Any] | None:
    """What a suspension keeps so that its resume continues the trace (V9's
    ``tracingContext``): the suspended instance's run span, as a W3C ``traceparent``."""
    if tracer is None:
        return None
    context: dict[str, Any] = {"traceparent": tracer.run_traceparent}
    if tracer.trace_state:
        context["tracestate"] = tracer.trace_state
    return context


class TracedStep:
    """The Step port, with a span around each step body that runs (see the module
    docstring). ``sleep`` and ``wait_for_event`` run no body: they pass through."""

    def __init__(self, step: Step, tracer: Tracer) -> None:
        self._step = step
        self.tracer = tracer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._step, name)

    async def do(self, name: str, fn: StepFn, config: StepConfig | None = None) -> JSONValue:
        tracer = self.tracer

        async def traced(ctx: StepContext) -> JSONValue:
            # A step's span hangs under its instance's run span, always: an instance started
            # from inside another's step (a child) inherits that step's context.
            span = tracer.start(
                name,
                top=True,
                key=f"step\x1f{name}\x1f{ctx.attempt}",
                attributes={"helix.step.name": name, "helix.step.attempt": ctx.attempt},
            )
            token = tracer.enter(span)
            try:
                return await fn(ctx)
            except Exception as exc:
                span.fail(exc)
                raise
            finally:
                tracer.leave(token)
                tracer.end(span)
                tracer.flush()

        return await self._step.do(name, traced, config)

    async def sleep(self, name: str, duration: int | float | str) -> None:
        await self.tracer.drain()
        await self._step.sleep(name, duration)

    async def wait_for_event(
        self, name: str, event_type: str, timeout: int | float | str = "24 hours"
    ) -> Any:
        await self.tracer.drain()
        return await self._step.wait_for_event(name, event_type, timeout)


async def end_run(
    tracer: Tracer,
    params: RunParams,
    output: dict[str, Any],
    *,
    started_at_ms: int | None,
) -> None:
    """Record and export the instance's run span (``invoke_agent <agent>``)."""
    from .spans import Span

    start = tracer.began_ns
    if started_at_ms:
        start = min(start, started_at_ms * 1_000_000)
    span = Span(
        trace_id=tracer.trace_id,
        span_id=tracer.run_span_id,
        parent_id=tracer.parent_span_id,
        name=f"invoke_agent {params.agent_type}",
        start_ns=start,
        trace_state=tracer.trace_state,
    )
    status = output.get("status")
    span.attributes.update(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": params.agent_type,
            "gen_ai.conversation.id": params.session_id,
            "helix.session.id": params.session_id,
            "helix.run.id": params.run_id,
            "helix.turn": params.turn,
            "helix.resume": params.resume,
            "helix.run.status": str(status) if status is not None else None,
        }
    )
    if params.parent_session_id:
        span.attributes["helix.parent_session.id"] = params.parent_session_id
    span.attributes = {k: v for k, v in span.attributes.items() if v is not None}
    if status == "failed":
        span.status = (2, str(output.get("error") or "failed")[:1000])
    tracer.end(span)
    await tracer.drain()
