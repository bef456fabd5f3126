"""A parent host for the remote sub-agent crash test: started, SIGKILLed and restarted.

    python -m tests.subagents.remote_crash_host DATA_DIR RUNS

RUNS sessions of the ``lead`` agent, each delegating one task to the ``researcher`` agent
of the remote deployment whose URL is in ``DATA_DIR/remote_url``. With ``DATA_DIR/kill-
after-start`` present, the process SIGKILLs itself the moment the remote answered the first
``POST /chat`` (the remote run exists, the parent recorded nothing after it), once: the
file is removed first. Prints ``ALL DONE`` when every parent completed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from helix_agents import Agent
from helix_agents.hosts.local import LocalHost
from helix_agents.subagents import remote_subagent_tool
from helix_agents.testing import FunctionModel, call_tool

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".crash-remote")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


class KillAfterStart(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        marker = DATA / "kill-after-start"
        if request.method == "POST" and request.url.path == "/chat" and marker.exists():
            marker.unlink()
            os.kill(os.getpid(), signal.SIGKILL)
        return response


def _lead(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("ask_remote", message=info.last_user_message)
    result = info.tool_results[-1]
    return f"lead: {result.status}={result.content}"


def lead(url: str) -> Agent:
    tool = remote_subagent_tool(
        "ask_remote", url, "researcher", timeout="2 minutes", transport=KillAfterStart()
    )
    return Agent(name="lead", tools=[tool], model=FunctionModel(_lead))


async def main() -> None:
    url = (DATA / "remote_url").read_text().strip()
    async with LocalHost([lead(url)], DATA / "host", sweep_interval=None) as host:
        sessions = [f"lead-{i}" for i in range(RUNS)]
        for i, session_id in enumerate(sessions):
            if await host.store.latest_run(session_id) is None:
                await host.executor.execute("lead", f"job {i}", session_id=session_id)
        for session_id in sessions:
            while (await host.store.require_session(session_id)).status != "completed":  # noqa: ASYNC110
                await asyncio.sleep(0.03)
        print("ALL DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
