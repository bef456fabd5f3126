"""A second local host serving the ``researcher`` agent over HTTP, as its own process: the
remote deployment of the remote sub-agent tests.

    python -m tests.subagents.remote_server DATA_DIR

Prints ``URL <base url>`` once it listens, then serves until it is terminated. The model
streams slowly (eight pieces over about a second and a half), so a parent killed while it
follows the remote finds the remote still running when it comes back.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from helix_agents import Agent, AgentRegistry
from helix_agents.hosts.local.host import LocalHost
from helix_agents.http import create_app
from helix_agents.testing import FunctionModel
from tests.http.harness import serve_on_loopback


async def _researcher(messages: list[Any], info: Any) -> Any:
    for i in range(8):
        await asyncio.sleep(0.2)
        yield f"part{i} "
    yield f"found: {info.last_user_message}"


RESEARCHER = Agent(name="researcher", model=FunctionModel(stream_function=_researcher))


async def main() -> None:
    data = Path(sys.argv[1])
    host = await LocalHost(AgentRegistry([RESEARCHER]), data).start()
    app = create_app(host, environ={})
    url, _server, task = await serve_on_loopback(app)
    print("URL", url, flush=True)
    try:
        await task
    finally:
        await host.close()


if __name__ == "__main__":
    asyncio.run(main())
