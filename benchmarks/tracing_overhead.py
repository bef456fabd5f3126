"""What tracing costs per agent step on the local host: off, and on against a local OTLP
receiver.

    python -m benchmarks.tracing_overhead [--runs 20] [--steps 20]

The workload is :mod:`benchmarks.loop_overhead`'s (a zero-latency model calling a no-op tool
on each of ``steps`` agent steps). "off" is a host whose vars name no OTLP endpoint, the
default: nothing is recorded. "on" exports every step's spans to a real OTLP/HTTP receiver
on 127.0.0.1 (``tests/support/otlp_receiver.py``, in a process of its own) as the step
ends, one POST per step: the price of never losing a finished step's spans to an evicted
isolate. Figures are per agent step (a model step plus a tool step), wall and CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loop_overhead import _model, noop
from helix_agents import Agent
from helix_agents.hosts.local import LocalHost


async def measure(runs: int, steps: int, vars: dict[str, str]) -> dict[str, float]:
    agent = Agent(name="bench", tools=[noop], model=_model(steps), max_steps=steps + 1)
    per_step: list[float] = []
    cpu_per_step: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with LocalHost([agent], Path(tmp), vars=vars) as host:
            await (await host.executor.execute("bench", "warm up")).result()
            for i in range(runs):
                cpu = time.process_time()
                start = time.perf_counter()
                record = await (await host.executor.execute("bench", f"run {i}")).result()
                elapsed = time.perf_counter() - start
                cpu = time.process_time() - cpu
                assert record.status == "completed", record
                per_step.append(elapsed / (steps + 0.5))
                cpu_per_step.append(cpu / (steps + 0.5))
            # The last run's span goes out after its result is stored: let it, before the
            # host's close cancels what is still running.
            await asyncio.sleep(0.5)
    per_step.sort()
    return {
        "median_ms": statistics.median(per_step) * 1000,
        "p90_ms": per_step[int(len(per_step) * 0.9) - 1] * 1000,
        "cpu_median_ms": statistics.median(cpu_per_step) * 1000,
    }


_RECEIVER = """
import json, sys
from tests.support.otlp_receiver import OTLPReceiver
r = OTLPReceiver(); r.start(); print(r.port, flush=True)
sys.stdin.readline()
print(json.dumps([len(r.spans), len(r.requests), len(r.rejected)]), flush=True)
"""


async def run(runs: int, steps: int, endpoint: str) -> tuple[dict[str, float], dict[str, float]]:
    off = await measure(runs, steps, {})
    on = await measure(runs, steps, {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    return off, on


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    runs, steps = args.runs, args.steps
    # The receiver runs in a process of its own: its work is not this process's CPU time.
    receiver = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    assert receiver.stdin is not None
    try:
        port = int(receiver.stdout.readline())
        off, on = asyncio.run(run(runs, steps, f"http://127.0.0.1:{port}"))
        receiver.stdin.write("done\n")
        receiver.stdin.flush()
        spans, exports, rejected = json.loads(receiver.stdout.readline())
    finally:
        receiver.kill()
        receiver.wait()
    per_run = spans / (runs + 1)
    for label, figures in (("off", off), ("on", on)):
        print(
            f"tracing {label}: median {figures['median_ms']:.3f} ms, "
            f"p90 {figures['p90_ms']:.3f} ms, CPU median {figures['cpu_median_ms']:.3f} ms "
            "per agent step"
        )
    print(
        f"added per agent step: {on['median_ms'] - off['median_ms']:.3f} ms wall, "
        f"{on['cpu_median_ms'] - off['cpu_median_ms']:.3f} ms CPU; "
        f"{per_run:.1f} spans per run of {steps} steps, {exports} exports, {rejected} rejected"
    )


if __name__ == "__main__":
    main()
