"""What ``POST /chat`` with an SSE reader adds to an agent step, over the executor alone.

    python -m benchmarks.http_steps [--steps 200] [--runs 5]

The workload of ``benchmarks/loop_overhead.py`` (the ``steps`` agent of
``benchmarks/_http.py``: N agent steps of a no-op tool, then an answer), run two ways,
alternating: through ``helix dev`` in its own process, a client posting ``/chat`` and
reading the SSE response to ``[DONE]``; and on the executor alone, in this process. Per
agent step: wall time, and CPU time (the server process's, from /proc, for the HTTP path;
this process's for the executor), which a loaded machine inflates far less than wall time.
/proc counts CPU in clock ticks (10 ms): 200 steps make that 0.05 ms per step.
The HTTP figures include the server's HTTP parsing, the UI encoding of every chunk and the
SSE response; the client's work is in its own process and not counted in CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from helix_agents.hosts.local import LocalHost

from ._http import SSEReader, dev_server, steps_agent


def _cpu_of(pid: int) -> float:
    """A process's CPU seconds so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def _http_run(host: str, port: int, pid: int, steps: int, i: int) -> tuple[float, float]:
    body = {"agentType": "steps", "message": f"steps={steps}", "sessionId": f"http-{i}"}
    cpu, start = _cpu_of(pid), time.perf_counter()
    reader = await SSEReader().run(host, port, "POST", "/chat", body)
    wall, cpu = time.perf_counter() - start, _cpu_of(pid) - cpu
    assert reader.done, "the SSE response ended without [DONE]"
    return wall / steps, cpu / steps


async def _executor_run(host: LocalHost, steps: int, i: int) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    record = await (await host.executor.execute("steps", f"steps={steps}")).result()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert record.status == "completed", record
    return wall / steps, cpu / steps


async def measure(steps: int, runs: int) -> dict[str, dict[str, float]]:
    http: list[tuple[float, float]] = []
    alone: list[tuple[float, float]] = []
    with dev_server() as (address, port, pid), tempfile.TemporaryDirectory() as tmp:
        async with LocalHost([steps_agent()], Path(tmp), sweep_interval=None) as host:
            await _http_run(address, port, pid, 2, -1)  # warm-ups
            await _executor_run(host, 2, -1)
            for i in range(runs):
                http.append(await _http_run(address, port, pid, steps, i))
                alone.append(await _executor_run(host, steps, i))
    out: dict[str, dict[str, float]] = {}
    for name, values in (("http", http), ("executor", alone)):
        out[name] = {
            "wall_ms": statistics.median(v[0] for v in values) * 1000,
            "cpu_ms": statistics.median(v[1] for v in values) * 1000,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(measure(args.steps, args.runs))
    for name, row in result.items():
        print(
            f"{name:<9} median per agent step: wall {row['wall_ms']:.3f} ms,"
            f" CPU {row['cpu_ms']:.3f} ms"
        )
    extra = result["http"]["cpu_ms"] - result["executor"]["cpu_ms"]
    print(f"POST /chat with an SSE reader adds {extra:.3f} ms of CPU per agent step")


if __name__ == "__main__":
    main()
