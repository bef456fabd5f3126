"""The same agent workload on helix-agents and its peers, interleaved in one invocation.

    make bench-peers        # installs the peers into .venv-peers, then runs this
    UV_PROJECT_ENVIRONMENT=.venv-peers uv run --no-dev --group peers \\
        python -m benchmarks.peers [--steps 10,50,200,1000] [--rounds 1] [--peers ...]

The peers are the ``peers`` dependency group of pyproject.toml, never installed with the
project (``uv sync`` installs the ``dev`` group only). The workload: a scripted model that
answers at once calls a no-op tool on each of N agent steps, then answers "done"; whole
runs are timed, from the call that starts the run to its result. Every framework runs its
own idiomatic form of it:

- ``helix``: a ``FunctionModel`` on the local host (SQLite state, stream log and engine
  journal: durable, streamed);
- ``langgraph-sqlite``: a ``StateGraph`` (a model node, the prebuilt ``ToolNode``) with
  ``SqliteSaver`` checkpoints (durable);
- ``pydantic-ai-dbos``: a pydantic-ai ``Agent`` on its ``FunctionModel`` wrapped in
  ``DBOSAgent``, DBOS on SQLite, the tool a DBOS step (durable);
- ``openai-agents-sqlite``: the OpenAI Agents SDK's ``Runner`` with a scripted ``Model`` and
  an ``SQLiteSession`` (the conversation is stored; a run is not resumable);
- ``pydantic-ai-memory``: the same pydantic-ai agent without DBOS (nothing stored).

Each (framework, N) pair runs in a fresh process (two warm-up runs of 2 steps, then the
measured run), so peak RSS is the framework's own; the order rotates across sizes and
rounds, so a slow spell of a shared machine hits every framework alike. Per run: ms per
agent step (wall time, and the process's CPU time, every thread of it, which a loaded
machine inflates far less), bytes written per step (the process's ``wchar`` in /proc/self/io across the
measured run: every ``write`` and ``pwrite``, the databases' logs and checkpoints), and peak
RSS. "growth" is ms per step at the largest N over ms per step at the smallest.

The scripted models decide in O(1) per call (they count the steps done, not the history);
what each framework does besides (usage accounting, validation, persistence) is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

PEERS = (
    "helix",
    "langgraph-sqlite",
    "pydantic-ai-dbos",
    "openai-agents-sqlite",
    "pydantic-ai-memory",
)
DURABLE = {
    "helix": "yes",
    "langgraph-sqlite": "yes",
    "pydantic-ai-dbos": "yes",
    "openai-agents-sqlite": "sessions only",
    "pydantic-ai-memory": "no",
}

#: One run of ``steps`` agent steps in ``tmp``: its wall time in seconds.
Runner = Callable[[int, str, Path], Awaitable[float]]


def _wchar() -> int:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- helix-agents ----------------------------------------------------------------------------


async def _helix(tmp: Path) -> Callable[[int, str], Awaitable[float]]:
    from helix_agents import Agent, tool
    from helix_agents.hosts.local import LocalHost
    from helix_agents.testing import FunctionModel, call_tool

    @tool
    def noop(i: int) -> int:
        """Return its argument."""
        return i

    target = {"n": 0}

    def decide(messages: list[Any], info: Any) -> Any:
        done = (len(messages) - 1) // 2
        return call_tool("noop", i=done) if done < target["n"] else "done"

    agent = Agent(name="bench", tools=[noop], model=FunctionModel(decide), max_steps=100_000)
    host = await LocalHost([agent], tmp / "helix", sweep_interval=None).start()

    async def run(steps: int, label: str) -> float:
        target["n"] = steps
        start = time.perf_counter()
        record = await (await host.executor.execute("bench", label)).result()
        elapsed = time.perf_counter() - start
        assert record.status == "completed", record
        return elapsed

    return run


# -- LangGraph + SqliteSaver -----------------------------------------------------------------


async def _langgraph(tmp: Path) -> Callable[[int, str], Awaitable[float]]:
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool as lc_tool
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    @lc_tool
    def noop(i: int) -> int:
        """Return its argument."""
        return i

    target = {"n": 0}

    def model(state: MessagesState) -> dict[str, Any]:
        done = (len(state["messages"]) - 1) // 2
        if done < target["n"]:
            call = {"name": "noop", "args": {"i": done}, "id": f"call_{done}"}
            return {"messages": [AIMessage(content="", tool_calls=[call])]}
        return {"messages": [AIMessage(content="done")]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode([noop]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    conn = sqlite3.connect(tmp / "langgraph.sqlite", check_same_thread=False)
    app = graph.compile(checkpointer=SqliteSaver(conn))

    async def run(steps: int, label: str) -> float:
        target["n"] = steps
        config: Any = {"configurable": {"thread_id": label}, "recursion_limit": 2 * steps + 10}
        start = time.perf_counter()
        out = app.invoke({"messages": [HumanMessage(content="go")]}, config)
        elapsed = time.perf_counter() - start
        assert out["messages"][-1].content == "done", out["messages"][-1]
        return elapsed

    return run


# -- pydantic-ai (in memory, and with DBOS on SQLite) ----------------------------------------


def _pydantic_agent(target: dict[str, int], tool_fn: Callable[[int], int]) -> Any:
    from pydantic_ai import Agent as PydanticAgent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def decide(messages: list[Any], info: AgentInfo) -> ModelResponse:
        done = (len(messages) - 1) // 2
        if done < target["n"]:
            part = ToolCallPart("noop", {"i": done}, tool_call_id=f"call_{done}")
            return ModelResponse(parts=[part])
        return ModelResponse(parts=[TextPart("done")])

    agent = PydanticAgent(FunctionModel(decide), name="bench")

    @agent.tool_plain
    def noop(i: int) -> int:
        """Return its argument."""
        return tool_fn(i)

    return agent


async def _pydantic_memory(tmp: Path) -> Callable[[int, str], Awaitable[float]]:
    from pydantic_ai.usage import UsageLimits

    target = {"n": 0}
    agent = _pydantic_agent(target, lambda i: i)

    async def run(steps: int, label: str) -> float:
        target["n"] = steps
        start = time.perf_counter()
        result = await agent.run("go", usage_limits=UsageLimits(request_limit=None))
        elapsed = time.perf_counter() - start
        assert result.output == "done", result.output
        return elapsed

    return run


async def _pydantic_dbos(tmp: Path) -> Callable[[int, str], Awaitable[float]]:
    from dbos import DBOS
    from pydantic_ai.durable_exec.dbos import DBOSAgent
    from pydantic_ai.usage import UsageLimits

    DBOS(config={"name": "bench", "system_database_url": f"sqlite:///{tmp / 'dbos.sqlite'}"})

    @DBOS.step()
    def noop_step(i: int) -> int:
        return i

    target = {"n": 0}
    agent = DBOSAgent(_pydantic_agent(target, noop_step))
    DBOS.launch()

    async def run(steps: int, label: str) -> float:
        target["n"] = steps
        start = time.perf_counter()
        result = await agent.run("go", usage_limits=UsageLimits(request_limit=None))
        elapsed = time.perf_counter() - start
        assert result.output == "done", result.output
        return elapsed

    return run


# -- OpenAI Agents SDK + SQLiteSession -------------------------------------------------------


async def _openai_agents(tmp: Path) -> Callable[[int, str], Awaitable[float]]:
    from agents import Agent as OpenAIAgent
    from agents import Runner as OpenAIRunner
    from agents import SQLiteSession, function_tool, set_tracing_disabled
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    set_tracing_disabled(True)
    target = {"n": 0, "done": 0}

    class Scripted(Model):
        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            done = target["done"]
            output: list[Any]
            if done < target["n"]:
                target["done"] = done + 1
                output = [
                    ResponseFunctionToolCall(
                        type="function_call",
                        name="noop",
                        arguments=json.dumps({"i": done}),
                        call_id=f"call_{done}",
                        id=f"fc_{done}",
                        status="completed",
                    )
                ]
            else:
                text = ResponseOutputText(type="output_text", text="done", annotations=[])
                output = [
                    ResponseOutputMessage(
                        id="msg",
                        type="message",
                        role="assistant",
                        status="completed",
                        content=[text],
                    )
                ]
            return ModelResponse(output=output, usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    @function_tool
    def noop(i: int) -> int:
        """Return its argument."""
        return i

    agent = OpenAIAgent(name="bench", tools=[noop], model=Scripted())

    async def run(steps: int, label: str) -> float:
        target["n"], target["done"] = steps, 0
        session = SQLiteSession(label, str(tmp / "openai.sqlite"))
        start = time.perf_counter()
        result = await OpenAIRunner.run(agent, "go", session=session, max_turns=steps + 5)
        elapsed = time.perf_counter() - start
        assert result.final_output == "done", result.final_output
        return elapsed

    return run


_SETUP: dict[str, Callable[[Path], Awaitable[Callable[[int, str], Awaitable[float]]]]] = {
    "helix": _helix,
    "langgraph-sqlite": _langgraph,
    "pydantic-ai-dbos": _pydantic_dbos,
    "openai-agents-sqlite": _openai_agents,
    "pydantic-ai-memory": _pydantic_memory,
}


async def _child(peer: str, steps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        run = await _SETUP[peer](tmp)
        await run(2, "warm-up")
        await run(2, "warm-up 2")
        before, cpu = _wchar(), time.process_time()
        elapsed = await run(steps, "measured")
        cpu = time.process_time() - cpu
        written = _wchar() - before
        if peer == "pydantic-ai-dbos":
            from dbos import DBOS

            DBOS.destroy()
    return {
        "ms_per_step": elapsed * 1000 / steps,
        "cpu_ms_per_step": cpu * 1000 / steps,
        "bytes_per_step": written / steps,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _spawn(peer: str, steps: int) -> dict[str, float] | None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers", "--child", peer, str(steps)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"{peer} at {steps} steps failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="10,50,200,1000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--child", nargs=2, metavar=("PEER", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        peer, steps = args.child[0], int(args.child[1])
        print(json.dumps(asyncio.run(_child(peer, steps))))
        return
    sizes = [int(s) for s in args.steps.split(",")]
    peers = [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; known: {', '.join(PEERS)}")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    turn = 0
    for _ in range(args.rounds):
        for steps in sizes:
            order = peers[turn % len(peers) :] + peers[: turn % len(peers)]
            turn += 1
            for peer in order:
                out = _spawn(peer, steps)
                if out is not None:
                    results.setdefault((peer, steps), []).append(out)
                    print(
                        f"  {peer} N={steps}: {out['ms_per_step']:.2f} ms/step",
                        file=sys.stderr,
                        flush=True,
                    )
    table = _table(peers, sizes, results)
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        _print(table, sizes)


def _table(
    peers: list[str], sizes: list[int], results: dict[tuple[str, int], list[dict[str, float]]]
) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for peer in peers:
        row: dict[str, Any] = {"durable": DURABLE[peer]}
        for steps in sizes:
            runs = results.get((peer, steps), [])
            row[str(steps)] = statistics.median(r["ms_per_step"] for r in runs) if runs else None
            row[f"cpu{steps}"] = (
                statistics.median(r["cpu_ms_per_step"] for r in runs) if runs else None
            )
        measured = [results[(peer, n)] for n in sizes if (peer, n) in results]
        every = [r for runs in measured for r in runs]
        if every:
            largest = list(results.get((peer, max(sizes)), []))
            row["bytes_per_step"] = statistics.median(
                r["bytes_per_step"] for r in (largest or every)
            )
            row["peak_rss_mib"] = max(r["peak_rss_mib"] for r in every)
        first, last = row.get(str(min(sizes))), row.get(str(max(sizes)))
        row["growth"] = last / first if first and last else None
        first, last = row.get(f"cpu{min(sizes)}"), row.get(f"cpu{max(sizes)}")
        row["cpu_growth"] = last / first if first and last else None
        table[peer] = row
    return table


def _print(table: dict[str, dict[str, Any]], sizes: list[int]) -> None:
    for title, key, growth_key in (
        ("wall ms per agent step", "", "growth"),
        ("CPU ms per agent step", "cpu", "cpu_growth"),
    ):
        head = " | ".join(f"N={n}" for n in sizes)
        print(f"| {title} | {head} | growth | peak RSS | written per step | durable |")
        print("|---" * (len(sizes) + 5) + "|")
        for peer, row in table.items():
            cells = " | ".join(_ms(row.get(f"{key}{n}")) for n in sizes)
            growth = f"{row[growth_key]:.1f}x" if row.get(growth_key) else "—"
            rss = f"{row['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in row else "—"
            written = f"{row['bytes_per_step'] / 1024:.1f} KiB" if "bytes_per_step" in row else "—"
            print(f"| {peer} | {cells} | {growth} | {rss} | {written} | {row['durable']} |")
        helix = table.get("helix", {})
        for n in sizes:
            ours = helix.get(f"{key}{n}")
            durable = [
                row[f"{key}{n}"]
                for peer, row in table.items()
                if peer != "helix" and row["durable"] == "yes" and row.get(f"{key}{n}")
            ]
            if ours and durable:
                print(f"N={n}: fastest durable peer / helix = {min(durable) / ours:.1f}x")
        print()


def _ms(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


if __name__ == "__main__":
    os.environ.setdefault("DBOS__APPNAME", "bench")
    main()
