"""A local host process for the full-disk test: ``helix dev``'s server, plus a switch.

    python -m tests.crash.disk_host DATA_DIR PORT CONTROL_DIR

It serves the ``worker`` agent over HTTP exactly as ``helix dev`` does (the same app, the
same uvicorn configuration). Every tool execution appends a line to
``CONTROL_DIR/effects.log``, outside the data directory (which may be the full disk).

The switch, for machines where the test cannot mount a small filesystem: while the file
``CONTROL_DIR/fill`` exists, the host's three SQLite files are full for real (their
connections capped at the pages they have and that space taken by ballast,
``tests.support.full_disk``: writes fail with SQLite's own SQLITE_FULL); once it is
removed there is room again. ``CONTROL_DIR/filled`` tells the test which state holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from pathlib import Path
from typing import Any

import uvicorn

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.http.app import create_app
from helix_agents.http.serve import HostLifespan, server_config
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
from tests.support.full_disk import fill, free

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".disk")
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8799
CONTROL = Path(sys.argv[3]) if len(sys.argv) > 3 else DATA.parent


def _log(line: str) -> int:
    """Append a line and return how many executions of this call the log holds."""
    path = CONTROL / "effects.log"
    with open(path, "a") as f:
        f.write(line + "\n")
    key = line.split()[1]
    with open(path) as f:
        return sum(1 for text in f if text.split()[1] == key)


@tool
async def record(ctx: ToolContext, label: str) -> str:
    """Record a side effect."""
    # The execution number goes into the result: the test compares the stored result with
    # the log, to prove that no tool ran again once its result was stored.
    n = _log(f"exec {ctx.session_id}/{ctx.tool_call_id} {label}")
    await asyncio.sleep(0.1)
    return f"{label}#{n}"


async def _stream(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    for word in ("working ", "on ", "it, ", f"step {done} "):
        await asyncio.sleep(0.1)
        yield word
    if done < 5:
        yield call_tool("record", label=f"l{done}")
    else:
        yield "finished: " + ", ".join(str(r.content) for r in info.tool_results)


AGENT = Agent(
    name="worker", tools=[record], model=FunctionModel(stream_function=_stream), max_steps=12
)


def _connections(host: LocalHost) -> list[sqlite3.Connection]:
    # The writers' connections (one, shared, on the local host): a page cap holds per
    # connection.
    conns = [host.db._conn, host.streams._sql.conn, host.engine.journal._db]
    return list({id(c): c for c in conns if c is not None}.values())


async def _switch(host: LocalHost) -> None:
    full = False
    while True:
        await asyncio.sleep(0.05)
        wanted = (CONTROL / "fill").exists()
        if wanted == full or not hasattr(host, "executor"):  # not started yet
            continue
        for conn in _connections(host):
            (fill if wanted else free)(conn)
        full = wanted
        marker = CONTROL / "filled"
        if full:
            marker.write_text("full")
        else:
            marker.unlink(missing_ok=True)


async def main() -> None:
    local = LocalHost([AGENT], DATA)
    app = HostLifespan(create_app(local), local)
    server = uvicorn.Server(server_config(app, port=PORT, log_level="warning", lifespan="on"))
    switch = asyncio.create_task(_switch(local))
    try:
        await server.serve()
    finally:
        switch.cancel()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT: the test's way to stop us
        asyncio.run(main())
