"""A turn's stream across its run instances, as the SSE routes serve it.

A turn runs as one instance (``{session}--t{turn}``) and, after each suspension or interrupt,
one more (``--r1``, ``--r2``...), each with its own chunk log from sequence 1. Its UI message
is one, though: every instance continues the same assistant message. So the SSE routes see
the turn as one stream:

- **Positions.** An event's ``id`` is the chunk's position in the turn: ``n * 10**9 + seq``
  for the chunk at sequence ``seq`` of the ``n``-th resume (``n = 0`` for the turn's first
  instance, whose ids are therefore its sequences). A position names its instance by itself,
  so a cursor works across instances and needs neither another instance's stream nor any
  state on the server.
- **Replays.** A reader that starts in an earlier instance is served that instance's rest,
  then every later one, as one response: the earlier instance's end (its ``finish``) and the
  later one's ``start`` are left out, so the client sees one message from one ``start`` to
  one ``finish``. The AI SDK requires this of a resumed stream: ``useChat`` (``resume:
  true``, and ``resumeStream()``) rebuilds the message from scratch at its first ``start``.

Earlier instances are read as they are stored, without waiting (they ended before the next
one began); the last one is followed live until it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final

from ..chunks import RunEndChunk, RunStartChunk, SequencedChunk, StepResetChunk
from ..errors import InvalidIdError
from ..ids import parse_instance_id
from ..ports.streams import StreamManager
from ..state import RunRecord
from ..store import StateStore
from ..streaming.follow import DEFAULT_POLL, aclose_iterator, follow_batches
from ..streaming.sse import encode_sse
from ..streaming.ui import UIVersion

__all__ = [
    "INSTANCE_STRIDE",
    "Instance",
    "instance_index",
    "position",
    "split_position",
    "turn_instances",
    "turn_sse",
]

#: The positions of one instance's chunks: ``index * INSTANCE_STRIDE + seq``.
INSTANCE_STRIDE: Final = 10**9


@dataclass(frozen=True)
class Instance:
    """One run instance of a turn: its run (and stream) id and its index in the turn."""

    run_id: str
    index: int


def instance_index(run_id: str) -> int:
    """0 for a turn's first instance, ``n`` for its ``n``-th resume (``--r{n}``)."""
    try:
        return parse_instance_id(run_id)[2]
    except InvalidIdError:
        return 0


def position(run_id: str, seq: int) -> int:
    """The turn position of sequence ``seq`` of instance ``run_id``."""
    return instance_index(run_id) * INSTANCE_STRIDE + seq


def split_position(value: int) -> tuple[int, int]:
    """``(instance index, sequence)`` of a turn position."""
    index, seq = divmod(value, INSTANCE_STRIDE)
    return index, seq


async def turn_instances(store: StateStore, run: RunRecord) -> list[Instance]:
    """The instances of ``run``'s turn up to ``run`` itself, oldest first."""
    upto = instance_index(run.run_id)
    found = {
        Instance(record.run_id, instance_index(record.run_id))
        for record in await store.list_runs(run.session_id)
        if record.turn == run.turn
    }
    found.add(Instance(run.run_id, upto))
    return sorted((i for i in found if i.index <= upto), key=lambda i: i.index)


def turn_sse(
    streams: StreamManager,
    instances: Sequence[Instance],
    after: int = 0,
    *,
    keep_alive: float = DEFAULT_POLL,
    ui_version: UIVersion = 6,
) -> AsyncIterator[bytes]:
    """The SSE body of a turn from after position ``after`` until its last instance in
    ``instances`` ends. ``instances`` starts with the one ``after`` falls in (or any later)."""
    batches = _turn_batches(streams, instances, after, poll=keep_alive)
    return encode_sse(batches, after=after, ui_version=ui_version)


async def _turn_batches(
    streams: StreamManager, instances: Sequence[Instance], after: int, *, poll: float
) -> AsyncIterator[list[SequencedChunk]]:
    """The instances' chunks as one stream of turn positions (see the module's docstring);
    an empty batch is an idle tick of the last instance."""
    start_index, start_seq = split_position(after)
    # Whether this response began inside an earlier instance: then the next instance's
    # start is left out (the client's message is still open), as is every earlier end.
    shown = False
    for number, instance in enumerate(instances):
        last = number == len(instances) - 1
        cursor = start_seq if instance.index == start_index else 0
        base = instance.index * INSTANCE_STRIDE
        if last:
            reader = follow_batches(streams, instance.run_id, cursor, poll=poll)
        else:
            reader = _stored(streams, instance.run_id, cursor)
        try:
            async for batch in reader:
                if not batch:
                    yield batch
                    continue
                out = [
                    _at(item, base)
                    for item in batch
                    if not (shown and _own(item, RunStartChunk))
                    and not (not last and _own(item, RunEndChunk))
                ]
                if not last:
                    shown = True
                if out:
                    yield out
        finally:
            await aclose_iterator(reader)


async def _stored(
    streams: StreamManager, stream_id: str, after: int
) -> AsyncIterator[list[SequencedChunk]]:
    """What an earlier instance's stream holds after ``after``, without waiting (a stream
    that is gone, or was never made, holds nothing)."""
    if await streams.info(stream_id) is None:
        return
    cursor = after
    while True:
        result = await streams.read(stream_id, after=cursor, timeout=0)
        if not result.chunks:
            return
        cursor = result.chunks[-1].seq
        yield result.chunks


def _own(item: SequencedChunk, kind: type) -> bool:
    """The instance's own chunk of ``kind`` (a sub-agent's run start and end travel in the
    same stream, as data for the client: they stay)."""
    return isinstance(item.chunk, kind) and item.chunk.agent is None


def _at(item: SequencedChunk, base: int) -> SequencedChunk:
    """``item`` at its turn position (a reset's ``superseded_from`` moves with it)."""
    if not base:
        return item
    chunk = item.chunk
    if isinstance(chunk, StepResetChunk) and chunk.superseded_from is not None:
        chunk = chunk.model_copy(update={"superseded_from": base + chunk.superseded_from})
    return SequencedChunk(seq=base + item.seq, chunk=chunk)
