"""Platform calls of a run on the Cloudflare host: D1 statements, Durable Object calls
(subrequests) and Workflow steps, per agent step.

    python -m benchmarks.cloudflare_platform_calls [--deltas 10000] [--steps 20] [--tools 10]

The Cloudflare host runs on the fakes of ``helix_agents.testing.cloudflare`` (each counts
what the platform would bill), on a virtual-time event loop: a model that streams at 50
tokens per second for 200 seconds finishes in seconds of real time, and every timer of the
runtime (the stream writer's flushes, the long polls) fires at its virtual due time.

The scripted agent makes ``steps`` model calls and ``tools`` tool calls, streaming
``deltas`` text deltas in all (the same number per model call). Its first ``tools`` model
calls each call one tool; the following ones answer in text without the structured output
the agent requires, so the loop asks again (and the run goes on); the last one gives the
output. Each scenario runs at 50 and 500 tokens per second, with a live reader (an SSE
client of ``POST /chat``, through the Worker's fetch) and without one (the run started
and nobody watching). A last scenario streams everything in one model call, to show that
a step's calls stay bounded however long it streams.

Per model step, calls are counted while the step runs (its context), so the reader's own
calls (a different invocation on the platform) are counted apart: the step's stream writes,
and any other Durable Object call it makes (none: the last step ends the run's stream with
its last write). The last model step, which ends the run, is reported apart from the others.
Latency is from the model yielding a delta to the reader holding it, in virtual time: what
the flush policy adds.

The reader's subrequests are those of its SSE response's invocation (``POST /chat``, as the
fake platform counts them: D1, the Workflow binding, the Durable Object), the number that
Cloudflare caps at 1,000: once as the Worker follows the stream (one WebSocket to the
Durable Object), once with WebSocket upgrades refused (the long-poll fallback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import functools
import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.hosts.cloudflare import CloudflareApp, DOStreamManager
from helix_agents.hosts.cloudflare import step as cf_step
from helix_agents.hosts.cloudflare.d1 import D1Database
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.testing.cloudflare.platform import FakeCloudflare
from helix_agents.testing.cloudflare.virtual_time import run_virtual, virtual_clock_ms

#: The Workflow step running now (set around each attempt; inherited by its tasks).
CURRENT_STEP: contextvars.ContextVar[str | None] = contextvars.ContextVar("step", default=None)


class Answer(BaseModel):
    summary: str


@tool
def lookup(i: int) -> dict[str, int]:
    """Look something up.

    Args:
        i: Which thing.
    """
    return {"i": i}


@dataclass
class Counts:
    d1_statements: Counter[str] = field(default_factory=Counter)
    d1_calls: Counter[str] = field(default_factory=Counter)
    do_calls: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    produced: dict[int, float] = field(default_factory=dict)
    received: dict[int, float] = field(default_factory=dict)


@contextlib.contextmanager
def instrumented(counts: Counts) -> Iterator[None]:
    """Count D1 statements and Durable Object calls per Workflow step (patches the host's
    classes for the duration)."""
    saved = [
        (cf_step, "_attempt", cf_step._attempt),
        (DOStreamManager, "_call", DOStreamManager._call),
        *[(D1Database, m, getattr(D1Database, m)) for m in ("query", "execute", "batch")],
    ]
    original_attempt = cf_step._attempt

    async def attempt(name: str, fn: Any, number: int) -> Any:
        token = CURRENT_STEP.set(name)
        try:
            return await original_attempt(name, fn, number)
        finally:
            CURRENT_STEP.reset(token)

    original_call = DOStreamManager._call

    async def call(
        self: DOStreamManager, stream_id: str, method: str, *args: Any, **kw: Any
    ) -> Any:
        counts.do_calls[CURRENT_STEP.get() or "(outside steps)"][method] += 1
        return await original_call(self, stream_id, method, *args, **kw)

    def counted(original: Any, statements: Callable[[tuple[Any, ...]], int]) -> Any:
        async def wrapper(self: D1Database, *args: Any, **kw: Any) -> Any:
            where = CURRENT_STEP.get() or "(outside steps)"
            counts.d1_calls[where] += 1
            counts.d1_statements[where] += statements(args)
            return await original(self, *args, **kw)

        return wrapper

    cf_step._attempt = attempt  # type: ignore[assignment]
    DOStreamManager._call = call  # type: ignore[method-assign]
    D1Database.query = counted(D1Database.query, lambda args: 1)  # type: ignore[method-assign]
    D1Database.execute = counted(D1Database.execute, lambda args: 1)  # type: ignore[method-assign]
    D1Database.batch = counted(D1Database.batch, lambda args: len(args[0]))  # type: ignore[method-assign]
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def scripted_model(
    deltas_per_step: int, steps: int, tools: int, rate: float, counts: Counts
) -> Any:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        calls = sum(1 for m in messages if getattr(m, "role", None) == "assistant")
        base = calls * deltas_per_step
        loop = asyncio.get_running_loop()
        for i in range(deltas_per_step):
            await asyncio.sleep(1 / rate)
            counts.produced[base + i] = loop.time()
            yield f"t{base + i} "
        if calls < tools:
            yield call_tool("lookup", i=calls)
        elif calls == steps - 1:
            yield call_tool("final_result", summary="done")

    return FunctionModel(stream_function=stream)


async def scenario(
    *, deltas: int, steps: int, tools: int, rate: float, reader: bool, fallback: bool = False
) -> dict[str, Any]:
    counts = Counts()
    with instrumented(counts):
        return await _run(
            counts,
            deltas=deltas,
            steps=steps,
            tools=tools,
            rate=rate,
            reader=reader,
            fallback=fallback,
        )


async def _run(
    counts: Counts,
    *,
    deltas: int,
    steps: int,
    tools: int,
    rate: float,
    reader: bool,
    fallback: bool,
) -> dict[str, Any]:
    model = scripted_model(deltas // steps, steps, tools, rate, counts)
    agent = Agent(
        name="bench",
        tools=[lookup],
        model="test",
        output_type=Answer,
        max_steps=steps + 1,
    )
    # No token: the benchmark's Worker opts out of authentication explicitly (a Worker with
    # neither refuses every API request).
    app = CloudflareApp(
        [agent],
        clock=virtual_clock_ms,
        resolve_model=lambda spec: model,
        environ={"HELIX_AUTH": "none"},
    )
    platform = FakeCloudflare(app, clock=virtual_clock_ms, sleep=asyncio.sleep)
    if fallback:
        platform.durable_objects.refuse_websockets()
    loop = asyncio.get_running_loop()
    subrequests: Counter[str] = Counter()
    try:
        if reader:
            response = await platform.fetch(
                "POST", "/chat", json={"agentType": "bench", "message": "go", "sessionId": "bench"}
            )
            async for event in response.sse():
                if event.data == "[DONE]":
                    break
                chunk = event.json()
                if chunk.get("type") == "text-delta":
                    counts.received[int(chunk["delta"].strip()[1:])] = loop.time()
        else:
            await platform.fetch("GET", "/health")  # the isolate's first request: migration
            executor = app.runtime(platform.env).executor
            await executor.execute("bench", "go", session_id="bench")
        await platform.wait_for_instances(timeout=3600.0)
        await platform.drain()
        stats = platform.workflows.stats
        status = await platform.workflows.wait("bench--t1")
        assert status["status"] == "complete", status
        if reader:
            subrequests = platform.invocation("POST /chat").subrequests
    finally:
        await platform.close()
    return summarize(counts, stats.steps, subrequests)


def summarize(
    counts: Counts, workflow_steps: int, reader: Counter[str] | None = None
) -> dict[str, Any]:
    model_steps = sorted(k for k in counts.do_calls if k.endswith("/model"))
    tool_steps = [k for k in counts.do_calls if "/tool/" in k]
    writes = [counts.do_calls[k]["write"] for k in model_steps]
    streaming = writes[:-1] or [0]
    final = counts.do_calls[model_steps[-1]]
    d1_calls, d1_statements = [], []
    for k in model_steps:
        prefix = k.rsplit("/", 1)[0] + "/"
        d1_calls.append(sum(v for n, v in counts.d1_calls.items() if n.startswith(prefix)))
        d1_statements.append(
            sum(v for n, v in counts.d1_statements.items() if n.startswith(prefix))
        )
    latencies = sorted(
        counts.received[i] - counts.produced[i] for i in counts.received if i in counts.produced
    )
    return {
        "workflow_steps": workflow_steps,
        "model_steps": len(model_steps),
        "tool_steps": len(tool_steps),
        # The model steps that go on (all but the last), the last one, and all of them.
        "max_streaming_writes": max(streaming),
        "mean_streaming_writes": statistics.mean(streaming),
        "final_step_writes": final["write"],
        "final_step_calls": dict(final),
        "max_writes_all_steps": max(writes),
        "mean_writes_all_steps": statistics.mean(writes),
        "tool_step_do_calls": max(
            (sum(counts.do_calls[k].values()) for k in tool_steps), default=0
        ),
        # An agent step: a model step and the tool steps it planned (the first one also
        # loads the history, inside the model step's one read).
        "max_d1_calls_per_agent_step": max(d1_calls),
        "max_d1_statements_per_agent_step": max(d1_statements),
        "mean_d1_statements_per_agent_step": statistics.mean(d1_statements),
        "do_calls_in_steps": sum(
            sum(c.values()) for k, c in counts.do_calls.items() if k != "(outside steps)"
        ),
        "reader_calls": sum(counts.do_calls["(outside steps)"].values()),
        "reader_subrequests": sum((reader or Counter()).values()),
        "reader_do_subrequests": (reader or Counter())["durable_object"],
        "p50_latency_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_latency_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
        "max_latency_ms": 1000 * latencies[-1] if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tools", type=int, default=10)
    args = parser.parse_args()
    rows = []
    fallbacks: dict[str, dict[str, Any]] = {}

    def scripted(rate: float, reader: bool, fallback: bool = False) -> dict[str, Any]:
        return run_virtual(
            functools.partial(
                scenario,
                deltas=args.deltas,
                steps=args.steps,
                tools=args.tools,
                rate=rate,
                reader=reader,
                fallback=fallback,
            )
        )

    for rate in (50.0, 500.0):
        for reader in (True, False):
            result = scripted(rate, reader)
            seconds = args.deltas / args.steps / rate
            rows.append((f"{int(rate)}/s", reader, seconds, result))
            if reader:
                fallbacks[f"{int(rate)}/s"] = scripted(rate, True, fallback=True)
    long = run_virtual(
        lambda: scenario(deltas=args.deltas, steps=1, tools=0, rate=50.0, reader=True)
    )
    long_fallback = run_virtual(
        lambda: scenario(
            deltas=args.deltas, steps=1, tools=0, rate=50.0, reader=True, fallback=True
        )
    )
    print(f"agent: {args.steps} model steps, {args.tools} tool calls, {args.deltas} text deltas")
    print(
        "| speed | reader | streaming per model step | Workflow steps | D1 calls / statements "
        "per agent step, max | stream writes per model step that goes on: max, mean "
        "| last model step (ends the run): its Durable Object calls | bound "
        "| tool step | reader's subrequests: socket / long-poll fallback "
        "| latency p50 / p99 / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for speed, reader, seconds, r in rows:
        bound = 2 + (4 * seconds if reader else seconds / 2)
        latency = (
            f"{r['p50_latency_ms']:.0f} / {r['p99_latency_ms']:.0f} / {r['max_latency_ms']:.0f} ms"
            if r["p50_latency_ms"] is not None
            else "—"
        )
        end = ", ".join(f"{m} {n}" for m, n in sorted(r["final_step_calls"].items()))
        polled = fallbacks.get(speed)
        reader_cost = f"{_subrequests(r)} / {_subrequests(polled)}" if reader and polled else "—"
        print(
            f"| {speed} | {'yes' if reader else 'no'} | {seconds:g} s | {r['workflow_steps']} "
            f"({r['model_steps']} + {r['tool_steps']}) "
            f"| {r['max_d1_calls_per_agent_step']} / {r['max_d1_statements_per_agent_step']} "
            f"(mean {r['mean_d1_statements_per_agent_step']:.2f}) "
            f"| {r['max_streaming_writes']}, {r['mean_streaming_writes']:.1f} | {end} "
            f"| {bound:g} | {r['tool_step_do_calls']} write | {reader_cost} | {latency} |"
        )
    for speed, reader, seconds, r in rows:
        bound = 2 + (4 * seconds if reader else seconds / 2)
        print(
            f"{speed}, {'a reader' if reader else 'no reader'}: every model step, max "
            f"{r['max_writes_all_steps']}, mean {r['mean_writes_all_steps']:.2f} writes "
            f"(bound {bound:g}): {'within' if r['max_writes_all_steps'] <= bound else 'OVER'}"
        )
    print(
        f"one model step streaming all {args.deltas} deltas at 50/s with a reader: "
        f"{sum(long['final_step_calls'].values())} Durable Object calls in the step "
        f"(latency p99 {long['p99_latency_ms']:.0f} ms, max {long['max_latency_ms']:.0f} ms); "
        f"the reader's subrequests: {_subrequests(long)} over a socket, "
        f"{_subrequests(long_fallback)} long-polling"
    )
    for speed, polled in fallbacks.items():
        print(
            f"long-poll fallback at {speed}: latency p50 / p99 / max "
            f"{polled['p50_latency_ms']:.0f} / {polled['p99_latency_ms']:.0f} / "
            f"{polled['max_latency_ms']:.0f} ms"
        )
    print(
        f"long-poll fallback, one step at 50/s: latency p50 / p99 / max "
        f"{long_fallback['p50_latency_ms']:.0f} / {long_fallback['p99_latency_ms']:.0f} / "
        f"{long_fallback['max_latency_ms']:.0f} ms"
    )


def _subrequests(result: dict[str, Any]) -> str:
    """An SSE response's subrequests, and how many of them went to the Durable Object."""
    return f"{result['reader_subrequests']} ({result['reader_do_subrequests']} DO)"


if __name__ == "__main__":
    main()
