"""The text a model step streamed before it was cut short, rebuilt from its stream.

A model step that is stopped mid-answer keeps what its readers saw. When the step itself
stops (an interrupt), it knows that text and stores it. When it cannot, the stream is the
record: an abort ends the run and terminates its instance from outside the step, and a
step that died mid-answer leaves only its chunks behind. Then the text is rebuilt here from
the chunk log, which holds exactly what readers were given (a superseded attempt's chunks
are hidden from reads), and stored as the step's assistant message.
"""

from __future__ import annotations

from ..chunks import (
    ReasoningDeltaChunk,
    RunEndChunk,
    SequencedChunk,
    TextDeltaChunk,
)
from ..errors import StreamClosedError, StreamNotFoundError
from ..messages import AssistantMessage
from ..ports.streams import StreamManager
from ..state import RunStatus
from ..store import StateStore

__all__ = ["keep_streamed_answer", "read_stream", "streamed_answer"]

#: Chunks per read: the port's largest page.
_PAGE = 1000
#: How far back an answer of the same step is looked for (one response's calls and more).
_RECENT = 500


async def read_stream(streams: StreamManager, stream_id: str) -> list[SequencedChunk]:
    """Every visible chunk of a stream, in order, without waiting."""
    chunks: list[SequencedChunk] = []
    after = 0
    while True:
        result = await streams.read(stream_id, after, 0.0, _PAGE)
        chunks += result.chunks
        if not result.chunks or result.chunks[-1].seq >= result.last_seq:
            return chunks
        after = result.chunks[-1].seq


def streamed_answer(
    chunks: list[SequencedChunk],
    *,
    message_id: str,
    step: int | None = None,
    below_attempt: int | None = None,
) -> AssistantMessage | None:
    """The answer readers saw of model step ``step`` (the last step that started, when
    None), from its live attempt (below ``below_attempt`` when given): its text and
    reasoning, no tool calls (a call cut short has no complete input). None when the step
    said nothing. Chunks a sub-agent forwarded into the stream are not the step's."""
    own = [c.chunk for c in chunks if c.chunk.source_session_id is None]
    if step is None:
        started = [c.step for c in own if c.type == "step-start" and c.step is not None]
        if not started:
            return None
        step = max(started)
    said = [
        c
        for c in own
        if c.step == step
        and isinstance(c, TextDeltaChunk | ReasoningDeltaChunk)
        and (below_attempt is None or (c.attempt or 0) < below_attempt)
    ]
    if not said:
        return None
    # A retry resets the attempts before it, so at most one attempt is left visible; the
    # latest one is the step's if a reset was lost.
    attempt = max(c.attempt or 0 for c in said)
    said = [c for c in said if (c.attempt or 0) == attempt]
    text = "".join(c.delta for c in said if isinstance(c, TextDeltaChunk))
    reasoning = "".join(c.delta for c in said if isinstance(c, ReasoningDeltaChunk))
    return AssistantMessage(
        content=text,
        reasoning=reasoning or None,
        id=message_id,
        step=step,
        finish_reason="other",
    )


async def keep_streamed_answer(
    store: StateStore,
    streams: StreamManager,
    *,
    session_id: str,
    run_id: str,
    stream_id: str,
    sequence: int,
    message_id: str,
) -> AssistantMessage | None:
    """After an abort ended the run in the store: end its stream if it is still open (the
    run's end, ``aborted``), then store what its readers saw of the model step the abort
    cut short, at ``sequence``, unless a message is stored there already (the step stored
    its own answer, or this ran twice). Reading after the stream's end means nothing can
    be added to it any more: the message and the readers' view are the same."""
    try:
        info = await streams.info(stream_id)
        if info is None:
            return None
        if info.status not in ("ended", "failed"):
            try:
                await streams.write(
                    stream_id,
                    [RunEndChunk(run_id=run_id, status=RunStatus.ABORTED.value)],
                    status="ended",
                )
            except StreamClosedError:
                pass  # ended meanwhile: its content is final either way
        chunks = await read_stream(streams, stream_id)
    except StreamNotFoundError:
        return None
    answer = streamed_answer(chunks, message_id=message_id)
    if answer is None:
        return None
    # The step may have stored its answer already (the abort came during its tools, or the
    # step itself kept its text first): after it come only its calls' results.
    recent = await store.load_messages(session_id, before=sequence + 1, limit=_RECENT)
    for _, message in recent:
        if isinstance(message, AssistantMessage) and (message.id, message.step) == (
            message_id,
            answer.step,
        ):
            return None
    if any(seq == sequence for seq, _ in recent):
        return None
    await store.append_message(session_id, sequence, answer)
    return answer
