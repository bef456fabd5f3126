"""The agents ``benchmarks.worker_real`` ships to the real Worker runtime.

Shipped with ``AppSpec("benchmarks.worker_app:registry", <repo root>, with_testing=True)``
(its agents run on ``FunctionModel``), i.e. as the whole
``benchmarks`` package under the Worker's ``src/``; only this module is imported there, so it
imports nothing but helix-agents and the standard library (no uvicorn, httpx or threads).
The user message sets each agent's parameters as ``name=value`` pairs.

- ``steps``: a zero-latency model that calls the no-op tool ``noop`` on each of ``steps``
  agent steps, then answers ``done``;
- ``ticker``: says ``count`` wall-clock timestamps (``time.time_ns()``: the Worker's clock
  is the machine's), one every ``interval`` seconds, after waiting ``delay`` seconds;
- ``modules``: answers with the JSON list of the modules loaded where its model step runs
  (``sorted(sys.modules)``).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.testing import FunctionModel, call_tool

__all__ = ["MAX_STEPS", "registry"]

#: The most agent steps a ``steps`` run may ask for.
MAX_STEPS = 1000
_PARAM = re.compile(r"(\w+)=([0-9.]+)")


def _params(info: Any) -> dict[str, float]:
    return {k: float(v) for k, v in _PARAM.findall(info.last_user_message or "")}


@tool
def noop(i: int) -> int:
    """Return its argument."""
    return i


def _decide(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    return call_tool("noop", i=done) if done < int(_params(info).get("steps", 1)) else "done"


async def _tick(messages: list[Any], info: Any) -> AsyncIterator[Any]:
    spec = _params(info)
    await asyncio.sleep(spec.get("delay", 0.0))
    interval = spec.get("interval", 0.02)
    for _ in range(int(spec.get("count", 100))):
        yield f"{time.time_ns()} "
        await asyncio.sleep(interval)


def _modules(messages: list[Any], info: Any) -> str:
    return json.dumps(sorted(sys.modules))


def registry() -> AgentRegistry:
    return AgentRegistry(
        [
            Agent(
                name="steps",
                tools=[noop],
                model=FunctionModel(_decide, name="zero-latency"),
                max_steps=MAX_STEPS + 1,
            ),
            Agent(name="ticker", model=FunctionModel(stream_function=_tick, name="ticker")),
            Agent(name="modules", model=FunctionModel(_modules, name="modules")),
        ]
    )
