"""A local host process whose agent's tool is an MCP server's, for the MCP kill test.

    python -m tests.crash.mcp_host DATA_DIR RUNS

Like :mod:`tests.crash.crash_host`, but the tool that records a side effect is the
``record`` tool of the real MCP test server (tests/mcp_protocol/server_app.py) over stdio:
one process the host starts at the first listing and keeps for every call, gone with a
killed host (the test kills the host's process group; a server outside it would see its
stdin close). Each
effect is a line in ``DATA_DIR/effects.log``, written by the server.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from helix_agents import Agent
from helix_agents.hosts.local import LocalHost
from helix_agents.mcp import MCPServerStdio
from helix_agents.messages import AssistantMessage
from helix_agents.testing import FunctionModel, call_tool
from tests.mcp_protocol._server import ROOT, STDIO_ARGS, STDIO_COMMAND

#: The calls of a run, step by step: eight steps of one or two calls (each call takes 0.4 s
#: in the server: a run takes over 3 s after the host's start, so kills land mid-run).
STEPS = [["a", "b"], ["c"], ["d", "e"], ["f"], ["g", "h"], ["i"], ["j"], ["k"]]


async def _stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
    job = str(messages[0].content).split()[-1]
    done = sum(isinstance(m, AssistantMessage) for m in messages)  # model steps so far
    await asyncio.sleep(0.02)
    if done < len(STEPS):
        for label in STEPS[done]:
            yield call_tool("record", key=f"job{job}/{label}", label=label)
    else:
        yield "recorded: " + ", ".join(str(r.content) for r in info.tool_results)


def agent(effects: Path) -> Agent:
    server = MCPServerStdio(
        command=STDIO_COMMAND,
        args=STDIO_ARGS,
        cwd=str(ROOT),
        env={"HELIX_MCP_EFFECTS": str(effects)},
        name="effects",
    )
    return Agent(
        name="mcp-worker", model=FunctionModel(stream_function=_stream), mcp_servers=[server]
    )


async def main(data: Path, runs: int) -> None:
    async with LocalHost([agent(data / "effects.log")], data / "host") as host:
        handles = []
        for i in range(runs):
            session_id = f"mcp-{i}"
            if await host.store.latest_run(session_id) is None:
                handle = await host.executor.execute(
                    "mcp-worker", f"job {i}", session_id=session_id
                )
            else:
                handle = await host.executor.get_handle(session_id)
                assert handle is not None
            handles.append(handle)
        results = await asyncio.gather(*(h.result(timeout=120) for h in handles))
        print("ALL DONE", " ".join(sorted({r.status.value for r in results})), flush=True)


if __name__ == "__main__":
    DATA = Path(sys.argv[1])
    DATA.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(DATA, int(sys.argv[2])))
