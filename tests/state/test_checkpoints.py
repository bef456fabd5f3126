"""Checkpoints on the local host: recorded after each agent step, listed, rewound to and
forked from; a rewound or forked session continues normally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.errors import (
    CheckpointNotFoundError,
    ConflictError,
    SessionNotFoundError,
    StateValidationError,
)
from helix_agents.messages import AssistantMessage, ToolResultMessage, UserMessage
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext


class Counter(BaseModel):
    n: int = 0
    log: list[str] = []


@tool
def bump(ctx: ToolContext[Any, Counter], label: str) -> int:
    """Count one."""
    ctx.state.n += 1
    ctx.state.log.append(label)
    return ctx.state.n


def _model(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    if done < 2:
        return call_tool("bump", label=f"b{done}")
    return "counted"


def _agent(name: str = "count") -> Agent:
    return Agent(name=name, tools=[bump], model=FunctionModel(_model), state_type=Counter)


async def _turn(host: Any, text: str, session_id: str | None = None) -> str:
    if session_id is None:
        handle = await host.executor.execute("count", text)
    else:
        handle = await host.executor.send(session_id, text)
    assert (await handle.result()).status == "completed"
    return str(handle.session_id)


async def test_checkpoints_after_each_step(make_host: Callable[..., Any]) -> None:
    host = await make_host(_agent())
    sid = await _turn(host, "go")
    points = await host.executor.checkpoints(sid)
    # user(0) call(1) result(2) call(3) result(4) answer(5), then the end (6).
    assert [(p.sequence, p.kind, p.step) for p in points] == [
        (0, "turn", 0),
        (1, "step", 0),
        (3, "step", 1),
        (5, "step", 2),
        (6, "head", 3),
    ]
    assert [p.state.get("n") for p in points] == [None, None, 1, 2, 2]
    assert points[0].usage.requests == 0
    assert [p.usage.requests for p in points] == [0, 0, 1, 2, 3]
    assert points[-1].usage.tool_calls == 2
    assert await host.executor.state(sid) == {"n": 2, "log": ["b0", "b1"]}


async def test_rewind_then_continue(make_host: Callable[..., Any]) -> None:
    host = await make_host(_agent())
    sid = await _turn(host, "go")
    state = await host.executor.rewind(sid, 3)
    assert state.custom_state == {"n": 1, "log": ["b0"]}
    messages = [m for _, m in await host.store.load_messages(sid)]
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert [p.sequence for p in await host.executor.checkpoints(sid)] == [0, 1, 3]
    # The rewound session continues normally: a new turn from the restored state.
    await _turn(host, "again", sid)
    assert await host.executor.state(sid) == {"n": 3, "log": ["b0", "b0", "b1"]}
    roles = [m.role for _, m in await host.store.load_messages(sid)]
    turn = ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert roles == ["user", "assistant", "tool", *turn]
    points = await host.executor.checkpoints(sid)
    assert [(p.sequence, p.kind) for p in points][-3:] == [(6, "step"), (8, "step"), (9, "head")]
    assert (points[2].sequence, points[2].kind) == (3, "turn")
    assert points[2].state == {"n": 1, "log": ["b0"]}  # the new turn's boundary


async def test_fork_then_continue_both(make_host: Callable[..., Any]) -> None:
    host = await make_host(_agent())
    sid = await _turn(host, "go")
    branch = await host.executor.fork(sid, 3, new_session_id="branch-1")
    assert branch.session_id == "branch-1"
    assert branch.agent_type == "count"
    assert branch.metadata["forkedFrom"] == {"sessionId": sid, "checkpoint": 3}
    assert await host.executor.state("branch-1") == {"n": 1, "log": ["b0"]}
    copied = await host.store.load_messages("branch-1")
    original = await host.store.load_messages(sid)
    assert copied == original[:3]
    assert [
        (p.sequence, p.state.get("n")) for p in await host.executor.checkpoints("branch-1")
    ] == [
        (0, None),
        (1, None),
        (3, 1),
    ]
    await _turn(host, "more", "branch-1")
    assert await host.executor.state("branch-1") == {"n": 3, "log": ["b0", "b0", "b1"]}
    # A branch's checkpoints count its origin's usage up to the fork, then its own.
    branch_points = await host.executor.checkpoints("branch-1")
    assert [(p.sequence, p.kind, p.step, p.usage.requests) for p in branch_points] == [
        (0, "turn", 0, 0),
        (1, "step", 0, 0),
        (3, "turn", 1, 1),
        (4, "step", 1, 1),
        (6, "step", 2, 2),
        (8, "step", 3, 3),
        (9, "head", 4, 4),
    ]
    # The origin is untouched, and continues too.
    assert await host.executor.state(sid) == {"n": 2, "log": ["b0", "b1"]}
    await _turn(host, "more", sid)
    assert await host.executor.state(sid) == {"n": 4, "log": ["b0", "b1", "b0", "b1"]}
    # A fork of the end copies everything; an id of its own when none is given.
    whole = await host.executor.fork(sid, (await host.executor.checkpoints(sid))[-1].sequence)
    assert whole.session_id != sid
    assert len(await host.store.load_messages(whole.session_id)) == 12
    assert isinstance((await host.store.load_messages(whole.session_id))[0][1], UserMessage)
    ends = await host.executor.checkpoints(whole.session_id)
    assert (ends[-1].kind, ends[-1].sequence, ends[-1].step, ends[-1].usage.requests) == (
        "head",
        12,
        6,
        6,
    )
    await _turn(host, "and more", whole.session_id)
    ends = await host.executor.checkpoints(whole.session_id)
    assert [(p.sequence, p.kind, p.step, p.usage.requests) for p in ends[-5:]] == [
        (12, "turn", 6, 6),
        (13, "step", 6, 6),
        (15, "step", 7, 7),
        (17, "step", 8, 8),
        (18, "head", 9, 9),
    ]
    assert await host.executor.state(whole.session_id) == {
        "n": 6,
        "log": ["b0", "b1", "b0", "b1", "b0", "b1"],
    }


async def test_refusals(make_host: Callable[..., Any]) -> None:
    host = await make_host(_agent())
    sid = await _turn(host, "go")
    with pytest.raises(CheckpointNotFoundError):
        await host.executor.rewind(sid, 2)  # a tool result: no boundary
    with pytest.raises(CheckpointNotFoundError):
        await host.executor.fork(sid, 99)
    with pytest.raises(SessionNotFoundError):
        await host.executor.checkpoints("nope")
    with pytest.raises(ConflictError):
        await host.executor.fork(sid, 3, new_session_id=sid)
    with pytest.raises(StateValidationError, match="n"):
        await host.executor.set_state(sid, {"n": "lots"})
    with pytest.raises(StateValidationError):
        await host.executor.set_state(sid, [1])
    # A human's edit between runs, validated; the next run's tools see it.
    assert await host.executor.set_state(sid, {"n": 40}) == {"n": 40, "log": []}
    await _turn(host, "go on", sid)
    assert (await host.executor.state(sid))["n"] == 42


async def test_refused_while_a_run_is_active(make_host: Callable[..., Any]) -> None:
    import asyncio

    release = asyncio.Event()

    @tool
    async def slow(ctx: ToolContext) -> str:
        """Wait."""
        await release.wait()
        return "ok"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("slow") if not info.tool_results else "done"

    host = await make_host(Agent(name="slow", tools=[slow], model=FunctionModel(model)))
    handle = await host.executor.execute("slow", "go")
    for _ in range(200):
        if await host.store.active_run(handle.session_id) is not None:
            break
        await asyncio.sleep(0.01)
    try:
        with pytest.raises(ConflictError):
            await host.executor.rewind(handle.session_id, 0)
        with pytest.raises(ConflictError):
            await host.executor.set_state(handle.session_id, {"a": 1})
        # No head while the run works: its end is not a boundary yet.
        kinds = [p.kind for p in await host.executor.checkpoints(handle.session_id)]
        assert "head" not in kinds
    finally:
        release.set()
    assert (await handle.result()).status == "completed"
    await host.executor.rewind(handle.session_id, 0)
    assert await host.store.load_messages(handle.session_id) == []


async def test_rewind_forgets_a_suspension(make_host: Callable[..., Any]) -> None:
    @tool(requires_approval=True)
    def risky() -> str:
        """Needs a yes."""
        return "done"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("risky") if not info.tool_results else "finished"

    host = await make_host(Agent(name="hitl", tools=[risky], model=FunctionModel(model)))
    handle = await host.executor.execute("hitl", "go")
    run = await handle.result()
    assert run.status.is_suspended
    state = await host.executor.rewind(handle.session_id, 1)
    assert state.pending_client_tool_calls == []
    assert state.suspension_context is None
    assert [r.status.value for r in await host.executor.runs(handle.session_id)] == ["aborted"]
    messages = await host.store.load_messages(handle.session_id)
    assert [type(m) for _, m in messages] == [UserMessage]
    follow = await host.executor.send(handle.session_id, "again")
    assert (await follow.result()).status.is_suspended
    assert not isinstance(messages[-1][1], AssistantMessage | ToolResultMessage)
