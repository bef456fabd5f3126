"""What a model step does after its model call: a plan, decided from plain values.

The model step (:mod:`.model_step`) works in three phases: it gathers (one read, the model
call, a verdict per tool call from its gate), it plans (this module: no I/O, no store, no
clock), and it applies the plan (:meth:`.model_step.ModelStep.apply`: one commit, and the
stream's tail before or after it). A plan says everything the step's one write holds and
what follows it:

- ``rows``: the response and every result the step decides itself (an unknown tool, the
  output tool's answer, a gate's refusal, a call not run because the run ends), by sequence;
- the calls that run next as tool steps, and the calls that wait on a human or the client;
- ``outcome``: the run's end, when this step ends the run (completed, failed at a limit,
  suspended with nothing left to run, interrupted, aborted);
- how the step's part of the stream ends, and the step's result (next sequence included).

:func:`plan_response` plans a response the model gave; :func:`plan_stop` one that a stop cut
short (or a last answer given after an interrupt); :func:`plan_failure` a run that fails
inside the step (a usage limit before the call, the provider refusing the request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..agent import OUTPUT_TOOL_NAME
from ..messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from ..state import PendingToolCall, RunStatus
from ..store import Outcome
from ..usage import Usage
from . import limits
from .params import ModelStepResult, PlannedCall

if TYPE_CHECKING:
    from ..agent import Agent, UsageLimits

__all__ = [
    "ModelStepPlan",
    "OutputCall",
    "Refused",
    "Rules",
    "Runs",
    "Unknown",
    "Verdict",
    "Waits",
    "plan_failure",
    "plan_response",
    "plan_stop",
]


# -- the verdicts: what the step learned of each tool call before planning ---------------


@dataclass(frozen=True)
class Runs:
    """A server tool's call that runs now, as a tool step."""


@dataclass(frozen=True)
class Waits:
    """A call that waits on an approval or a client's result."""

    pending: PendingToolCall


@dataclass(frozen=True)
class Refused:
    """A gated call whose arguments its tool refuses: answered at once (the gate streamed
    the input error)."""

    problem: str


@dataclass(frozen=True)
class Unknown:
    """A call of a tool the agent does not have."""


@dataclass(frozen=True)
class OutputCall:
    """A call of the output tool: the validated output, or why it was refused."""

    output: Any = None
    error: str | None = None


Verdict = Runs | Waits | Refused | Unknown | OutputCall


@dataclass(frozen=True)
class Rules:
    """What a plan needs of the agent."""

    max_steps: int
    usage_limits: UsageLimits | None
    #: The agent has an output type: its answer is a call of the output tool, not text.
    output_required: bool
    #: The agent's tool names, sorted (an unknown tool's result lists them).
    tool_names: tuple[str, ...]

    @classmethod
    def of(cls, agent: Agent) -> Rules:
        return cls(
            max_steps=agent.max_steps,
            usage_limits=agent.usage_limits,
            output_required=agent.output_type is not None,
            tool_names=tuple(sorted(agent.tool_map)),
        )


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStepPlan:
    #: The step's messages, by sequence (a call that runs or waits gets its result later).
    rows: tuple[tuple[int, Message], ...]
    #: What the model call used (recorded in the same write).
    usage: Usage
    #: The write also clears the suspension this instance resumed (its first model step).
    settle: bool
    #: What the step returns; its ``tool_calls`` run next as tool steps.
    result: ModelStepResult
    #: The run's end, when this step ends the run; None: the run goes on.
    outcome: Outcome | None = None
    #: Calls that wait on a human or the client (their approval requests go on the stream).
    waiting: tuple[PendingToolCall, ...] = ()
    #: The suspension the write records for ``waiting`` (None when nothing waits).
    suspension: RunStatus | None = None
    #: The finish reason of the step's end on the stream; None: the step's part stays open
    #: (its tools' outputs go inside it; the next model step closes it).
    step_finish: str | None = None
    #: The run's finish reason on the stream, when the step ends the run.
    run_finish: str | None = None
    #: The structured output goes on the stream before the run's end.
    output_chunk: bool = False

    @property
    def ends_run(self) -> bool:
        return self.outcome is not None


def plan_response(
    message: AssistantMessage,
    verdicts: list[Verdict],
    *,
    usage: Usage,
    used: Usage,
    step_no: int,
    sequence: int,
    rules: Rules,
    settle: bool,
) -> ModelStepPlan:
    """The plan for a response the model gave: ``verdicts`` has one entry per call of
    ``message`` (in order), ``usage`` is what the call used, ``used`` what the turn used
    before it, ``sequence`` the response's sequence number."""
    to_write: list[Message | None] = [message]  # None: a tool step writes the call's result
    runnable: list[PlannedCall] = []
    waiting: list[tuple[PlannedCall, PendingToolCall]] = []
    output: Any = None
    output_given = False
    output_error: str | None = None
    for index, (call, verdict) in enumerate(zip(message.tool_calls, verdicts, strict=True)):
        item = PlannedCall(call=call, sequence=sequence + 1 + index)
        if isinstance(verdict, OutputCall):
            if output_given:
                to_write.append(_result(call, "Ignored: the final result was already given."))
            elif verdict.error is None:
                output, output_given = verdict.output, True
                to_write.append(_result(call, "Final result accepted."))
            else:
                output_error = verdict.error
                to_write.append(_result(call, verdict.error, "error"))
        elif isinstance(verdict, Unknown):
            known = ", ".join(rules.tool_names) or "none"
            to_write.append(
                _result(call, f"Unknown tool {call.name!r}. Available tools: {known}.", "error")
            )
        elif isinstance(verdict, Refused):
            to_write.append(_result(call, verdict.problem, "error"))
        elif isinstance(verdict, Waits):
            waiting.append((item, verdict.pending))
            to_write.append(None)
        else:
            runnable.append(item)
            to_write.append(None)
    next_sequence = sequence + 1 + len(message.tool_calls)
    unrun = runnable + [item for item, _ in waiting]

    def ended(
        status: RunStatus,
        *,
        not_run: str | None = None,
        output: Any = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> ModelStepPlan:
        # The run ends here: the calls that would have run or waited get a result saying
        # why they did not, so that every call of the response has one.
        for item in unrun:
            assert not_run is not None
            to_write[item.sequence - sequence] = _result(item.call, not_run, "error")
        rows = _rows(sequence, to_write)
        completed = status == RunStatus.COMPLETED
        return ModelStepPlan(
            rows=rows,
            usage=usage,
            settle=settle,
            result=ModelStepResult(
                final=True,
                status=status,
                next_sequence=sequence + len(rows),
                output=output,
                error=error,
            ),
            outcome=Outcome(status, output, error, reason),
            step_finish=message.finish_reason or "stop",
            run_finish="stop" if completed else "error",
            output_chunk=completed and rules.output_required,
        )

    # A limit is checked against this response too, whatever it says: the tokens are
    # spent, and the run must not go on (or be reported as within its limits).
    over = (
        None  # no limits: the sum (a new Usage per step) would go unread
        if rules.usage_limits is None
        else limits.after_response(rules.usage_limits, used + usage, len(unrun))
    )
    if output_given and over is None:
        # The output tool ends the run; other calls of the same response are not run.
        return ended(
            RunStatus.COMPLETED, not_run="Not executed: the final result was given.", output=output
        )
    if not message.tool_calls and output_error is None and over is None:
        if not rules.output_required:
            return ended(RunStatus.COMPLETED, output=message.content)
        # Structured output was required but the model answered in text: ask again.
        to_write.append(
            UserMessage(
                content=f"Please give your final answer by calling the {OUTPUT_TOOL_NAME} tool."
            )
        )
        next_sequence = sequence + 2
    if step_no >= rules.max_steps:
        return ended(
            RunStatus.FAILED,
            not_run="Not executed: the agent reached its step limit.",
            error=f"The agent reached its limit of {rules.max_steps} steps without finishing.",
            reason="max_steps",
        )
    if over is not None:
        return ended(
            RunStatus.FAILED,
            not_run="Not executed: the agent reached a usage limit.",
            error=over,
            reason=limits.FAILURE_REASON,
        )

    rows = _rows(sequence, to_write)
    pending = tuple(entry for _, entry in waiting)
    waiting_ids = [entry.tool_call_id for entry in pending]
    if waiting and not runnable:
        # Nothing runs now: the run returns at this boundary, in this same write.
        status = RunStatus.SUSPENDED_CLIENT_TOOL
        return ModelStepPlan(
            rows=rows,
            usage=usage,
            settle=settle,
            result=ModelStepResult(final=True, status=status, next_sequence=next_sequence),
            outcome=Outcome(status),
            waiting=pending,
            suspension=status,
            step_finish="tool-calls",
            run_finish="tool-calls",
        )
    # The run goes on: the runnable calls run as tool steps (the step's part of the stream
    # stays open for their outputs), then a suspension if some calls wait, else the next
    # model step.
    return ModelStepPlan(
        rows=rows,
        usage=usage,
        settle=settle,
        result=ModelStepResult(
            final=False,
            tool_calls=runnable,
            next_sequence=next_sequence,
            waiting_calls=waiting_ids,
            usage=usage,
        ),
        waiting=pending,
        suspension=RunStatus.SUSPENDED_STEP_PARTIAL if waiting else None,
        step_finish=None if runnable else message.finish_reason or "stop",
    )


def plan_stop(
    status: RunStatus,
    message: AssistantMessage | None,
    *,
    usage: Usage,
    sequence: int,
    settle: bool,
) -> ModelStepPlan:
    """The plan for a run a stop ends in this step (``interrupted``, or ``aborted`` for a
    sub-agent writing into its parent's stream): it keeps what the model said before the
    stop, if anything, without tool calls (none of them will run)."""
    rows: tuple[tuple[int, Message], ...] = ()
    if message is not None and (message.content or message.reasoning):
        rows = ((sequence, message.model_copy(update={"tool_calls": []})),)
    return ModelStepPlan(
        rows=rows,
        usage=usage,
        settle=settle,
        result=ModelStepResult(final=True, status=status, next_sequence=sequence + len(rows)),
        outcome=Outcome(status),
        # An abort leaves the step's part as the stop cut it (readers drop nothing).
        step_finish="other" if status == RunStatus.INTERRUPTED else None,
        run_finish="other",
    )


def plan_failure(error: str, reason: str, *, sequence: int, settle: bool) -> ModelStepPlan:
    """The plan for a run that fails inside the step, where retrying cannot help."""
    return ModelStepPlan(
        rows=(),
        usage=Usage(),
        settle=settle,
        result=ModelStepResult(
            final=True, status=RunStatus.FAILED, next_sequence=sequence, error=error
        ),
        outcome=Outcome(RunStatus.FAILED, None, error, reason),
        run_finish="error",
    )


def _rows(sequence: int, to_write: list[Message | None]) -> tuple[tuple[int, Message], ...]:
    return tuple((sequence + i, m) for i, m in enumerate(to_write) if m is not None)


def _result(call: ToolCall, content: Any, status: str = "success") -> ToolResultMessage:
    return ToolResultMessage(
        tool_call_id=call.id, tool_name=call.name, content=content, status=status
    )
