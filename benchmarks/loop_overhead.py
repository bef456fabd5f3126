"""The runtime's own overhead per agent step on the local host.

    python -m benchmarks.loop_overhead [--runs 30] [--steps 20]

An agent with a zero-latency model (a FunctionModel that answers at once) calls a no-op tool
on each of ``steps`` agent steps, then answers. An agent step is one model step plus one
tool step, with everything they write: the journal, the messages, the state, usage and the
stream. The figure is wall time per agent step of whole runs (execute to result), so it
includes the executor, the engine, the store, the streams and the loop, and the model's own
work: the scripted function decides in O(1) (it counts the history's messages instead of
walking it), and ``FunctionModel`` counts the history's words for usage once per message,
not once per call, so the model stays flat however long the run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.testing import FunctionModel, call_tool


@tool
def noop(i: int) -> int:
    """Return its argument."""
    return i


def _model(steps: int) -> FunctionModel:
    def decide(messages: list[Any], info: Any) -> Any:
        # The user's message, then an assistant message and a tool result per agent step.
        done = (len(messages) - 1) // 2
        return call_tool("noop", i=done) if done < steps else "done"

    return FunctionModel(decide)


async def measure(runs: int, steps: int) -> dict[str, float]:
    agent = Agent(name="bench", tools=[noop], model=_model(steps), max_steps=steps + 1)
    per_step: list[float] = []
    cpu_per_step: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with LocalHost([agent], Path(tmp)) as host:
            # One warm-up run: imports, schema, first connections.
            await (await host.executor.execute("bench", "warm up")).result()
            for i in range(runs):
                cpu = time.process_time()
                start = time.perf_counter()
                handle = await host.executor.execute("bench", f"run {i}")
                record = await handle.result()
                elapsed = time.perf_counter() - start
                cpu = time.process_time() - cpu
                assert record.status == "completed", record
                # steps agent steps with a tool, plus the final answering model step.
                per_step.append(elapsed / (steps + 0.5))
                cpu_per_step.append(cpu / (steps + 0.5))
    per_step.sort()
    return {
        "median_ms": statistics.median(per_step) * 1000,
        "p90_ms": per_step[int(len(per_step) * 0.9) - 1] * 1000,
        "min_ms": per_step[0] * 1000,
        # CPU time of this process: on a loaded machine, wall time also counts the waits
        # for a core; this does not.
        "cpu_median_ms": statistics.median(cpu_per_step) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(measure(args.runs, args.steps))
    print(
        f"agent step overhead over {args.runs} runs of {args.steps} steps: "
        f"median {result['median_ms']:.3f} ms, p90 {result['p90_ms']:.3f} ms, "
        f"min {result['min_ms']:.3f} ms; CPU median {result['cpu_median_ms']:.3f} ms"
    )


if __name__ == "__main__":
    main()
