"""The body of a model step: one LLM call, streamed and persisted.

It reads top to bottom in three phases:

1. Gather. One read (the run's status, the session and its abort and interrupt flags,
   whatever an earlier attempt stored at this step's sequence), then the model call,
   streamed (:mod:`.model_call`), unless an earlier attempt already stored the response
   (a crash between the write and the journal: it is reused, never paid for twice); then a
   verdict per tool call from its gate (:mod:`.gating`).
2. Plan. :mod:`.plan` decides, without I/O, what the step writes and what comes next.
3. Apply. :meth:`ModelStep.apply`: the step's one write (messages, results, usage, state,
   the run's end or a suspension) and the stream's tail, by one rule: a step that ends
   the run commits first and then writes its tail and the stream's end in one write; a
   step after which the run goes on writes its tail first and then commits.

The step returns a compact :class:`~.params.ModelStepResult`; the messages are in the
database.
"""

from __future__ import annotations

from dataclasses import replace

from ..agent import OUTPUT_TOOL_NAME
from ..chunks import (
    OutputChunk,
    StepEndChunk,
    StepResetChunk,
    ToolApprovalRequestChunk,
)
from ..errors import (
    ConflictError,
    ModelHTTPError,
    ModelRateLimitedError,
    SessionNotFoundError,
)
from ..history import history_window
from ..messages import AssistantMessage, Message, ToolResultMessage
from ..ports.step import StepContext
from ..state import RunStatus
from ..store import Suspension
from ..tools import ToolArgumentsError
from ..usage import Usage, UsageRecord
from . import limits
from .gating import gate_call, suspension_context
from .model_call import ModelCall, call_model
from .params import ModelStepResult
from .partial import read_stream, streamed_answer
from .plan import (
    ModelStepPlan,
    OutputCall,
    Refused,
    Rules,
    Runs,
    Unknown,
    Verdict,
    Waits,
    plan_failure,
    plan_response,
    plan_stop,
)
from .replay import (
    close_after_failure,
    close_stream_of_ended_run,
    decided_error_chunks,
    replay_response,
)
from .run_context import RunContext, SessionHistory
from .stream_writer import StreamWriter

__all__ = ["ModelStep"]


class ModelStep:
    def __init__(self, run: RunContext) -> None:
        self.rc = run
        #: This step's model call, once made: who answered, for the usage record.
        self._served: ModelCall | None = None

    async def execute(
        self, ctx: StepContext, *, step_no: int, sequence: int, used: Usage | None = None
    ) -> ModelStepResult:
        """``used``: what this turn used before this step (for the agent's usage limits)."""
        used = used or Usage()
        run = self.rc
        run.executed.add(ctx.name)
        self._served = None
        store = run.deps.store
        session_id = run.params.session_id
        settle = self._settles(step_no)

        # One read: the run's status, the session (flags, custom state), whatever an
        # earlier attempt already stored at this step's sequence, and the history when this
        # process does not hold it yet.
        view = await store.step_view(
            session_id,
            run.params.run_id,
            sequence=sequence,
            history_before=sequence if run.history is None else None,
            history_turns=history_window(run.agent.history_processors),
        )
        if view.state is None:
            raise SessionNotFoundError(f"session {session_id!r} does not exist")
        if view.run_status != RunStatus.ACTIVE:
            # Someone else (abort, supersede), or an earlier attempt of this step that died
            # before the journal recorded it, already ended this run: write nothing, but
            # make sure a parent heard of the end (reporting it twice is harmless).
            ended = view.run_status or RunStatus.ABORTED
            await close_stream_of_ended_run(
                run, ctx, ended, view.state, step_no, sequence, view.existing
            )
            await run.report_end(ended)
            return _final(ended, sequence)
        state = view.state
        if view.history is not None:
            run.history = SessionHistory(view.history)
        if run.custom_state is None:
            run.custom_state = dict(state.custom_state)
        if state.aborted:
            await run.finish(RunStatus.ABORTED, step=ctx, finish_reason="other")
            return _final(RunStatus.ABORTED, sequence)
        if view.interrupt_requested:
            return await self._interrupted_at_start(ctx, step_no, sequence, view.existing)

        # From here on nothing goes out on the writer's own rhythm except the model call's
        # parts: what comes before the call goes out in one write just before it (whose
        # ack is the last word on a stop before the call starts), what comes after it in
        # the step's one write of its tail (:meth:`apply`).
        writer = run.writer(step=step_no, attempt=ctx.attempt)
        writer.hold()
        if not isinstance(view.existing, AssistantMessage):
            # This attempt streams the step anew: readers drop whatever an earlier attempt
            # streamed. The resets go first, before the previous step is closed again
            # below: a reader that never saw the dead attempt (a replay) and comes back
            # with the id of that repeated close would otherwise hold a cursor past the
            # dead attempt's start, and be told to reset the step before it.
            for superseded in range(1, ctx.attempt):
                await writer.add(StepResetChunk(), tag=False, step=step_no, attempt=superseded)
        if step_no > run.params.start_step or run.params.pending_tool_calls:
            # The previous agent step's tools have run: close that step for the UI now, so
            # tool outputs sit inside their step as the AI SDK expects.
            await writer.add(StepEndChunk(finish_reason="tool-calls"), tag=False, step=step_no - 1)
        if isinstance(view.existing, AssistantMessage):
            # An earlier attempt persisted this response and its stream, then died before
            # the journal recorded the step: reuse it, never pay for the call twice.
            message = view.existing
            usage = Usage()
        else:
            refused = limits.before_request(run.agent.usage_limits, used)
            if refused is not None:
                plan = plan_failure(
                    refused, limits.FAILURE_REASON, sequence=sequence, settle=settle
                )
                return await self.apply(ctx, writer, step_no, plan)
            history = await run.messages_before(sequence)
            try:
                call = await call_model(run, ctx, writer, step_no, history, state)
            except ModelHTTPError as exc:
                if isinstance(exc, ModelRateLimitedError):
                    raise  # the step's retries may outlast the rate limit
                # The provider refused the request itself (bad model, bad key, bad input):
                # retrying cannot help, so the run fails now with the provider's words.
                error = f"{self._model_name}: {exc}"
                plan = plan_failure(error, exc.code, sequence=sequence, settle=False)
                return await self.apply(ctx, writer, step_no, plan)
            message, usage = call.message, call.usage
            self._served = call
            if call.stop == "abort":
                return await self._aborted(ctx, writer, step_no, sequence, message, usage)
            if call.stop == "interrupt" and (call.cut or not message.tool_calls):
                # Cut short, or a last answer given after the interrupt came: the run stops
                # here with what was said. (A complete response that asks for tools is
                # planned as any other; its calls run when the run is resumed.)
                plan = plan_stop(
                    RunStatus.INTERRUPTED, message, usage=usage, sequence=sequence, settle=settle
                )
                return await self.apply(ctx, writer, step_no, plan)
        verdicts = await self._verdicts(writer, step_no, message)
        plan = plan_response(
            message,
            verdicts,
            usage=usage,
            used=used,
            step_no=step_no,
            sequence=sequence,
            rules=Rules.of(run.agent),
            settle=settle,
        )
        return await self.apply(ctx, writer, step_no, plan)

    async def _verdicts(
        self, writer: StreamWriter, step_no: int, message: AssistantMessage
    ) -> list[Verdict]:
        """What the step learns of each call before planning, in the response's order: the
        output tool's answer validated, an unknown tool, and each known tool's gate (which
        streams a refused call's input error, and may ask the tool whether the call needs
        an approval; its expiry counts from one clock reading)."""
        agent = self.rc.agent
        now = self.rc.deps.clock()
        verdicts: list[Verdict] = []
        for call in message.tool_calls:
            tool = agent.get_tool(call.name)
            if agent.output_type is not None and call.name == OUTPUT_TOOL_NAME:
                try:
                    verdicts.append(OutputCall(output=agent.validate_output(call.arguments)))
                except ToolArgumentsError as exc:
                    verdicts.append(OutputCall(error=exc.message))
            elif tool is None:
                verdicts.append(Unknown())
            else:
                gate = await gate_call(self.rc, tool, call, writer, step_no, now)
                if isinstance(gate, ToolResultMessage):
                    verdicts.append(Refused(str(gate.content)))
                elif gate is not None:
                    verdicts.append(Waits(gate))
                else:
                    verdicts.append(Runs())
        return verdicts

    async def apply(
        self, ctx: StepContext, writer: StreamWriter, step_no: int, plan: ModelStepPlan
    ) -> ModelStepResult:
        """Carry out ``plan``: the step's tail on the (held) writer, and the step's one
        write. The one rule for the run's last write: a step that ends the run commits
        first, then writes its tail and the stream's end in one write (a crash between the
        two leaves the run ended with its answer stored, and the retry streams that answer
        again: :func:`.replay.close_stream_of_ended_run`); a step after which the run goes on
        writes its tail first, then commits (a retry that finds the response stored reuses
        it without streaming it again, so the stream must already hold it)."""
        run = self.rc
        message = plan.rows[0][1] if plan.rows else None
        if isinstance(message, AssistantMessage):
            for chunk in decided_error_chunks(run, message, [m for _, m in plan.rows]):
                await writer.add(chunk)
        for entry in plan.waiting:
            if entry.approval_id is not None:
                await writer.add(
                    ToolApprovalRequestChunk(
                        tool_call_id=entry.tool_call_id, approval_id=entry.approval_id
                    )
                )
        if plan.step_finish is not None:
            await writer.add(StepEndChunk(finish_reason=plan.step_finish))
        if plan.ends_run:
            assert plan.outcome is not None
            await self._commit(ctx, step_no, plan)
            outcome = plan.outcome
            if plan.output_chunk:
                await writer.add(OutputChunk(output=outcome.output))
            await run.end_stream(
                outcome.status,
                writer=writer,
                error=outcome.error,
                failure_reason=outcome.failure_reason,
                finish_reason=plan.run_finish,
            )
            return plan.result
        await writer.flush()
        await self._commit(ctx, step_no, plan)
        if writer.stop_requested == "interrupt":
            # An interrupt came during the call or with the tail's write (their acks carry
            # it): the response is saved, its tools run when the run is resumed. One that
            # comes after the last ack is seen by the next step's read.
            await run.finish(
                RunStatus.INTERRUPTED,
                step=ctx,
                writer=writer,
                finish_reason="other",
                step_count=step_no,
            )
            return _final(RunStatus.INTERRUPTED, plan.result.next_sequence)
        return plan.result

    async def _commit(self, ctx: StepContext, step_no: int, plan: ModelStepPlan) -> None:
        """The step's one write: messages, step count, usage, the outcome if final, a
        suspension, or forgetting the settled one that led to this instance."""
        run = self.rc
        suspension: Suspension | None = None
        if plan.suspension is not None:
            pending = list(plan.waiting)
            context = suspension_context(run, plan.suspension, step_no, pending)
            suspension = Suspension(context, pending)
        rows = list(plan.rows)
        await run.deps.store.commit_model_step(
            run.params.session_id,
            run.params.run_id,
            rows,
            step_count=step_no,
            usage=self._usage_record(ctx, plan),
            outcome=plan.outcome,
            suspension=suspension,
            settle=plan.settle,
        )
        run.remember(rows)

    def _usage_record(self, ctx: StepContext, plan: ModelStepPlan) -> UsageRecord | None:
        """The step's usage, under the model that answered (a fallback's member, when the
        agent's model is a FallbackModel) with the models that failed before it."""
        served = self._served
        record = self.rc.usage_record(
            ctx.name,
            plan.usage,
            kind="model",
            model=(served.served_by if served else None) or self._model_name,
        )
        if record is not None and served is not None and served.failed_over:
            record.metadata = {"model": self._model_name, "failedOver": list(served.failed_over)}
        return record

    def _settles(self, step_no: int) -> bool:
        """The first model step of an instance runs once every call of the previous response
        has its result: whatever suspension led here is settled, cleared in its write."""
        return step_no == self.rc.params.start_step

    async def _interrupted_at_start(
        self, ctx: StepContext, step_no: int, sequence: int, existing: Message | None
    ) -> ModelStepResult:
        """The interrupt came before this step called its model. A retry may follow an
        attempt that streamed part of an answer and died: that text is what readers saw,
        so it is stored (rebuilt from the stream) and streamed again whole as this attempt,
        after resets of the earlier ones, before the run's end."""
        run = self.rc
        answer: AssistantMessage | None = None
        if ctx.attempt > 1 and existing is None and not run.forwarded:
            chunks = await read_stream(run.deps.streams, run.params.stream_id)
            answer = streamed_answer(
                chunks, message_id=run.params.message_id, step=step_no, below_attempt=ctx.attempt
            )
        if answer is None:
            await run.finish(RunStatus.INTERRUPTED, step=ctx, finish_reason="other")
            return _final(RunStatus.INTERRUPTED, sequence)
        writer = run.writer(step=step_no, attempt=ctx.attempt)
        writer.hold()
        # The tail is the answer again, whole (it closes the step itself).
        await replay_response(
            run,
            writer,
            answer,
            step_no=step_no,
            attempt=ctx.attempt,
            status=RunStatus.INTERRUPTED,
            pending=[],
        )
        plan = plan_stop(
            RunStatus.INTERRUPTED,
            answer,
            usage=Usage(requests=1),
            sequence=sequence,
            settle=self._settles(step_no),
        )
        return await self.apply(ctx, writer, step_no, replace(plan, step_finish=None))

    async def _aborted(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        message: AssistantMessage,
        usage: Usage,
    ) -> ModelStepResult:
        """An abort cut the call short. The executor ended the run in the store before it
        asked the stream to stop, so this step cannot commit: it drops what it had not
        written yet and keeps what readers saw, from the stream (as the executor does too,
        whichever comes first). A sub-agent writing into its parent's stream is stopped by
        its parent's abort before its own: it ends its run itself, with what it said."""
        run = self.rc
        if run.forwarded:
            plan = plan_stop(
                RunStatus.ABORTED, message, usage=usage, sequence=sequence, settle=False
            )
            try:
                return await self.apply(ctx, writer, step_no, plan)
            except ConflictError:
                writer.discard()  # the executor ended it first
                await run.report_end(RunStatus.ABORTED)
                return _final(RunStatus.ABORTED, sequence)
        writer.discard()
        await run.keep_streamed_answer(sequence)
        await run.report_end(RunStatus.ABORTED)
        return _final(RunStatus.ABORTED, sequence)

    async def close_after_failure(
        self, ctx: StepContext, step_no: int, sequence: int
    ) -> RunStatus | None:
        """For the run's fail step: :func:`.replay.close_after_failure`."""
        return await close_after_failure(self.rc, ctx, step_no, sequence)

    @property
    def _model_name(self) -> str:
        model = self.rc.agent.model
        return model if isinstance(model, str) else getattr(model, "name", type(model).__name__)


def _final(status: RunStatus, next_sequence: int) -> ModelStepResult:
    """The result of a step that found the run ended, or ended it outside a plan."""
    return ModelStepResult(final=True, status=status, next_sequence=next_sequence)
