"""Agents for the HTTP tests, on the library's test models (no LLM, no network).

Also shipped into the real Worker (``tests/worker_real/app.py``): keep this module free of
pytest, threads and I/O at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool

#: What the ``talker`` says: long enough to be cut at many points.
ANSWER = " ".join(f"word{i}" for i in range(60))


@tool
def lookup(city: str) -> dict[str, Any]:
    """Look a city up.

    Args:
        city: The city.
    """
    return {"city": city, "sky": "clear"}


def talker(name: str = "talker", *, delay: float = 0.0, text: str = ANSWER) -> Agent:
    """Calls ``lookup`` once, then answers ``text`` word by word (``delay`` between words)."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield call_tool("lookup", city="Paris")
            return
        for piece in text.split(" "):
            if delay:
                await asyncio.sleep(delay)
            yield piece + " "

    return Agent(name=name, tools=[lookup], model=FunctionModel(stream_function=stream))


def gated(gate: asyncio.Event, name: str = "gated", *, words: int = 20) -> Agent:
    """Says ``words`` words, waits for ``gate``, then says ``words`` more: a run that lasts
    exactly as long as the test wants, without any timing."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        for i in range(words):
            yield f"a{i} "
        await gate.wait()
        for i in range(words):
            yield f"b{i} "

    return Agent(name=name, model=FunctionModel(stream_function=stream))


def tool_then_gate(gate: asyncio.Event) -> Agent:
    """Step 1 says a word, waits for ``gate``, calls ``lookup``; step 2 answers. An
    interrupt during step 1 stops the run before its tool runs."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "before "
            await gate.wait()
            yield call_tool("lookup", city="Oslo")
            return
        yield "after"

    return Agent(name="steps", tools=[lookup], model=FunctionModel(stream_function=stream))


def gated_text(words: int = 20) -> str:
    return "".join(f"a{i} " for i in range(words)) + "".join(f"b{i} " for i in range(words))


def echo(name: str = "echo") -> Agent:
    """Answers with the last user message, at once."""

    def reply(messages: list[Any], info: Any) -> str:
        return f"echo: {info.last_user_message}"

    return Agent(name=name, model=FunctionModel(reply))
