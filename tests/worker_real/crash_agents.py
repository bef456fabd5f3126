"""The agents of the real-Worker crash tests (``test_crash_real.py``), shipped in the test
Worker's catalog (``tests.worker_real.app``): no pytest, threads, I/O or randomness here.

Their tools have a side effect *outside* the Worker: each execution POSTs to a recorder in
the test process (``post``), keyed by the tool call (``<session>/<call id>``), which is how
the test sees from outside how many times each call really ran. The recorder answers with
the number of executions of that key so far, and the tool puts it in its result: the stored
result then tells which execution it came from (the last one, if none ran after its save).

- ``crasher`` (the parent): streams a few words per step (paced, so that kills land inside
  model steps), then calls ``effect`` twice at once, then delegates to ``crash_helper``
  (``ask_crash_helper``, a sub-agent that calls ``effect`` itself), then calls
  ``approved_effect`` (an approval: the run suspends until the test approves), then answers.
- ``crash_slow``: streams words, stays silent ``QUIET`` seconds (long enough for workerd to
  evict the idle stream Durable Object, hibernating its WebSockets), streams more words.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from helix_agents import Agent, ToolContext, tool
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool

__all__ = ["QUIET", "WORD_DELAY", "crash_agents", "slow_text", "words"]

#: A POST to the test's recorder: ``post(path, body)`` answers its JSON.
Post = Callable[[str, Any], Awaitable[Any]]

#: Seconds between streamed words: a model step streams for about half a second.
WORD_DELAY = 0.06
#: What a tool does after its effect (a kill in between re-runs the tool: at-least-once).
TOOL_WORK = 0.15
#: ``crash_slow``'s silence: workerd evicts an idle Durable Object after 10 s.
QUIET = 14.0


def words(step: int, count: int = 8) -> list[str]:
    """The words a ``crasher`` or ``crash_helper`` step streams before its decision."""
    return [f"s{step}w{i} " for i in range(count)]


def slow_text(count: int) -> str:
    return "".join(f"a{i} " for i in range(count)) + "".join(f"b{i} " for i in range(count))


def crash_agents(post: Post) -> list[Agent]:
    """``crasher`` (with ``crash_helper`` as its sub-agent) and ``crash_slow``."""

    async def apply(ctx: ToolContext, label: str) -> str:
        key = f"{ctx.session_id}/{ctx.tool_call_id}"
        answer = await post("/effect", {"key": key, "label": label})
        await asyncio.sleep(TOOL_WORK)
        return f"{label}#{answer['n']}"

    @tool
    async def effect(ctx: ToolContext, label: str) -> str:
        """Apply a side effect outside the Worker.

        Args:
            label: What to apply.
        """
        return await apply(ctx, label)

    @tool(requires_approval=True)
    async def approved_effect(ctx: ToolContext, label: str) -> str:
        """Apply a side effect outside the Worker, once a human approved.

        Args:
            label: What to apply.
        """
        return await apply(ctx, label)

    async def paced(step: int) -> AsyncIterator[str]:
        for word in words(step):
            await asyncio.sleep(WORD_DELAY)
            yield word

    async def helper_stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        done = len(info.tool_results)
        async for word in paced(10 + done):
            yield word
        if done == 0:
            yield call_tool("effect", label="child")
        else:
            yield "helped: " + str(info.tool_results[-1].content)

    helper = Agent(
        name="crash_helper", tools=[effect], model=FunctionModel(stream_function=helper_stream)
    )

    async def crasher_stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        done = len(info.tool_results)
        async for word in paced(done):
            yield word
        if done == 0:
            yield call_tool("effect", label="a")
            yield call_tool("effect", label="b")
        elif done == 2:
            yield call_tool("ask_crash_helper", message=f"help {info.last_user_message}")
        elif done == 3:
            yield call_tool("approved_effect", label="c")
        else:
            yield "done: " + ", ".join(str(r.content) for r in info.tool_results)

    crasher = Agent(
        name="crasher",
        tools=[effect, subagent_tool(helper), approved_effect],
        model=FunctionModel(stream_function=crasher_stream),
    )

    async def slow_stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        count = 6
        for i in range(count):
            yield f"a{i} "
        await asyncio.sleep(QUIET)
        for i in range(count):
            await asyncio.sleep(WORD_DELAY)
            yield f"b{i} "

    slow = Agent(name="crash_slow", model=FunctionModel(stream_function=slow_stream))
    return [crasher, slow]
