"""Stored messages as AI SDK UI messages: every tool state, turns, the loop's own prompts."""

from __future__ import annotations

from helix_agents.core.suspension import approval_id
from helix_agents.http.ui_messages import to_ui_messages
from helix_agents.messages import (
    AssistantMessage,
    ToolApproval,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.state import PendingToolCall


def call(cid: str, name: str = "t", **args: object) -> ToolCall:
    return ToolCall(id=cid, name=name, arguments=dict(args))


def test_every_tool_state_and_one_message_per_turn() -> None:
    history = [
        (1, UserMessage(content="go", id="u1")),
        (
            2,
            AssistantMessage(
                content="let me see",
                reasoning="thinking",
                tool_calls=[call("c1", x=1), call("c2"), call("c3"), call("c4"), call("c5")],
                id="s-t1",
                step=1,
            ),
        ),
        (3, ToolResultMessage(tool_call_id="c1", tool_name="t", content={"ok": True})),
        (4, ToolResultMessage(tool_call_id="c2", tool_name="t", content="boom", status="error")),
        (
            5,
            ToolResultMessage(
                tool_call_id="c3",
                tool_name="t",
                content="The user denied this tool call; it was not executed. Reason: not now",
                status="denied",
                approval=ToolApproval(id="ap3", approved=False, reason="not now"),
            ),
        ),
        (6, AssistantMessage(content="done", id="s-t1", step=2)),
        (7, UserMessage(content="again")),
    ]
    pending = [
        PendingToolCall(tool_call_id="c4", tool_name="t", kind="approval", approval_id="ap4"),
        PendingToolCall(tool_call_id="c5", tool_name="t", kind="client"),
    ]
    out = to_ui_messages("s", history, pending=pending)
    assert [(m["id"], m["role"]) for m in out] == [
        ("u1", "user"),
        ("s-t1", "assistant"),
        ("s-m7", "user"),
    ]
    parts = out[1]["parts"]
    assert parts[:3] == [
        {"type": "step-start"},
        {"type": "reasoning", "text": "thinking", "state": "done"},
        {"type": "text", "text": "let me see", "state": "done"},
    ]
    tools = {p["toolCallId"]: p for p in parts if p["type"] == "tool-t"}
    assert tools["c1"] == {
        "type": "tool-t",
        "toolCallId": "c1",
        "input": {"x": 1},
        "state": "output-available",
        "output": {"ok": True},
    }
    assert tools["c2"]["state"] == "output-error"
    assert tools["c2"]["errorText"] == "boom"
    assert tools["c3"]["state"] == "output-denied"
    # The approval id of the request and the person's own reason (not what the model was
    # told), as the client that denied it holds them.
    assert tools["c3"]["approval"] == {"id": "ap3", "approved": False, "reason": "not now"}
    assert tools["c4"]["state"] == "approval-requested"
    assert tools["c4"]["approval"] == {"id": "ap4"}
    assert tools["c5"]["state"] == "input-available"
    assert parts[-2:] == [
        {"type": "step-start"},
        {"type": "text", "text": "done", "state": "done"},
    ]


def test_the_loops_own_prompt_inside_a_turn_is_not_shown() -> None:
    history = [
        (1, UserMessage(content="plan", id="u1")),
        (2, AssistantMessage(content="here is text", id="s-t1", step=1)),
        (3, UserMessage(content="Please give your final answer by calling the final_result tool.")),
        (
            4,
            AssistantMessage(
                tool_calls=[call("o1", "final_result", city="Oslo")], id="s-t1", step=2
            ),
        ),
        (
            5,
            ToolResultMessage(
                tool_call_id="o1", tool_name="final_result", content="Final result accepted."
            ),
        ),
    ]
    out = to_ui_messages("s", history, outputs={"s-t1": {"city": "Oslo", "days": 1}})
    assert [m["role"] for m in out] == ["user", "assistant"]
    parts = out[1]["parts"]
    output_tool = next(p for p in parts if p["type"] == "tool-final_result")
    assert output_tool["state"] == "input-available"  # as the stream shows it
    assert parts[-1] == {"type": "data-output", "id": "output", "data": {"city": "Oslo", "days": 1}}


def test_messages_without_ids() -> None:
    history = [(0, UserMessage(content="a")), (1, AssistantMessage(content="b"))]
    out = to_ui_messages("s", history)
    assert [m["id"] for m in out] == ["s-m0", "s-m1"]


def test_a_decided_call_keeps_its_approval_in_every_later_state() -> None:
    """What the AI SDK's client holds after ``addToolApprovalResponse`` and the resumed
    stream: the decision stays on the part once it has an output, an error or a denial."""
    history = [
        (1, UserMessage(content="go", id="u1")),
        (2, AssistantMessage(tool_calls=[call("c1"), call("c2"), call("c3")], id="s-t1", step=1)),
        (
            3,
            ToolResultMessage(
                tool_call_id="c1",
                tool_name="t",
                content="sent",
                approval=ToolApproval(id="ap1", approved=True),
            ),
        ),
        (
            4,
            ToolResultMessage(
                tool_call_id="c2",
                tool_name="t",
                content="boom",
                status="error",
                approval=ToolApproval(id="ap2", approved=True, reason="ok"),
            ),
        ),
        (
            5,
            ToolResultMessage(
                tool_call_id="c3",
                tool_name="t",
                content="The user denied this tool call; it was not executed.",
                status="denied",
                approval=ToolApproval(id="ap3", approved=False),
            ),
        ),
    ]
    tools = {p["toolCallId"]: p for p in to_ui_messages("s", history)[1]["parts"][1:]}
    assert tools["c1"]["state"] == "output-available"
    assert tools["c1"]["approval"] == {"id": "ap1", "approved": True}
    assert tools["c2"]["state"] == "output-error"
    assert tools["c2"]["approval"] == {"id": "ap2", "approved": True, "reason": "ok"}
    assert tools["c3"]["state"] == "output-denied"
    assert tools["c3"]["approval"] == {"id": "ap3", "approved": False}


def test_a_denial_stored_without_its_decision() -> None:
    """Results written before they kept the decision: the approval id is derived as the
    request's was, the reason taken from what the model was told."""
    history = [
        (1, UserMessage(content="go", id="u1")),
        (2, AssistantMessage(tool_calls=[call("c1"), call("c2")], id="s-t1", step=1)),
        (
            3,
            ToolResultMessage(
                tool_call_id="c1",
                tool_name="t",
                content="The user denied this tool call; it was not executed. Reason: no",
                status="denied",
            ),
        ),
        (4, ToolResultMessage(tool_call_id="c2", tool_name="t", content="nope", status="denied")),
    ]
    tools = {p["toolCallId"]: p for p in to_ui_messages("s", history)[1]["parts"][1:]}
    assert tools["c1"]["approval"] == {
        "id": approval_id("s", "c1"),
        "approved": False,
        "reason": "no",
    }
    assert tools["c2"]["approval"] == {"id": approval_id("s", "c2"), "approved": False}
