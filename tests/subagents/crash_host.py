"""A local host process for the sub-agent crash test: started, SIGKILLed and restarted.

    python -m tests.subagents.crash_host DATA_DIR RUNS

RUNS sessions of the ``lead`` agent, each delegating two tasks at once to the ``worker``
sub-agent and then a third, each worker turn making three tool calls over three steps. The process lets the host
finish them (resuming whatever a previous process left unfinished), prints ``ALL DONE``
and exits. Each tool execution appends to ``DATA_DIR/effects.log`` outside the runtime.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".crash-sub")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 4


def _log(key: str, label: str) -> int:
    """Append an execution durably; how many executions of ``key`` there were so far."""
    with open(DATA / "effects.log", "a") as f:
        f.write(f"exec {key} {label}\n")
        f.flush()
        os.fsync(f.fileno())
    with open(DATA / "effects.log") as f:
        return sum(1 for line in f if line.split()[1] == key)


@tool
async def record(ctx: ToolContext, label: str) -> str:
    """Record a side effect."""
    await asyncio.sleep(0.2)
    n = _log(f"{ctx.session_id}/{ctx.tool_call_id}", label)
    return f"{label}#{n}"


async def _worker(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    await asyncio.sleep(0.15)
    if done < 3:
        yield f"step {done} "
        yield call_tool("record", label=f"{info.last_user_message}-{done}")
    else:
        yield "worker: " + ",".join(str(r.content) for r in info.tool_results)


async def _lead(messages: list[Any], info: Any) -> Any:
    await asyncio.sleep(0.05)
    if not info.tool_results:
        yield call_tool("ask_worker", message="x")
        yield call_tool("ask_worker", message="y")
    elif len(info.tool_results) == 2:
        yield call_tool("ask_worker", message="z")
    else:
        yield "lead: " + " | ".join(str(r.content) for r in info.tool_results)


WORKER = Agent(name="worker", tools=[record], model=FunctionModel(stream_function=_worker))
LEAD = Agent(name="lead", tools=[subagent_tool(WORKER)], model=FunctionModel(stream_function=_lead))


async def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    async with LocalHost([LEAD], DATA / "host", sweep_interval=None) as host:
        sessions = [f"lead-{i}" for i in range(RUNS)]
        for i, session_id in enumerate(sessions):
            if await host.store.latest_run(session_id) is None:
                await host.executor.execute("lead", f"job {i}", session_id=session_id)
        # A parent's run may suspend and resume on its own: its session says when it is done.
        for session_id in sessions:
            while (await host.store.require_session(session_id)).status != "completed":  # noqa: ASYNC110
                await asyncio.sleep(0.03)
        print("ALL DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
