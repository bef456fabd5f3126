"""A local host process that SIGKILLs itself at the last write of a run, once.

    python -m tests.crash.final_write_host DATA_DIR RUNS MODE

(RUNS is ignored: the harness of tests/support/crashing.py passes it; there is one run.)

The run's last model step commits the run's end to the database, then writes the tail of
its response and the stream's end in one write. MODE ``before`` kills the process just
before that write (it never lands), ``after`` just after it (it landed, the step was not
recorded). A marker file makes the kill happen once: started again, the host resumes the
run, the step's retry repairs the stream, and the process prints ``ALL DONE <status>``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.testing import FunctionModel, call_tool

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".crash-final")
MODE = sys.argv[3] if len(sys.argv) > 3 else "before"
SESSION = "final-1"
WORDS = [f"word{i} " for i in range(40)]


@tool
def lookup(city: str) -> str:
    """Look a city up.

    Args:
        city: The city.
    """
    return f"{city}: sunny"


async def _stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
    if not info.tool_results:
        yield call_tool("lookup", city="Paris")
        return
    for word in WORDS:
        await asyncio.sleep(0.01)  # the local writer flushes between words
        yield word


AGENT = Agent(name="finisher", tools=[lookup], model=FunctionModel(stream_function=_stream))


def _die() -> None:
    marker = DATA / "killed"
    with open(marker, "w") as f:
        f.write(MODE)
        f.flush()
        os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    async with LocalHost([AGENT], DATA / "host") as host:
        real_write = host.streams.write

        async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
            if status is not None and not (DATA / "killed").exists():
                if MODE == "after":
                    await real_write(stream_id, chunks, status=status)
                _die()
            return await real_write(stream_id, chunks, status=status)

        host.streams.write = write  # type: ignore[method-assign]
        if await host.store.latest_run(SESSION) is None:
            handle = await host.executor.execute("finisher", "go", session_id=SESSION)
        else:
            found = await host.executor.get_handle(SESSION)
            assert found is not None
            handle = found
        result = await handle.result(timeout=60)
        print("ALL DONE", result.status.value, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
