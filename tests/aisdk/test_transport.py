"""The AI SDK's client code in Node against the local host: ``DefaultChatTransport`` posts
and reconnects, ``readUIMessageStream`` folds the answers into messages, exactly as
``useChat`` does (a continuation continues the last assistant message; a resumed stream is
folded into a fresh one, because the SDK requires it to be a full replay of the response).

After every step that leaves the run at rest, what the client holds deep-equals the
server's snapshot (``GET /chat/{id}``) and passes the SDK's ``safeValidateUIMessages``.
Each test runs with ai 6 (server ``ui_version=6``) and ai 7 (``ui_version=7``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from .agents import bank, delegator, locator, stepper, weather
from .harness import (
    Call,
    NodeDriver,
    Server,
    add_tool_approval_response,
    add_tool_output,
    apply_answer,
    tool_part,
    without_decisions,
)

pytestmark = pytest.mark.timeout(120)


class Chat:
    """What a ``useChat`` app keeps for one chat, with the SDK's code doing the work."""

    def __init__(self, server: Server, node: NodeDriver, chat_id: str, agent: str) -> None:
        self.server = server
        self.node = node
        self.id = chat_id
        self.agent = agent
        self.messages: list[dict[str, Any]] = []
        self.counter = itertools.count(1)

    @property
    def api(self) -> str:
        return f"{self.server.url}/chat"

    def add_user(self, text: str) -> None:
        self.messages.append(
            {
                "id": f"{self.id}-u{next(self.counter)}",
                "role": "user",
                "parts": [{"type": "text", "text": text}],
            }
        )

    def post(self, **options: Any) -> Call:
        return self.node.call(
            "send",
            api=self.api,
            chatId=self.id,
            messages=self.messages,
            body={"agentType": self.agent},
            **options,
        )

    def reconnect(self, **options: Any) -> Call:
        return self.node.call("reconnect", api=self.api, chatId=self.id, **options)

    async def answer(self, call: Call, *, stopped: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = await call.result()
        assert result["error"] is None, result
        assert result["stopped"] is stopped
        apply_answer(self.messages, result["message"])
        return result

    async def reload(self, *, until: dict[str, Any], gate: asyncio.Event) -> dict[str, Any]:
        """A page reload mid-run: the snapshot's messages, then the resumed stream (read
        until ``until`` has passed, then ``gate`` lets the run finish)."""
        snapshot = await self.server.snapshot(self.id)
        assert snapshot["activeRun"] is not None
        # The running turn's message is not in the snapshot: the replay brings all of it.
        assert snapshot["messages"][-1]["role"] == "user"
        self.messages = snapshot["messages"]
        call = self.reconnect(signalAt=until)
        await call.until_signaled()
        gate.set()
        return await self.answer(call)

    async def check(self, *, replayed_decisions: bool = False) -> dict[str, Any]:
        """The client's messages are the snapshot's, and valid for the SDK.

        ``replayed_decisions``: the last message was rebuilt from a replay across an
        approval decision. ai 6 cannot carry a decision on the stream, so there it holds
        the bare ``{id}`` of the request (which its own validator refuses); the app takes
        the snapshot's message instead (docs/hitl.md)."""
        snapshot = await self.server.snapshot(self.id)
        assert snapshot["activeRun"] is None
        expected = snapshot["messages"]
        if replayed_decisions and self.node.version == 6:
            assert self.messages[:-1] == expected[:-1]
            assert self.messages[-1] == without_decisions(expected[-1])
            assert (await self.node("validate", messages=self.messages))["success"] is False
            self.messages = expected
        assert self.messages == expected
        assert await self.node("validate", messages=self.messages) == {"success": True}
        return snapshot


async def test_stream_reload_in_the_first_instance_and_a_second_turn(
    make_server: Any, node: NodeDriver
) -> None:
    gate = asyncio.Event()
    server = await make_server(weather(gate))
    chat = Chat(server, node, "w1", "weather")
    chat.add_user("Weather in Paris?")
    # The reader leaves mid-answer (a reload), and comes back to the run's replay.
    await chat.answer(chat.post(stopAfter={"type": "text-delta", "delta": "a2 "}), stopped=True)
    result = await chat.reload(until={"type": "text-delta", "delta": "a4 "}, gate=gate)
    assert [c["type"] for c in result["chunks"]].count("start") == 1
    snapshot = await chat.check()
    assert snapshot["status"] == "completed"
    text = [p["text"] for p in chat.messages[-1]["parts"] if p["type"] == "text"]
    assert text == ["a0 a1 a2 a3 a4 b0 b1 b2 b3 b4 "]

    chat.add_user("And tomorrow?")
    await chat.answer(chat.post())
    snapshot = await chat.check()
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"] * 2
    assert snapshot["messages"][-1]["id"] == "w1-t2"


@pytest.mark.parametrize("reload", [False, True], ids=["live", "reload"])
@pytest.mark.parametrize(
    ("approved", "reason"), [(True, None), (True, "fine"), (False, "too much")]
)
async def test_approval(
    make_server: Any, node: NodeDriver, approved: bool, reason: str | None, reload: bool
) -> None:
    gate = asyncio.Event()
    executed: list[int] = []
    server = await make_server(bank(gate, executed))
    chat = Chat(server, node, "pay", "bank")
    chat.add_user("pay 7")
    first = await chat.answer(chat.post())
    assert first["chunks"][-1] == {"type": "finish", "finishReason": "tool-calls"}
    snapshot = await chat.check()
    assert snapshot["status"] == "suspended_client_tool"
    part = tool_part(chat.messages, lambda p: p["type"] == "tool-transfer")
    assert part["state"] == "approval-requested"

    add_tool_approval_response(chat.messages, part["approval"]["id"], approved, reason)
    outcome = "success" if approved else "denied"
    if reload:
        # The resumed instance (--r1) streams; the page is reloaded while it does.
        delta = {"type": "text-delta", "delta": f"{outcome} "}
        await chat.answer(chat.post(stopAfter=delta), stopped=True)
        await chat.reload(until=delta, gate=gate)
    else:
        gate.set()
        await chat.answer(chat.post())
    snapshot = await chat.check(replayed_decisions=reload)
    assert snapshot["status"] == "completed"
    assert executed == ([7] if approved else [])
    part = tool_part(snapshot["messages"], lambda p: p["type"] == "tool-transfer")
    decision: dict[str, Any] = {"id": part["approval"]["id"], "approved": approved}
    if reason is not None:
        decision["reason"] = reason
    assert part["approval"] == decision
    assert part["state"] == ("output-available" if approved else "output-denied")
    text = [p["text"] for p in snapshot["messages"][-1]["parts"] if p["type"] == "text"]
    assert text == ["paying ", f"{outcome} done"]


async def test_client_tool_with_a_reload_in_the_resumed_instance(
    make_server: Any, node: NodeDriver
) -> None:
    gate = asyncio.Event()
    server = await make_server(locator(gate))
    chat = Chat(server, node, "where", "locator")
    chat.add_user("where am I?")
    await chat.answer(chat.post())
    snapshot = await chat.check()
    assert snapshot["status"] == "suspended_client_tool"
    part = tool_part(chat.messages, lambda p: p["type"] == "tool-get_location")
    assert part["state"] == "input-available"

    add_tool_output(chat.messages, part["toolCallId"], {"city": "Oslo"})
    delta = {"type": "text-delta", "delta": "you are in "}
    await chat.answer(chat.post(stopAfter=delta), stopped=True)
    await chat.reload(until=delta, gate=gate)
    snapshot = await chat.check()
    assert snapshot["status"] == "completed"
    text = [p["text"] for p in snapshot["messages"][-1]["parts"] if p["type"] == "text"]
    assert text == ["you are in Oslo"]


async def test_interrupt_resume_with_a_reload_in_the_resumed_instance(
    make_server: Any, node: NodeDriver
) -> None:
    first, second = asyncio.Event(), asyncio.Event()
    server = await make_server(stepper(first, second))
    chat = Chat(server, node, "steps", "stepper")
    chat.add_user("go")
    call = chat.post(signalAt={"type": "text-delta", "delta": "checking "})
    await call.until_signaled()
    await server.post("/chat/steps/interrupt")
    # The model is silent (it waits on ``first``): the interrupt cuts its call short.
    result = await chat.answer(call)
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "other"}
    snapshot = await chat.check()
    assert snapshot["status"] == "interrupted"
    first.set()

    # The app resumes the run and picks its stream up by resuming (useChat's only way).
    await server.post("/chat/steps/resume")
    await chat.reload(until={"type": "text-delta", "delta": "found "}, gate=second)
    snapshot = await chat.check()
    assert snapshot["status"] == "completed"
    tool = tool_part(snapshot["messages"], lambda p: p["type"] == "tool-lookup")
    assert tool["state"] == "output-available"
    text = [p["text"] for p in snapshot["messages"][-1]["parts"] if p["type"] == "text"]
    # The cut answer, then the resume's fresh call (which says it again, then calls).
    assert text == ["checking ", "checking ", "found it"]


@pytest.mark.parametrize("reload", [False, True], ids=["live", "reload"])
async def test_a_delegation(make_server: Any, node: NodeDriver, reload: bool) -> None:
    """The SDK keeps the sub-agent's ``data-subagent`` part (replaced in place by its id,
    ``running`` then ``completed``) where it first came, and so does the snapshot; the
    reload lands while the child runs, its replay folded into a fresh message."""
    gate = asyncio.Event()
    server = await make_server(delegator(gate))
    chat = Chat(server, node, f"d-{reload}", "delegator")
    chat.add_user("otters")
    if reload:
        await chat.answer(chat.post(stopAfter={"type": "data-subagent"}), stopped=True)
        await chat.reload(until={"type": "data-subagent"}, gate=gate)
    else:
        call = chat.post(signalAt={"type": "data-subagent"})
        await call.until_signaled()
        gate.set()
        await chat.answer(call)
    snapshot = await chat.check()
    assert snapshot["status"] == "completed"
    [frame] = [p for p in chat.messages[-1]["parts"] if p["type"] == "data-subagent"]
    assert frame["data"]["status"] == "completed"
    assert frame["data"]["output"] == "scouting found otters"
