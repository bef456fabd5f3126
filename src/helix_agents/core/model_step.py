"""The body of a model step: one LLM call, streamed and persisted.

In order: read the session (abort and interrupt flags included), reuse a response that an
earlier attempt already persisted (a crash between the write and the journal), else call the
model and stream its output, then write the assistant message, the results the step can
decide itself (unknown tools, the output tool, the step limit), usage and state in one go.
The step returns a compact :class:`ModelStepResult`; the messages are in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..agent import OUTPUT_TOOL_NAME
from ..chunks import (
    OutputChunk,
    ReasoningDeltaChunk,
    ReasoningEndChunk,
    ReasoningStartChunk,
    StepEndChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolApprovalRequestChunk,
    ToolInputAvailableChunk,
    ToolInputDeltaChunk,
    ToolInputStartChunk,
)
from ..errors import (
    ConflictError,
    ModelError,
    ModelHTTPError,
    ModelRateLimitedError,
    SessionNotFoundError,
    StreamError,
)
from ..ids import call_id_scope
from ..messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from ..ports.model import (
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)
from ..ports.step import StepContext
from ..ports.streams import StopRequest
from ..state import PendingToolCall, RunStatus, SessionState
from ..store import Outcome, Suspension
from ..tools import ToolArgumentsError
from ..usage import Usage
from . import limits
from .gating import gate_call, suspension_context
from .params import ModelStepResult, PlannedCall
from .partial import read_stream, streamed_answer
from .replay import decided_error_chunks, is_response_of, replay_response
from .run_context import RunContext
from .stream_writer import StreamWriter

__all__ = ["ModelStep"]

#: The waits for a stop during a model call (seconds): the first, doubled after each
#: until the longest. When the call ends, the wait in progress is given up but may stay
#: open at the StreamManager until its timeout (a Durable Object's request cannot be
#: withdrawn, and keeps the object awake): short first waits keep that short after a
#: short call, doubling keeps a long call's waits few (about two a minute).
_FIRST_STOP_WAIT = 1.0
_LONGEST_STOP_WAIT = 30.0
#: The pause before waiting again when the stream manager could not be reached.
_STOP_RETRY = 1.0


class ModelStep:
    def __init__(self, run: RunContext) -> None:
        self.rc = run

    async def execute(
        self, ctx: StepContext, *, step_no: int, sequence: int, used: Usage | None = None
    ) -> dict[str, Any]:
        """``used``: what this turn used before this step (for the agent's usage limits)."""
        used = used or Usage()
        run = self.rc
        run.executed.add(ctx.name)
        store = run.deps.store
        session_id = run.params.session_id

        # One read: the run's status, the session (flags, custom state), whatever an
        # earlier attempt already stored at this step's sequence, and the history when this
        # process does not hold it yet.
        view = await store.step_view(
            session_id,
            run.params.run_id,
            sequence=sequence,
            history_before=sequence if run.history is None else None,
        )
        if view.state is None:
            raise SessionNotFoundError(f"session {session_id!r} does not exist")
        if view.run_status != RunStatus.ACTIVE:
            # Someone else (abort, supersede), or an earlier attempt of this step that died
            # before the journal recorded it, already ended this run: write nothing, but
            # make sure a parent heard of the end (reporting it twice is harmless).
            ended = view.run_status or RunStatus.ABORTED
            await self._close_stream_of_ended_run(
                ctx, ended, view.state, step_no, sequence, view.existing
            )
            await run.report_end(ended)
            return _final(ended, sequence)
        state = view.state
        if view.history is not None:
            run.history = dict(view.history)
        if run.custom_state is None:
            run.custom_state = dict(state.custom_state)
        if state.aborted:
            await run.finish(RunStatus.ABORTED, step=ctx, finish_reason="other")
            return _final(RunStatus.ABORTED, sequence)
        if view.interrupt_requested:
            return await self._interrupted_at_start(ctx, step_no, sequence, view.existing)

        writer = run.writer(step=step_no, attempt=ctx.attempt)
        # Everything up to the model call goes out in one write, just before the call: its
        # ack is the last word on a stop before the call starts (:meth:`_call_model`).
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
                return await self._fail_now(
                    ctx,
                    writer,
                    step_no,
                    sequence,
                    refused,
                    limits.FAILURE_REASON,
                    settle=self._settles(step_no),
                )
            history = await run.messages_before(sequence)
            try:
                call = await self._call_model(ctx, writer, step_no, history, state)
            except ModelHTTPError as exc:
                if isinstance(exc, ModelRateLimitedError):
                    raise  # the step's retries may outlast the rate limit
                # The provider refused the request itself (bad model, bad key, bad input):
                # retrying cannot help, so the run fails now with the provider's words.
                error = f"{self._model_name}: {exc}"
                return await self._fail_now(ctx, writer, step_no, sequence, error, exc.code)
            message, usage = call.message, call.usage
            if call.stop == "abort":
                return await self._aborted(ctx, writer, step_no, sequence, message, usage)
            if call.stop == "interrupt" and (call.cut or not message.tool_calls):
                # Cut short, or a last answer given after the interrupt came: the run stops
                # here with what was said. (A complete response that asks for tools is
                # saved as it is below; its calls run when the run is resumed.)
                return await self._interrupted(ctx, writer, step_no, sequence, message, usage)
        return await self._decide(ctx, writer, step_no, sequence, message, usage, used)

    async def _interrupted(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        message: AssistantMessage | None,
        usage: Usage,
    ) -> dict[str, Any]:
        """End the run ``interrupted`` with what the model said before the stop (possibly
        nothing), as the step's one write; then the stream's tail and end in one write.
        A crash between the two leaves the run ended with its answer stored: the retry
        streams that answer again (:meth:`_close_stream_of_ended_run`)."""
        rows: list[tuple[int, Message]] = []
        if message is not None and (message.content or message.reasoning):
            message.tool_calls = []
            rows = [(sequence, message)]
        await writer.add(StepEndChunk(finish_reason="other"))
        await self._commit(
            ctx,
            writer,
            rows,
            step_no,
            usage,
            Outcome(RunStatus.INTERRUPTED),
            settle=self._settles(step_no),
            stream_first=False,
        )
        await self.rc.end_stream(RunStatus.INTERRUPTED, writer=writer, finish_reason="other")
        return _final(RunStatus.INTERRUPTED, sequence + len(rows))

    async def _interrupted_at_start(
        self, ctx: StepContext, step_no: int, sequence: int, existing: Message | None
    ) -> dict[str, Any]:
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
        await self._commit(
            ctx,
            writer,
            [(sequence, answer)],
            step_no,
            Usage(requests=1),
            Outcome(RunStatus.INTERRUPTED),
            settle=self._settles(step_no),
            stream_first=False,
        )
        await replay_response(
            run,
            writer,
            answer,
            step_no=step_no,
            attempt=ctx.attempt,
            status=RunStatus.INTERRUPTED,
            pending=[],
        )
        await run.end_stream(RunStatus.INTERRUPTED, writer=writer, finish_reason="other")
        return _final(RunStatus.INTERRUPTED, sequence + 1)

    async def _aborted(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        message: AssistantMessage,
        usage: Usage,
    ) -> dict[str, Any]:
        """An abort cut the call short. The executor ended the run in the store before it
        asked the stream to stop, so this step cannot commit: it drops what it had not
        written yet and keeps what readers saw, from the stream (as the executor does too,
        whichever comes first). A sub-agent writing into its parent's stream is stopped by
        its parent's abort before its own: it ends its run itself, with what it said."""
        run = self.rc
        if run.forwarded:
            message.tool_calls = []
            try:
                await self._commit(
                    ctx,
                    writer,
                    [(sequence, message)] if message.content or message.reasoning else [],
                    step_no,
                    usage,
                    Outcome(RunStatus.ABORTED),
                    stream_first=False,
                )
            except ConflictError:
                writer.discard()  # the executor ended it first
                await run.report_end(RunStatus.ABORTED)
                return _final(RunStatus.ABORTED, sequence)
            await run.end_stream(RunStatus.ABORTED, writer=writer, finish_reason="other")
            return _final(RunStatus.ABORTED, sequence + 1)
        writer.discard()
        await run.keep_streamed_answer(sequence)
        await run.report_end(RunStatus.ABORTED)
        return _final(RunStatus.ABORTED, sequence)

    async def _fail_now(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        error: str,
        reason: str,
        *,
        settle: bool = False,
    ) -> dict[str, Any]:
        """End the run ``failed`` from inside this step, where retrying cannot help (a usage
        limit reached, the provider refusing the request): the outcome in the step's one
        write, then the stream's end."""
        await self._commit(
            ctx,
            writer,
            [],
            step_no,
            Usage(),
            Outcome(RunStatus.FAILED, None, error, reason),
            settle=settle,
            stream_first=False,
        )
        await self.rc.end_stream(
            RunStatus.FAILED,
            writer=writer,
            error=error,
            failure_reason=reason,
            finish_reason="error",
        )
        failed = _final(RunStatus.FAILED, sequence)
        failed["error"] = error
        return failed

    async def _close_stream_of_ended_run(
        self,
        ctx: StepContext,
        status: RunStatus,
        state: SessionState,
        step_no: int,
        sequence: int,
        existing: Message | None,
        *,
        attempt: int | None = None,
    ) -> None:
        """An earlier attempt of this step committed the run's end, then died before the
        write that carries the stream's tail and end (or someone else ended the run): write
        them now, or readers would wait on a stream that never ends, and miss the tail.

        When the response this step stored ended the run, the stream gets it again, whole,
        as this attempt, after resets of the earlier ones (:mod:`.replay`): readers see it
        exactly once however much of it the dead attempt wrote. A stream already ended (by
        that attempt, or by an abort) is left alone; so is a parent's stream this run writes
        into, unless there is a response to replay (the resets void whatever the dead
        attempt wrote there, its end included). An abort that ended the run without
        ending its stream (the executor died in between) leaves the text readers saw of
        this step to be kept from the stream, as the executor would have."""
        run = self.rc
        response = existing
        if not is_response_of(run, response, step_no):
            response = None
        if run.forwarded:
            if response is None:
                return
        elif not await run.stream_is_open():
            return
        if status == RunStatus.ABORTED and response is None and not run.forwarded:
            await run.keep_streamed_answer(sequence)
            return
        attempt = attempt or ctx.attempt
        writer = run.writer(step=step_no, attempt=attempt)
        writer.hold()
        if isinstance(response, AssistantMessage):
            results = []
            if response.tool_calls:
                # The repair's one extra read: the results the step stored with it.
                stored = await run.deps.store.load_messages(
                    run.params.session_id,
                    after=sequence,
                    before=sequence + 1 + len(response.tool_calls),
                )
                results = [message for _, message in stored]
            await replay_response(
                run,
                writer,
                response,
                step_no=step_no,
                attempt=attempt,
                status=status,
                pending=state.pending_client_tool_calls,
                results=results,
            )
        await run.end_stream_of_ended_run(status, state, writer=writer)

    async def close_after_failure(
        self, ctx: StepContext, step_no: int, sequence: int
    ) -> RunStatus | None:
        """For the run's fail step, after step ``step_no`` failed for good: if that step had
        ended the run (its commit landed, the stream's last write never did), give the
        stream that end, with the stored answer streamed again after resets of every
        attempt the step made, and return the status; None when the run is still active
        (the failure is the run's to record)."""
        run = self.rc
        view = await run.deps.store.step_view(
            run.params.session_id, run.params.run_id, sequence=sequence
        )
        status = view.run_status
        if status is None or status == RunStatus.ACTIVE or view.state is None:
            return None
        chunks = await read_stream(run.deps.streams, run.params.stream_id)
        made = max((c.chunk.attempt or 0 for c in chunks if c.chunk.step == step_no), default=0)
        await self._close_stream_of_ended_run(
            ctx, status, view.state, step_no, sequence, view.existing, attempt=made + 1
        )
        await run.report_end(status)
        return status

    # -- the model call ------------------------------------------------------------------

    @property
    def _model_name(self) -> str:
        model = self.rc.agent.model
        return model if isinstance(model, str) else getattr(model, "name", type(model).__name__)

    async def _call_model(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        history: list[Message],
        state: Any,
    ) -> _Call:
        """Stream one model call. The step's first write goes out just before the call, and
        an interrupt or abort its ack carries means the call is never made. During the
        call a second task awaits the StreamManager's ``wait_stop``: a stop that arrives
        while the step waits on the model cancels the call at once (closing its HTTP
        stream); one that arrives while the step is writing ends the call right after that
        write. Either way the parts are closed and the message holds exactly the text and
        reasoning the writer was given."""
        run = self.rc
        agent = run.agent
        model = run.deps.resolve_model(agent.model)
        request = ModelRequest(
            system=agent.render_system_prompt(state),
            messages=history,
            tools=agent.tool_definitions(),
            settings=agent.model_settings,
            output_tool=agent.output_tool_name,
        )
        await writer.add(StepStartChunk())  # after this attempt's resets (execute)
        writer.release()
        await writer.flush()
        message = AssistantMessage(id=run.params.message_id, step=step_no, finish_reason="other")
        if writer.stop_requested is not None:
            writer.hold()
            return _Call(message, Usage(), writer.stop_requested, cut=True)
        params = run.params
        call_ids = CallIds(history, call_id_scope(params.session_id, params.parent_session_id))
        parts = _PartTracker(
            writer, f"{run.params.message_id}-{step_no}-{ctx.attempt}", call_ids.streamed()
        )
        waiting = False
        cut = False

        async def consume() -> ModelResponse | None:
            nonlocal waiting
            response: ModelResponse | None = None
            events = model.stream(request)
            try:
                while True:
                    waiting = True
                    try:
                        event = await events.__anext__()
                    except StopAsyncIteration:
                        return response
                    finally:
                        waiting = False
                    if isinstance(event, TextDelta):
                        await parts.text(event.text)
                    elif isinstance(event, ReasoningDelta):
                        await parts.reasoning(event.text)
                    elif isinstance(event, ToolCallDelta):
                        await parts.tool_delta(event)
                    elif isinstance(event, ModelResponse):
                        response = event
                    if writer.stop_requested is not None and response is None:
                        return None  # a stop came with a write: end the call here
            finally:
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()

        task = asyncio.ensure_future(consume())

        async def watch() -> None:
            # Beside the call, one wait for a stop: the StreamManager pushes it here the
            # moment it is requested, whether or not the model is saying anything (no
            # writes to poll with, so a silent call leaves the stream's object idle).
            nonlocal cut
            wait = _FIRST_STOP_WAIT
            while True:
                try:
                    kind = await run.deps.streams.wait_stop(writer.stream_id, wait)
                except StreamError:
                    # The stream manager is unreachable for now: acks of the call's
                    # writes still carry a stop; try again shortly.
                    await asyncio.sleep(_STOP_RETRY)
                    continue
                if kind is not None:
                    break
                wait = min(2 * wait, _LONGEST_STOP_WAIT)
            writer.note_stop(kind)
            # Cancel only while the call waits on the model: a write in flight finishes,
            # and consume() sees the stop right after it.
            if waiting and not task.done():
                cut = True
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            response = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not cut or (current is not None and current.cancelling()):
                raise
            response = None
        except ModelError:
            writer.discard()
            raise
        finally:
            watcher.cancel()
        stop = _stop_seen(writer)  # set during the call (by an ack or the watch)
        # What the step adds from here (the last part's end, tool inputs, the step's end,
        # the run's end) goes out with its flush before the commit or, when the step ends
        # the run, with the one write after it.
        writer.hold()
        if response is None:
            if stop is None:
                from ..errors import ModelProtocolError

                raise ModelProtocolError("the model's stream ended without a response")
            # Stopped mid-stream: keep what was said so far (and streamed: the tail goes
            # out with the run's end).
            await parts.close()
            message.content = parts.text_so_far
            message.reasoning = parts.reasoning_so_far or None
            return _Call(message, Usage(requests=1), stop, cut=True)
        await parts.close()
        for call in call_ids.assign(response.tool_calls):
            if call.id not in parts.started_tools:
                await writer.add(ToolInputStartChunk(tool_call_id=call.id, tool_name=call.name))
            tool = run.agent.get_tool(call.name)
            await writer.add(
                ToolInputAvailableChunk(
                    tool_call_id=call.id,
                    tool_name=call.name,
                    input=call.arguments,
                    client=True if tool is not None and tool.execute == "client" else None,
                )
            )
        usage = response.usage.model_copy()
        usage.requests = max(usage.requests, 1)
        message = response.to_message(step=step_no, id=run.params.message_id)
        message.tool_calls = call_ids.assign(message.tool_calls)
        return _Call(message, usage, stop, cut=False)

    # -- deciding what comes next ----------------------------------------------------------

    async def _decide(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        message: AssistantMessage,
        usage: Usage,
        used: Usage,
    ) -> dict[str, Any]:
        run = self.rc
        agent = run.agent
        to_write: list[Message] = [message]
        runnable: list[PlannedCall] = []
        gated: list[tuple[PlannedCall, PendingToolCall]] = []
        output: Any = None
        output_given = False
        output_error: str | None = None
        at_limit = step_no >= agent.max_steps
        now = run.deps.clock()

        for index, call in enumerate(message.tool_calls):
            seq = sequence + 1 + index
            tool = agent.get_tool(call.name)
            if agent.output_type is not None and call.name == OUTPUT_TOOL_NAME:
                if output_given:
                    to_write.append(_result(call, "Ignored: the final result was already given."))
                    continue
                try:
                    output = agent.validate_output(call.arguments)
                    output_given = True
                    to_write.append(_result(call, "Final result accepted."))
                except ToolArgumentsError as exc:
                    output_error = exc.message
                    to_write.append(_result(call, exc.message, status="error"))
            elif tool is None:
                known = ", ".join(sorted(agent.tool_map)) or "none"
                to_write.append(
                    _result(call, f"Unknown tool {call.name!r}. Available tools: {known}.", "error")
                )
            else:
                item = PlannedCall(call=call, sequence=seq)
                gate = await gate_call(run, tool, call, writer, step_no, now)
                if isinstance(gate, ToolResultMessage):
                    to_write.append(gate)
                elif gate is not None:
                    gated.append((item, gate))
                    to_write.append(_placeholder(call))
                else:
                    runnable.append(item)
                    to_write.append(_placeholder(call))
        next_sequence = sequence + 1 + len(message.tool_calls)
        unrun = runnable + [item for item, _ in gated]

        def not_run(reason: str) -> None:
            for item in unrun:
                to_write[item.sequence - sequence] = _result(item.call, reason, "error")

        # A limit is checked against this response too, whatever it says: the tokens are
        # spent, and the run must not go on (or be reported as within its limits).
        over = limits.after_response(agent.usage_limits, used + usage, len(unrun))
        if output_given and over is None:
            # The output tool ends the run; other calls of the same response are not run.
            not_run("Not executed: the final result was given.")
            return await self._end(
                ctx, writer, step_no, sequence, to_write, usage, RunStatus.COMPLETED, output=output
            )
        if not message.tool_calls and output_error is None and over is None:
            if agent.output_type is None:
                return await self._end(
                    ctx,
                    writer,
                    step_no,
                    sequence,
                    to_write,
                    usage,
                    RunStatus.COMPLETED,
                    output=message.content,
                )
            # Structured output was required but the model answered in text: ask again.
            to_write.append(
                UserMessage(
                    content=f"Please give your final answer by calling the {OUTPUT_TOOL_NAME} tool."
                )
            )
            next_sequence = sequence + 2
        if at_limit or over is not None:
            if at_limit:
                error = f"The agent reached its limit of {agent.max_steps} steps without finishing."
                reason = "max_steps"
                not_run("Not executed: the agent reached its step limit.")
            else:
                assert over is not None
                error, reason = over, limits.FAILURE_REASON
                not_run("Not executed: the agent reached a usage limit.")
            return await self._end(
                ctx,
                writer,
                step_no,
                sequence,
                to_write,
                usage,
                RunStatus.FAILED,
                error=error,
                failure_reason=reason,
            )

        settle = self._settles(step_no)
        suspension: Suspension | None = None
        rows = [(sequence + i, m) for i, m in enumerate(to_write) if not _is_placeholder(m)]
        for chunk in decided_error_chunks(run, message, to_write):
            await writer.add(chunk)
        if gated:
            pending = [entry for _, entry in gated]
            for entry in pending:
                if entry.approval_id is not None:
                    await writer.add(
                        ToolApprovalRequestChunk(
                            tool_call_id=entry.tool_call_id, approval_id=entry.approval_id
                        )
                    )
            status = (
                RunStatus.SUSPENDED_STEP_PARTIAL if runnable else RunStatus.SUSPENDED_CLIENT_TOOL
            )
            suspension = Suspension(suspension_context(run, status, step_no, pending), pending)
            if not runnable:
                # Nothing runs now: the run returns at this boundary, in this same write.
                await writer.add(StepEndChunk(finish_reason="tool-calls"))
                await self._commit(
                    ctx,
                    writer,
                    rows,
                    step_no,
                    usage,
                    Outcome(status),
                    suspension=suspension,
                    settle=settle,
                    stream_first=False,
                )
                await run.end_stream(status, writer=writer, finish_reason="tool-calls")
                return _final(status, next_sequence)
        if not runnable:
            await writer.add(StepEndChunk(finish_reason=message.finish_reason or "stop"))
        # Placeholders are not written: tool steps write their own results.
        await self._commit(
            ctx, writer, rows, step_no, usage, None, suspension=suspension, settle=settle
        )
        if writer.stop_requested == "interrupt":
            # Interrupt arrived during the call (the stream's acks carry it): the response
            # is saved; its tools run when the run is resumed. One that arrives after the
            # last ack is seen by the next step's read.
            await run.finish(
                RunStatus.INTERRUPTED,
                step=ctx,
                writer=writer,
                finish_reason="other",
                step_count=step_no,
            )
            return _final(RunStatus.INTERRUPTED, next_sequence)
        await writer.flush()
        return ModelStepResult(
            final=False,
            tool_calls=runnable,
            next_sequence=next_sequence,
            waiting_calls=[entry.tool_call_id for _, entry in gated],
            usage=usage,
        ).to_dict()

    def _settles(self, step_no: int) -> bool:
        """The first model step of an instance runs once every call of the previous response
        has its result: whatever suspension led here is settled, cleared in its write."""
        return step_no == self.rc.params.start_step

    async def _end(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        step_no: int,
        sequence: int,
        to_write: list[Message],
        usage: Usage,
        status: RunStatus,
        *,
        output: Any = None,
        error: str | None = None,
        failure_reason: str | None = None,
    ) -> dict[str, Any]:
        run = self.rc
        first = to_write[0] if to_write else None
        if isinstance(first, AssistantMessage):
            for chunk in decided_error_chunks(run, first, to_write):
                await writer.add(chunk)
        await writer.add(StepEndChunk(finish_reason=message_finish(to_write)))
        rows = [(sequence + i, m) for i, m in enumerate(to_write)]
        await self._commit(
            ctx,
            writer,
            rows,
            step_no,
            usage,
            Outcome(status, output, error, failure_reason),
            settle=self._settles(step_no),
            stream_first=False,
        )
        if status == RunStatus.COMPLETED and run.agent.output_type is not None:
            await writer.add(OutputChunk(output=output))
        await run.end_stream(
            status,
            writer=writer,
            error=error,
            failure_reason=failure_reason,
            finish_reason="stop" if status == RunStatus.COMPLETED else "error",
        )
        result = _final(status, sequence + len(to_write))
        result["output"] = output
        result["error"] = error
        return result

    async def _commit(
        self,
        ctx: StepContext,
        writer: StreamWriter,
        rows: list[tuple[int, Message]],
        step_no: int,
        usage: Usage,
        outcome: Outcome | None,
        *,
        suspension: Suspension | None = None,
        settle: bool = False,
        stream_first: bool = True,
    ) -> None:
        """The step's one write: messages, step count, usage, the outcome if final, a
        suspension, or forgetting the settled one that led to this instance.

        With ``stream_first`` the stream gets everything the step said before the commit: a
        retry after a crash between the two reuses the stored message without streaming it
        again, so the stream must already hold it. A step that ends the run streams after
        the commit instead, its last chunks and the stream's end in one write; its retry
        streams the stored answer again (:meth:`_close_stream_of_ended_run`)."""
        run = self.rc
        if stream_first:
            await writer.flush()
        await run.deps.store.commit_model_step(
            run.params.session_id,
            run.params.run_id,
            rows,
            step_count=step_no,
            usage=run.usage_record(ctx.name, usage, kind="model", model=self._model_name),
            outcome=outcome,
            suspension=suspension,
            settle=settle,
        )
        run.remember(rows)


@dataclass
class _Call:
    """A model call's outcome: the message (what was said, when cut short), its usage, a
    stop seen during it, and whether the stop ended it before the model was done."""

    message: AssistantMessage
    usage: Usage
    stop: StopRequest | None
    cut: bool


class CallIds:
    """Tool call ids unique within the session, deterministically.

    Some providers number their calls per response (``call_0`` in every step): two calls of
    one session would then share an id, and the snapshot, the stream and the step names
    would mix them up. A call keeps the provider's id unless an earlier message of the
    session (``history``) or an earlier call of this response has it; then it becomes
    ``{id}~{n}`` with the smallest free ``n`` and keeps the provider's id in
    ``provider_id``. The ids depend only on the history and the response, so a step that
    reuses its stored response, or a retry that gets the same answer, names the calls the
    same way. A child session's calls are ``{id}~{scope}`` (``ids.call_id_scope``): unique in
    its parent's hierarchy too."""

    def __init__(self, history: list[Message], scope: str | None = None) -> None:
        self.scope = scope
        self.used: set[str] = set()
        for message in history:
            if isinstance(message, AssistantMessage):
                self.used.update(call.id for call in message.tool_calls)
                self.used.update(
                    call.provider_id for call in message.tool_calls if call.provider_id
                )
            elif isinstance(message, ToolResultMessage):
                self.used.add(message.tool_call_id)

    def _ids(self, provider_ids: list[str]) -> list[str]:
        taken = set(self.used)
        ours = []
        for provider_id in provider_ids:
            base = provider_id if self.scope is None else f"{provider_id}~{self.scope}"
            candidate, n = base, 0
            while candidate in taken:
                n += 1
                candidate = f"{base}~{n}"
            taken.add(candidate)
            ours.append(candidate)
        return ours

    def assign(self, calls: list[ToolCall]) -> list[ToolCall]:
        """``calls`` (one response's, in order) with ids unique within the session."""
        ours = self._ids([call.id for call in calls])
        return [
            call
            if new == call.id
            else call.model_copy(update={"id": new, "provider_id": call.provider_id or call.id})
            for call, new in zip(calls, ours, strict=True)
        ]

    def streamed(self) -> Callable[[list[str]], str]:
        """For the streamed deltas: the id of the next call given the provider's ids of the
        calls started so far (the last one being the new call)."""
        return lambda provider_ids: self._ids(provider_ids)[-1]


class _PartTracker:
    """Opens and closes text / reasoning parts and tool-input streams as deltas arrive."""

    def __init__(
        self, writer: StreamWriter, prefix: str, call_id: Callable[[list[str]], str]
    ) -> None:
        self.writer = writer
        self.prefix = prefix
        self.call_id = call_id
        self._provider_ids: list[str] = []
        self.count = 0
        self.open_kind: str | None = None
        self.open_id: str | None = None
        self.text_so_far = ""
        self.reasoning_so_far = ""
        self.started_tools: set[str] = set()
        self._tool_ids: dict[int, str] = {}

    async def _open(self, kind: str) -> str:
        if self.open_kind == kind and self.open_id is not None:
            return self.open_id
        await self.close()
        self.count += 1
        self.open_kind = kind
        self.open_id = f"{self.prefix}-{self.count}"
        if kind == "text":
            await self.writer.add(TextStartChunk(part_id=self.open_id))
        else:
            await self.writer.add(ReasoningStartChunk(part_id=self.open_id))
        return self.open_id

    async def text(self, delta: str) -> None:
        if not delta:
            return
        part = await self._open("text")
        self.text_so_far += delta
        await self.writer.add(TextDeltaChunk(part_id=part, delta=delta))

    async def reasoning(self, delta: str) -> None:
        if not delta:
            return
        part = await self._open("reasoning")
        self.reasoning_so_far += delta
        await self.writer.add(ReasoningDeltaChunk(part_id=part, delta=delta))

    async def tool_delta(self, event: ToolCallDelta) -> None:
        await self.close()
        if event.id is not None and event.index not in self._tool_ids:
            self._provider_ids.append(event.id)
            started = self.call_id(self._provider_ids)
            self._tool_ids[event.index] = started
            self.started_tools.add(started)
            await self.writer.add(
                ToolInputStartChunk(tool_call_id=started, tool_name=event.name or "")
            )
        call_id = self._tool_ids.get(event.index)
        if call_id is not None and event.arguments_delta:
            await self.writer.add(
                ToolInputDeltaChunk(tool_call_id=call_id, delta=event.arguments_delta)
            )

    async def close(self) -> None:
        if self.open_id is None:
            return
        if self.open_kind == "text":
            await self.writer.add(TextEndChunk(part_id=self.open_id))
        else:
            await self.writer.add(ReasoningEndChunk(part_id=self.open_id))
        self.open_kind = self.open_id = None


_PLACEHOLDER = "__helix_pending__"


def _placeholder(call: ToolCall) -> ToolResultMessage:
    return ToolResultMessage(tool_call_id=call.id, tool_name=call.name, content=_PLACEHOLDER)


def _is_placeholder(message: Message) -> bool:
    return isinstance(message, ToolResultMessage) and message.content == _PLACEHOLDER


def _result(call: ToolCall, content: Any, status: str = "success") -> ToolResultMessage:
    return ToolResultMessage(
        tool_call_id=call.id,
        tool_name=call.name,
        content=content,
        status=status,
    )


def message_finish(messages: list[Message]) -> str:
    first = messages[0] if messages else None
    if isinstance(first, AssistantMessage) and first.finish_reason:
        return first.finish_reason
    return "stop"


def _stop_seen(writer: StreamWriter) -> StopRequest | None:
    return writer.stop_requested


def _final(status: RunStatus, next_sequence: int) -> dict[str, Any]:
    return ModelStepResult(final=True, status=status.value, next_sequence=next_sequence).to_dict()
