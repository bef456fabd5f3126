"""A local host process serving the HTTP API, for the schedule crash tests: started,
SIGKILLed and restarted by the test, which makes its schedules over HTTP.

    python -m tests.crash.schedule_host DATA_DIR [CRASH_AT]

It writes the port it listens on to ``DATA_DIR/port`` and serves until killed. Each model
call of the ``echo`` agent appends a line to ``DATA_DIR/effects.log`` (outside the runtime),
so the test counts how often a scheduled turn really ran. ``CRASH_AT`` kills the process
itself (``os._exit``) at one exact moment of the first firing it meets: ``after-claim``
(the due time claimed, no run started) or ``before-launch`` (the run recorded, its
instance not created).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from helix_agents import Agent
from helix_agents.core.starter import RunStarter
from helix_agents.hosts.local import LocalHost
from helix_agents.http import create_app
from helix_agents.messages import UserMessage
from helix_agents.store.schedules import ScheduleStore
from helix_agents.testing import FunctionModel

DATA = Path(sys.argv[1])
CRASH_AT = sys.argv[2] if len(sys.argv) > 2 else ""


def _log(line: str) -> None:
    with open(DATA / "effects.log", "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


async def _stream(messages: list[Any], info: Any) -> Any:
    last = [m for m in messages if isinstance(m, UserMessage)][-1]
    _log(f"turn {last.id}")
    for word in ("on ", "it ", "now"):
        await asyncio.sleep(0.05)
        yield word


def _install_crash(point: str) -> None:
    marker = DATA / f"crashed-{point}"
    if not point or marker.exists():
        return

    def die() -> None:
        marker.write_text("1")
        os._exit(137)

    if point == "after-claim":
        claim = ScheduleStore.claim

        async def claim_then_die(self: ScheduleStore, *args: Any, **kwargs: Any) -> Any:
            found = await claim(self, *args, **kwargs)
            die()
            return found

        ScheduleStore.claim = claim_then_die  # type: ignore[method-assign]
    elif point == "before-launch":

        async def launch_never(self: RunStarter, params: Any) -> None:
            die()

        RunStarter.launch = launch_never  # type: ignore[method-assign]


async def main() -> None:
    _install_crash(CRASH_AT)
    agent = Agent(name="echo", model=FunctionModel(stream_function=_stream))
    async with LocalHost([agent], DATA / "host", sweep_interval=0.5) as host:
        app = create_app(host, environ={})
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        tmp = DATA / "port.tmp"
        tmp.write_text(str(port))
        tmp.replace(DATA / "port")
        await task


if __name__ == "__main__":
    asyncio.run(main())
