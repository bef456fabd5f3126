"""The platform-call counts of a scripted run (``benchmarks/cloudflare_platform_calls.py``, on
virtual time and a smaller script): the invariants that do not depend on the speed."""

from __future__ import annotations

import functools

import pytest
from benchmarks.cloudflare_platform_calls import scenario

from helix_agents.testing.cloudflare.virtual_time import run_virtual


@pytest.mark.parametrize("reader", [True, False])
def test_a_scripted_run_costs_a_bounded_number_of_calls(reader: bool) -> None:
    result = run_virtual(
        functools.partial(scenario, deltas=400, steps=8, tools=4, rate=500.0, reader=reader)
    )
    # One Workflow step per model call and per tool call, nothing else.
    assert (result["workflow_steps"], result["model_steps"], result["tool_steps"]) == (12, 8, 4)
    # One D1 statement to read and one to write per model step, one to write per tool step;
    # the first step's read brings the history too.
    assert result["max_d1_calls_per_agent_step"] == 3
    assert result["max_d1_statements_per_agent_step"] == 3
    # A tool step asks the stream whether a stop came (an empty write, for its ack) just
    # before its tool starts, then writes its output in one call. The last model step ends
    # the run's stream
    # with its last write (no call of its own), and costs no more than the others: 0.1 s of
    # streaming (50 deltas at 500/s), so at most 2 + 4/s with a reader, 2 + 1 per 2 s without.
    # Beside its model call, a model step waits for a stop in one call held open by the
    # object (wait_stop: one per 10 s of model call), instead of writing to learn of one.
    assert result["tool_step_do_calls"] == 2
    assert result["final_step_calls"] == {"write": 2, "wait_stop": 1}
    seconds = 400 / 8 / 500
    bound = 2 + (4 * seconds if reader else seconds / 2)
    assert result["max_writes_all_steps"] <= bound
    assert result["max_streaming_writes"] < 300
    if not reader:
        assert result["reader_calls"] == 2  # the executor's create and run-start write
    else:
        # The SSE response: the executor's create and run-start write, and one WebSocket
        # that follows all 8 steps.
        assert result["reader_do_subrequests"] == 3
