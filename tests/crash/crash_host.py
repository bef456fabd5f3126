"""A local host process for the crash tests: started, SIGKILLed and restarted by the test.

    python -m tests.crash.crash_host DATA_DIR RUNS

It makes sure RUNS sessions exist, each with one run of the ``worker`` agent (a turn of
several steps and tool calls), lets the host finish them (resuming whatever a previous
process left unfinished), prints ``ALL DONE`` and exits. Every tool execution appends a
line to ``DATA_DIR/effects.log`` *outside* the runtime: that is how the test counts how
often each tool call really ran.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".crash")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def _log(line: str) -> int:
    """Append a line durably and return how many lines for this call id exist so far."""
    path = DATA / "effects.log"
    with open(path, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    key = line.split()[1]
    with open(path) as f:
        return sum(1 for text in f if text.split()[1] == key and text.startswith("exec "))


@tool
async def record(ctx: ToolContext, label: str) -> str:
    """Record a side effect."""
    # The execution number goes into the result: the test compares the persisted result
    # with the log to prove that no tool ran again after its result was saved.
    n = _log(f"exec {ctx.session_id}/{ctx.tool_call_id} {label}")
    await asyncio.sleep(0.08)
    return f"{label}#{n}"


async def _stream(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    for word in ("working ", "on ", "it ", "in ", f"step {done} "):
        await asyncio.sleep(0.07)
        yield word
    if done == 0:
        yield call_tool("record", label="a")
        yield call_tool("record", label="b")
    elif done == 2:
        yield call_tool("record", label="c")
    elif done == 3:
        yield call_tool("record", label="d")
        yield call_tool("record", label="e")
    else:
        yield "finished: " + ", ".join(str(r.content) for r in info.tool_results)


AGENT = Agent(name="worker", tools=[record], model=FunctionModel(stream_function=_stream))


async def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    async with LocalHost([AGENT], DATA / "host") as host:
        store = host.store
        handles = []
        for i in range(RUNS):
            session_id = f"crash-{i}"
            latest = await store.latest_run(session_id)
            if latest is None:
                handle = await host.executor.execute("worker", f"job {i}", session_id=session_id)
            else:
                handle = await host.executor.get_handle(session_id)
                assert handle is not None
            handles.append(handle)
        results = await asyncio.gather(*(h.result(timeout=120) for h in handles))
        statuses = sorted({r.status.value for r in results})
        print("ALL DONE", " ".join(statuses), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
