"""The model step's plan (core/plan.py) from plain values: no store, no stream, no model."""

from __future__ import annotations

import pytest

from helix_agents import Agent, tool
from helix_agents.agent import OUTPUT_TOOL_NAME, UsageLimits
from helix_agents.core.params import PlannedCall
from helix_agents.core.plan import (
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
from helix_agents.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from helix_agents.state import PendingToolCall, RunStatus
from helix_agents.store import Outcome
from helix_agents.testing import TestModel
from helix_agents.usage import Usage

RULES = Rules(max_steps=10, usage_limits=None, output_required=False, tool_names=("add", "ask"))
USED = Usage(requests=1, total_tokens=10)
SPENT = Usage(requests=1, total_tokens=5)


def response(*names: str, content: str = "", finish: str | None = "tool-calls") -> AssistantMessage:
    calls = [ToolCall(id=f"c{i}", name=name, arguments={"x": i}) for i, name in enumerate(names)]
    return AssistantMessage(
        content=content, tool_calls=calls, id="m1", step=2, finish_reason=finish
    )


def pending(call_id: str, *, approval: bool = True) -> PendingToolCall:
    return PendingToolCall(
        tool_call_id=call_id,
        tool_name="ask",
        kind="approval" if approval else "client",
        approval_id=f"a-{call_id}" if approval else None,
        step=2,
    )


def plan(
    message: AssistantMessage,
    verdicts: list[Verdict],
    *,
    step_no: int = 2,
    rules: Rules = RULES,
    settle: bool = False,
) -> ModelStepPlan:
    return plan_response(
        message,
        verdicts,
        usage=SPENT,
        used=USED,
        step_no=step_no,
        sequence=7,
        rules=rules,
        settle=settle,
    )


def results(p: ModelStepPlan) -> dict[int, tuple[object, str]]:
    return {seq: (m.content, m.status) for seq, m in p.rows if isinstance(m, ToolResultMessage)}


def test_a_text_answer_completes_the_run_with_its_text():
    message = response(content="4", finish="stop")
    p = plan(message, [])
    assert p.ends_run
    assert p.rows == ((7, message),)
    assert p.outcome == Outcome(RunStatus.COMPLETED, "4")
    assert (p.step_finish, p.run_finish, p.output_chunk) == ("stop", "stop", False)
    assert p.result.final
    assert p.result.status is RunStatus.COMPLETED
    assert (p.result.output, p.result.next_sequence) == ("4", 8)
    assert p.usage == SPENT


def test_server_calls_run_next_and_leave_the_step_open_for_their_outputs():
    message = response("add", "add")
    p = plan(message, [Runs(), Runs()], settle=True)
    assert not p.ends_run
    # The response only: each tool step writes its call's result at its own sequence.
    assert p.rows == ((7, message),)
    assert p.result.tool_calls == [
        PlannedCall(call=message.tool_calls[0], sequence=8),
        PlannedCall(call=message.tool_calls[1], sequence=9),
    ]
    assert (p.result.final, p.result.next_sequence, p.result.usage) == (False, 10, SPENT)
    assert p.step_finish is None
    assert p.suspension is None
    assert p.settle


def test_unknown_and_refused_calls_are_answered_in_the_step_and_the_run_goes_on():
    message = response("nope", "ask")
    p = plan(message, [Unknown(), Refused("x must be a string")])
    assert results(p) == {
        8: ("Unknown tool 'nope'. Available tools: add, ask.", "error"),
        9: ("x must be a string", "error"),
    }
    assert not p.ends_run
    assert p.result.tool_calls == []
    assert p.result.next_sequence == 10
    # No tool step follows: the step closes its part itself.
    assert p.step_finish == "tool-calls"


def test_calls_that_all_wait_suspend_the_run_in_the_same_write():
    message = response("ask", "ask")
    waits = [pending("c0"), pending("c1", approval=False)]
    p = plan(message, [Waits(waits[0]), Waits(waits[1])])
    assert p.ends_run
    assert p.outcome == Outcome(RunStatus.SUSPENDED_CLIENT_TOOL)
    assert p.suspension is RunStatus.SUSPENDED_CLIENT_TOOL
    assert p.waiting == tuple(waits)
    assert p.rows == ((7, message),)
    assert (p.step_finish, p.run_finish) == ("tool-calls", "tool-calls")
    assert p.result.status is RunStatus.SUSPENDED_CLIENT_TOOL
    assert p.result.next_sequence == 10


def test_a_mixed_response_runs_its_server_calls_then_suspends():
    message = response("add", "ask")
    wait = pending("c1")
    p = plan(message, [Runs(), Waits(wait)])
    assert not p.ends_run
    assert p.suspension is RunStatus.SUSPENDED_STEP_PARTIAL
    assert p.waiting == (wait,)
    assert [c.call.id for c in p.result.tool_calls] == ["c0"]
    assert p.result.waiting_calls == ["c1"]
    assert p.step_finish is None


def test_the_output_tool_completes_the_run_and_the_other_calls_are_not_run():
    rules = Rules(max_steps=10, usage_limits=None, output_required=True, tool_names=("add",))
    message = response("add", OUTPUT_TOOL_NAME, OUTPUT_TOOL_NAME)
    verdicts: list[Verdict] = [Runs(), OutputCall(output={"n": 1}), OutputCall(output={"n": 2})]
    p = plan(message, verdicts, rules=rules)
    assert p.outcome == Outcome(RunStatus.COMPLETED, {"n": 1})
    assert results(p) == {
        8: ("Not executed: the final result was given.", "error"),
        9: ("Final result accepted.", "success"),
        10: ("Ignored: the final result was already given.", "success"),
    }
    assert p.output_chunk
    assert p.result.output == {"n": 1}
    assert p.result.next_sequence == 11


def test_a_refused_output_is_answered_and_the_model_asked_again():
    rules = Rules(max_steps=10, usage_limits=None, output_required=True, tool_names=())
    message = response(OUTPUT_TOOL_NAME)
    p = plan(message, [OutputCall(error="n: field required")], rules=rules)
    assert not p.ends_run
    assert results(p) == {8: ("n: field required", "error")}
    assert p.result.next_sequence == 9


def test_text_where_structured_output_is_required_asks_for_the_output_tool():
    rules = Rules(max_steps=10, usage_limits=None, output_required=True, tool_names=())
    p = plan(response(content="four", finish="stop"), [], rules=rules)
    assert not p.ends_run
    (_, asked) = p.rows[1]
    assert isinstance(asked, UserMessage)
    assert OUTPUT_TOOL_NAME in asked.content
    assert p.result.next_sequence == 9
    assert p.step_finish == "stop"


def test_the_step_limit_fails_the_run_and_its_calls_are_not_run():
    message = response("add", "ask")
    p = plan(message, [Runs(), Waits(pending("c1"))], step_no=10)
    assert p.outcome == Outcome(
        RunStatus.FAILED,
        None,
        "The agent reached its limit of 10 steps without finishing.",
        "max_steps",
    )
    assert results(p) == {
        8: ("Not executed: the agent reached its step limit.", "error"),
        9: ("Not executed: the agent reached its step limit.", "error"),
    }
    # A run that fails suspends nothing.
    assert p.suspension is None
    assert p.waiting == ()
    assert (p.run_finish, p.result.error) == ("error", p.outcome.error)


def test_a_text_answer_at_the_step_limit_still_completes():
    p = plan(response(content="done", finish="stop"), [], step_no=10)
    assert p.outcome == Outcome(RunStatus.COMPLETED, "done")


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (UsageLimits(max_total_tokens=12), "total tokens"),
        (UsageLimits(max_tool_calls=1), "tool calls"),
    ],
)
def test_a_usage_limit_counts_this_response_and_fails_the_run(limits, reason):
    rules = Rules(max_steps=10, usage_limits=limits, output_required=False, tool_names=("add",))
    p = plan(response("add", "add"), [Runs(), Runs()], rules=rules)
    assert p.outcome is not None
    assert p.outcome.status is RunStatus.FAILED
    assert p.outcome.failure_reason == "usage_limit"
    assert reason in (p.outcome.error or "")
    assert set(results(p).values()) == {("Not executed: the agent reached a usage limit.", "error")}


def test_a_usage_limit_wins_over_the_output_tool():
    rules = Rules(
        max_steps=10,
        usage_limits=UsageLimits(max_total_tokens=12),
        output_required=True,
        tool_names=(),
    )
    p = plan(response(OUTPUT_TOOL_NAME), [OutputCall(output=1)], rules=rules)
    assert p.outcome is not None
    assert p.outcome.status is RunStatus.FAILED


def test_an_interrupt_keeps_what_was_said_without_its_calls():
    message = response("add", content="partial")
    p = plan_stop(RunStatus.INTERRUPTED, message, usage=SPENT, sequence=7, settle=True)
    ((seq, kept),) = p.rows
    assert seq == 7
    assert isinstance(kept, AssistantMessage)
    assert (kept.content, kept.tool_calls) == ("partial", [])
    assert message.tool_calls  # the plan copies, never edits its input
    assert p.outcome == Outcome(RunStatus.INTERRUPTED)
    assert (p.step_finish, p.run_finish, p.settle) == ("other", "other", True)
    assert (p.result.status, p.result.next_sequence) == (RunStatus.INTERRUPTED, 8)


def test_a_stop_before_anything_was_said_writes_no_message():
    empty = AssistantMessage(id="m1", step=2, finish_reason="other")
    p = plan_stop(RunStatus.ABORTED, empty, usage=Usage(), sequence=7, settle=False)
    assert p.rows == ()
    assert p.step_finish is None  # an abort leaves the step's part as it was cut
    assert (p.result.status, p.result.next_sequence) == (RunStatus.ABORTED, 7)


def test_a_failure_inside_the_step_ends_the_run_with_its_reason():
    p = plan_failure("model-x: bad key", "provider_error", sequence=7, settle=False)
    assert p.rows == ()
    assert p.outcome == Outcome(RunStatus.FAILED, None, "model-x: bad key", "provider_error")
    assert (p.step_finish, p.run_finish) == (None, "error")
    assert p.result.error == "model-x: bad key"
    assert p.usage == Usage()


def test_every_call_needs_a_verdict():
    with pytest.raises(ValueError, match="shorter"):
        plan(response("add", "add"), [Runs()])


def test_the_rules_are_read_off_the_agent() -> None:
    @tool
    def zeta() -> str:
        """Z."""
        return "z"

    @tool
    def alpha() -> str:
        """A."""
        return "a"

    limits = UsageLimits(max_requests=3)
    agent = Agent(
        name="r", tools=[zeta, alpha], model=TestModel(), max_steps=4, usage_limits=limits
    )
    assert Rules.of(agent) == Rules(
        max_steps=4, usage_limits=limits, output_required=False, tool_names=("alpha", "zeta")
    )
