"""Usage per run and per session, rollups over sub-agents, and the agents' usage limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents import Agent, UsageLimits, tool
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
from helix_agents.usage import Usage

pytestmark = pytest.mark.timeout(60)


@tool
def search(ctx: ToolContext, query: str) -> str:
    """Search."""
    ctx.record_usage("searches")
    return f"results for {query}"


def searcher(calls_per_step: int = 1, steps: int = 1, **kwargs: Any) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done < calls_per_step * steps:
            return [call_tool("search", query=f"q{done + i}") for i in range(calls_per_step)]
        return "done"

    return Agent(name="searcher", tools=[search], model=FunctionModel(model), **kwargs)


async def test_run_and_session_usage_with_subagents(make_host: Callable[..., Any]) -> None:
    def parent_model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_searcher", message="look it up")
        return "parent done"

    parent = Agent(
        name="parent",
        tools=[subagent_tool(searcher(calls_per_step=2))],
        model=FunctionModel(parent_model),
    )
    host = await make_host(parent)
    first = await host.executor.execute("parent", "one")
    assert (await first.result()).status == RunStatus.COMPLETED
    run_usage = await first.run_usage()
    assert run_usage.requests == 2
    assert run_usage.tool_calls == 1  # the delegation itself
    rollup = await first.usage()
    [child_id] = [s for s in rollup.by_session if s != first.session_id]
    assert rollup.by_session[child_id] == rollup.by_session[child_id].model_copy(
        update={"requests": 2, "tool_calls": 2, "custom": {"searches": 2}}
    )
    assert rollup.usage.requests == 4
    assert rollup.usage.tool_calls == 3
    assert rollup.usage.custom == {"searches": 2}
    assert rollup.usage.total_tokens > 0
    # A second turn adds to the session, not to the first run.
    second = await first.send("two")
    await second.result()
    assert (await first.run_usage()) == run_usage
    assert (await second.usage()).usage.requests == 8


async def test_request_limit_fails_the_run(make_host: Callable[..., Any]) -> None:
    host = await make_host(searcher(steps=3, usage_limits=UsageLimits(max_requests=2)))
    handle = await host.executor.execute("searcher", "go")
    assert (await handle.result()).status == RunStatus.FAILED
    state = await handle.get_state()
    assert state.failure_reason == "usage_limit"
    assert state.error is not None
    assert "2 model requests" in state.error
    assert (await handle.run_usage()).requests == 2  # the third request was never made


async def test_tool_call_limit_leaves_no_dangling_call(make_host: Callable[..., Any]) -> None:
    host = await make_host(
        searcher(calls_per_step=2, steps=2, usage_limits=UsageLimits(max_tool_calls=3))
    )
    handle = await host.executor.execute("searcher", "go")
    assert (await handle.result()).status == RunStatus.FAILED
    state = await handle.get_state()
    assert state.failure_reason == "usage_limit"
    assert "3 tool calls" in (state.error or "")
    messages = await handle.messages()
    unrun = [m for m in messages if isinstance(m, ToolResultMessage) and m.status == "error"]
    assert len(unrun) == 2
    assert all("usage limit" in str(m.content) for m in unrun)
    assert (await handle.run_usage()).tool_calls == 2


async def test_token_limit_counts_across_a_resume(make_host: Callable[..., Any]) -> None:
    @tool(requires_approval=True)
    def act() -> str:
        """Act."""
        return "acted"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("act")
        return "word " * 50

    agent = Agent(
        name="a",
        tools=[act],
        model=FunctionModel(model),
        usage_limits=UsageLimits(max_total_tokens=40),
    )
    host = await make_host(agent)
    handle = await host.executor.execute("a", "go")
    await handle.result()
    before = await handle.run_usage()
    assert 0 < before.total_tokens < 40
    [pending] = (await handle.get_state()).pending_client_tool_calls
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=True
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.FAILED
    state = await resumed.get_state()
    assert state.failure_reason == "usage_limit"
    assert "40 total tokens" in (state.error or "")
    total = before + await resumed.run_usage()
    assert total.total_tokens > 40
    assert isinstance(total, Usage)
