"""One model call, streamed: its parts on the stream, its tool calls named, a stop watched.

The model step (:mod:`.model_step`) calls :func:`call_model` once the run may go on; what
comes back is what the model said (all of it, or what it said before a stop cut it short),
its usage, and the stop seen during the call. Nothing here touches the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..chunks import (
    CustomDataChunk,
    ReasoningDeltaChunk,
    ReasoningEndChunk,
    ReasoningStartChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolInputAvailableChunk,
    ToolInputDeltaChunk,
    ToolInputStartChunk,
)
from ..errors import ModelError, ModelProtocolError, StreamError
from ..file_parts import load_files, reads_files, with_file_notes
from ..history import apply_history_processors, history_window
from ..ids import call_id_scope
from ..messages import AssistantMessage, Message, ToolCall
from ..models import require_model
from ..ports.model import (
    DataPart,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)
from ..ports.step import StepContext
from ..ports.streams import StopRequest
from ..tracing.calls import end_model_span, model_span
from ..usage import Usage
from .run_context import RunContext, call_ids_of
from .stream_writer import StreamWriter
from .summaries import bound_processors

__all__ = ["CallIds", "ModelCall", "call_model"]

#: The waits for a stop during a model call (seconds): the first, doubled after each
#: until the longest. When the call ends, the wait in progress is given up but may stay
#: open at the StreamManager until its timeout (a Durable Object's request cannot be
#: withdrawn, and keeps the object awake): short first waits keep that short after a
#: short call, doubling keeps a long call's waits few (about two a minute).
_FIRST_STOP_WAIT = 1.0
_LONGEST_STOP_WAIT = 30.0
#: The pause before waiting again when the stream manager could not be reached.
_STOP_RETRY = 1.0


def _stop_seen(writer: StreamWriter) -> StopRequest | None:
    # Read through a call: the checks before the model call narrowed the attribute to None
    # for mypy, which cannot know that the call's awaits set it.
    return writer.stop_requested


@dataclass(frozen=True)
class ModelCall:
    """A model call's outcome: the message (what was said, when cut short), its usage, a
    stop seen during it, and whether the stop ended it before the model was done."""

    message: AssistantMessage
    usage: Usage
    stop: StopRequest | None
    cut: bool
    #: The model that answered, when the agent's model delegates (a FallbackModel), and
    #: the models that failed before it (``"<name>: <error>"``).
    served_by: str | None = None
    failed_over: tuple[str, ...] = ()


async def call_model(
    run: RunContext,
    ctx: StepContext,
    writer: StreamWriter,
    step_no: int,
    history: list[Message],
    state: Any,
) -> ModelCall:
    """Stream one model call. The step's first write goes out just before the call, and
    an interrupt or abort its ack carries means the call is never made. During the
    call (from its second turn of the event loop: one that answers in its first needs
    none) a second task awaits the StreamManager's ``wait_stop``: a stop that arrives
    while the step waits on the model cancels the call at once (closing its HTTP
    stream); one that arrives while the step is writing ends the call right after that
    write. Either way the parts are closed and the message holds exactly the text and
    reasoning the writer was given.

    The writer comes in held (what the step queued before the call goes out in the one
    write just before it) and goes back held: what the step adds after the call waits for
    the step's own write (:meth:`.model_step.ModelStep.apply`)."""
    agent = run.agent
    model = run.deps.resolve_model(require_model(agent.name, agent.model))
    # The one place a request's history is shaped: the agent's processors, pure functions
    # of the stored messages (the same request on a replay); summarize_older's summary
    # comes from its own journaled step (core/summaries.py).
    processors = bound_processors(run)
    messages = apply_history_processors(processors, history)
    # Attached files: their bytes for a model that reads them, a note for one that does not.
    files: dict[str, bytes] = {}
    if not processors and run.files_in(history) is False:
        # The request's messages are the cached history's, which counts its messages with
        # files as they are added: none has any, so there is nothing to load or note, and
        # no reason to walk the whole history on every model call (O(run length)).
        pass
    elif reads_files(model):
        files = await load_files(run.deps.resources.services, messages)
    else:
        messages = with_file_notes(messages)
    request = ModelRequest(
        system=agent.render_system_prompt(state),
        messages=messages,
        tools=agent.tool_definitions(),
        settings=agent.model_settings,
        output_tool=agent.output_tool_name,
        files=files,
    )
    await writer.add(StepStartChunk())  # after this attempt's resets (execute)
    writer.release()
    await writer.flush()
    message = AssistantMessage(id=run.params.message_id, step=step_no, finish_reason="other")
    if writer.stop_requested is not None:
        writer.hold()
        return ModelCall(message, Usage(), writer.stop_requested, cut=True)
    params = run.params
    scope = call_id_scope(params.session_id, params.parent_session_id)
    if history_window(agent.history_processors) is not None:
        # The history was read as a window: the ids older calls took are unknown here, so
        # every call is named after its step too (unique in the session by construction).
        step_scope = f"t{params.turn}s{step_no}"
        scope = step_scope if scope is None else f"{scope}~{step_scope}"
    call_ids = CallIds(history, scope, used=run.call_ids_in(history))
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
                elif isinstance(event, DataPart):
                    await writer.add(CustomDataChunk(name=event.name, data=event.data))
                elif isinstance(event, ModelResponse):
                    response = event
                if writer.stop_requested is not None and response is None:
                    return None  # a stop came with a write: end the call here
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    span = model_span(run.tracer, model.name, key="model")
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

    # The watch starts once the call has had its first turn: a call that answers in that
    # turn (a scripted model, a cached answer) needs none, and one that waits on the
    # model is watched from the next turn of the loop, long before its first byte.
    watcher: asyncio.Future[None] | None = None

    def start_watch() -> None:
        nonlocal watcher
        if not task.done():
            watcher = asyncio.ensure_future(watch())

    asyncio.get_running_loop().call_soon(start_watch)
    try:
        response = await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not cut or (current is not None and current.cancelling()):
            raise
        response = None
    except ModelError as exc:
        end_model_span(run.tracer, span, error=exc)
        writer.discard()
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
    stop = _stop_seen(writer)  # set during the call (by an ack or the watch)
    # What the step adds from here (the last part's end, tool inputs, the step's tail)
    # waits for the step's one write of its tail.
    writer.hold()
    if response is None:
        if stop is None:
            raise ModelProtocolError("the model's stream ended without a response")
        end_model_span(run.tracer, span, finish_reason="other")
        # Stopped mid-stream: keep what was said so far (and streamed: the tail goes
        # out with the run's end).
        await parts.close()
        message.content = parts.text_so_far
        message.reasoning = parts.reasoning_so_far or None
        return ModelCall(message, Usage(requests=1), stop, cut=True)
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
    end_model_span(
        run.tracer,
        span,
        usage=usage,
        finish_reason=response.finish_reason,
        response_model=response.model_name,
        served_by=response.served_by,
        failed_over=response.failed_over,
    )
    message = response.to_message(step=step_no, id=run.params.message_id)
    message.tool_calls = call_ids.assign(message.tool_calls)
    return ModelCall(
        message,
        usage,
        stop,
        cut=False,
        served_by=response.served_by,
        failed_over=response.failed_over,
    )


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

    def __init__(
        self, history: list[Message], scope: str | None = None, *, used: set[str] | None = None
    ) -> None:
        """``used``: the ids ``history`` takes, when the caller keeps them (the run's
        :class:`.run_context.SessionHistory`, so a long run does not walk its history on
        every model call); read, never changed."""
        self.scope = scope
        if used is None:
            used = {i for message in history for i in call_ids_of(message)}
        self.used: set[str] = used

    def _ids(self, provider_ids: list[str]) -> list[str]:
        used = self.used
        taken: set[str] = set()  # this response's, beside the history's
        ours = []
        for provider_id in provider_ids:
            base = provider_id if self.scope is None else f"{provider_id}~{self.scope}"
            candidate, n = base, 0
            while candidate in used or candidate in taken:
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
