"""The agent of the restart test, served by a real ``helix dev`` process
(``--app tests/browser/slow_app.py:registry``): it says :data:`WORDS` words, one every
40 ms, so a test can kill the server in the middle of the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from helix_agents import Agent, AgentRegistry
from helix_agents.testing import FunctionModel

WORDS = 150


def answer() -> str:
    return "".join(f"w{i} " for i in range(WORDS))


async def _stream(messages: list[Any], info: Any) -> AsyncIterator[str]:
    for i in range(WORDS):
        yield f"w{i} "
        await asyncio.sleep(0.04)


def registry() -> AgentRegistry:
    return AgentRegistry([Agent(name="slow", model=FunctionModel(stream_function=_stream))])
