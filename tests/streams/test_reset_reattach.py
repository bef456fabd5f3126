"""A reader that reattaches twice across two dead attempts of one model step keeps one
``step-start`` for the step (found by tests/worker_real/test_crash_real.py: a live SSE reader
of a run on the real Worker ended with two).

The log is the one a killed Worker left (two kills in a resumed instance's last model step):
attempt 1 streamed text; attempt 2 reset it, closed step 3 again, said ``start-step`` and
died; attempt 3 reset both, closed step 3 again and answered. The reader saw attempt 1, came
back during attempt 2 (shown the reset, the ``start-step`` left out), then after the second
kill came back with the last event id it got.
"""

from __future__ import annotations

from helix_agents.chunks import (
    RunStartChunk,
    SequencedChunk,
    StepEndChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
)
from helix_agents.streaming.ui import UIMessageEncoder, event_id
from tests.support.ui_message import UIMessageAssembler

LOG = [
    RunStartChunk(run_id="s--t1", turn=1, agent_type="a", message_id="s-t1"),
    StepStartChunk(step=3, attempt=1),
    StepEndChunk(step=3, finish_reason="tool-calls"),
    StepStartChunk(step=4, attempt=1),
    TextStartChunk(step=4, attempt=1, part_id="p1"),
    TextDeltaChunk(step=4, attempt=1, part_id="p1", delta="dead "),
    StepResetChunk(step=4, attempt=1, superseded_from=4),
    StepEndChunk(step=3, finish_reason="tool-calls"),
    StepStartChunk(step=4, attempt=2),
    StepResetChunk(step=4, attempt=1),
    StepResetChunk(step=4, attempt=2, superseded_from=9),
    StepEndChunk(step=3, finish_reason="tool-calls"),
    StepStartChunk(step=4, attempt=3),
    TextStartChunk(step=4, attempt=3, part_id="p3"),
    TextDeltaChunk(step=4, attempt=3, part_id="p3", delta="answer"),
    TextEndChunk(step=4, attempt=3, part_id="p3"),
    StepEndChunk(step=4, attempt=3, finish_reason="stop"),
]
ITEMS = [SequencedChunk(seq=n, chunk=chunk) for n, chunk in enumerate(LOG, start=1)]


def read(assembler: UIMessageAssembler, after: int, upto: int) -> int:
    """One connection: ``Last-Event-ID: after``, reading up to sequence ``upto`` (the
    Worker is killed then); the last event id it was sent."""
    assembler.encoder = UIMessageEncoder(after=after)
    cursor = after
    for item in ITEMS[after:upto]:
        ui = assembler.encoder.encode(item)
        if ui is not None:
            assembler.apply(ui)
            cursor = event_id(item)
    return cursor


def test_a_reader_back_twice_across_two_dead_attempts_has_one_step_start() -> None:
    client = UIMessageAssembler()
    cursor = read(client, 0, 6)  # attempt 1's text, then the first kill
    cursor = read(client, cursor, 9)  # attempt 2 said start-step, then the second kill
    read(client, cursor, len(ITEMS))
    assert client.message is not None
    kinds = [p["type"] for p in client.message["parts"]]
    assert kinds == ["step-start", "step-start", "text"], client.message["parts"]
    assert client.message["parts"][-1]["text"] == "answer"
