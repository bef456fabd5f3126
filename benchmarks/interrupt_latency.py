"""Interrupt latency on the local host: from ``interrupt()`` to the stopped run.

    python -m benchmarks.interrupt_latency [--runs 30]

Two shapes, each measured from just before ``Executor.interrupt`` is called to the moment
the interrupted run's stream has ended (the run is ``interrupted`` in the store by then):

- ``agent``: one agent whose tool works in a loop and checks ``ctx.is_interrupted()``
  every 10 ms (the documented way for a long tool to stop at a safe point);
- ``hierarchy``: a parent waiting on a sub-agent that runs such a tool. The interrupt is
  propagated to the child; the child stops at its safe point and ends ``interrupted``; its
  end wakes the parent's durable wait; the parent collects and stops ``interrupted``.

- ``streaming`` and ``silent``: one agent whose model call is streaming (a word every 10 ms)
  or silent (it said a few words and waits): the interrupt cuts the call short. Measured
  from just before ``Executor.interrupt`` to the moment a live reader of the run's stream
  sees it end (the text so far stored, the run ``interrupted``).

Helix's target is 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.state import RunStatus
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

_working = asyncio.Event()


@tool
async def work(ctx: ToolContext) -> str:
    """Work until interrupted."""
    _working.set()
    while not await ctx.is_interrupted():  # noqa: ASYNC110 - the documented polling pattern
        await asyncio.sleep(0.01)
    return "stopped"


def _worker(name: str) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("work") if not info.tool_results else "done"

    return Agent(name=name, tools=[work], model=FunctionModel(model))


_talking = asyncio.Event()


def _talker(name: str, *, silent: bool) -> Agent:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[str]:
        for i in range(3000):
            if i == 5:
                _talking.set()
                if silent:
                    await asyncio.sleep(3600)
            yield f"w{i} "
            await asyncio.sleep(0.01)

    return Agent(name=name, model=FunctionModel(stream_function=stream))


async def _measure_call(host: LocalHost, agent: str, runs: int) -> list[float]:
    samples: list[float] = []
    for i in range(runs + 1):
        _talking.clear()
        handle = await host.executor.execute(agent, f"run {i}")
        ended = asyncio.Event()

        async def follow(handle: Any = handle, ended: asyncio.Event = ended) -> None:
            async for _ in handle.stream():
                pass
            ended.set()

        reader = asyncio.ensure_future(follow())
        await _talking.wait()
        await asyncio.sleep(0.03)  # a few writes into the call
        start = time.perf_counter()
        await host.executor.interrupt(handle.session_id, reason="benchmark")
        await ended.wait()
        elapsed = time.perf_counter() - start
        await reader
        record = await handle.result()
        assert record.status == RunStatus.INTERRUPTED, record
        if i:
            samples.append(elapsed * 1000)
    return sorted(samples)


def _parent(child: Agent) -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("ask_child", message="work") if not info.tool_results else "done"

    return Agent(name="parent", tools=[subagent_tool(child)], model=FunctionModel(model))


async def _measure(host: LocalHost, agent: str, runs: int) -> list[float]:
    samples: list[float] = []
    for i in range(runs + 1):
        _working.clear()
        handle = await host.executor.execute(agent, f"run {i}")
        await _working.wait()
        await asyncio.sleep(0.02)  # let it settle into its loop
        start = time.perf_counter()
        await host.executor.interrupt(handle.session_id, reason="benchmark")
        record = await handle.result()
        elapsed = time.perf_counter() - start
        assert record.status == RunStatus.INTERRUPTED, record
        if i:  # the first run warms up imports and connections
            samples.append(elapsed * 1000)
    return sorted(samples)


async def measure(runs: int) -> dict[str, list[float]]:
    child = _worker("child")
    with tempfile.TemporaryDirectory() as tmp:
        agents = [
            _worker("agent"),
            _parent(child),
            _talker("streaming", silent=False),
            _talker("silent", silent=True),
        ]
        async with LocalHost(agents, Path(tmp)) as host:
            return {
                "agent": await _measure(host, "agent", runs),
                "hierarchy": await _measure(host, "parent", runs),
                "streaming": await _measure_call(host, "streaming", runs),
                "silent": await _measure_call(host, "silent", runs),
            }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    results = asyncio.run(measure(args.runs))
    for shape, samples in results.items():
        p90 = samples[max(0, int(len(samples) * 0.9) - 1)]
        print(
            f"{shape}: interrupt to stopped over {len(samples)} runs: median "
            f"{statistics.median(samples):.1f} ms, p90 {p90:.1f} ms, max {samples[-1]:.1f} ms"
        )


if __name__ == "__main__":
    main()
