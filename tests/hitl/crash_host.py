"""A local host process for the approval crash test: started, SIGKILLed and restarted.

    python -m tests.hitl.crash_host DATA_DIR RUNS

It makes sure RUNS sessions exist, each running the ``payer`` agent: a turn whose first
response asks for two approval-gated transfers (``a`` and ``b``) and whose second asks for
one more (``c``), so each run suspends twice. The process plays the human too: it polls
the sessions and submits a decision for every undecided call it sees (``b`` is denied, the
others approved), as a client would, including again after a restart (a decision already
recorded is refused, and the refusal heals a resume a crash left unstarted). It prints
``ALL DONE`` once every run completed. Each transfer appends to ``DATA_DIR/effects.log``
outside the runtime, which is how the test counts executions; each decision appends to
``DATA_DIR/decisions.log``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.errors import ConflictError
from helix_agents.hosts.local import LocalHost
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".crash-hitl")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 4


def _append(name: str, line: str) -> None:
    with open(DATA / name, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _count(key: str) -> int:
    with open(DATA / "effects.log") as f:
        return sum(1 for text in f if text.split()[1] == key)


@tool(requires_approval=True)
async def transfer(ctx: ToolContext, label: str) -> str:
    """Move money (needs a human's yes)."""
    await asyncio.sleep(0.12)
    key = f"{ctx.session_id}/{ctx.tool_call_id}"
    _append("effects.log", f"exec {key} {label}")
    # The execution number goes into the result: the test compares it with the log.
    return f"{label}#{_count(key)}"


async def _stream(messages: list[Any], info: Any) -> Any:
    done = len(info.tool_results)
    for word in ("checking ", "the ", "books ", f"at {done} "):
        await asyncio.sleep(0.06)
        yield word
    if done == 0:
        yield call_tool("transfer", label="a")
        yield call_tool("transfer", label="b")
    elif done == 2:
        yield call_tool("transfer", label="c")
    else:
        yield "finished: " + ", ".join(f"{r.status}:{r.content}" for r in info.tool_results)


AGENT = Agent(name="payer", tools=[transfer], model=FunctionModel(stream_function=_stream))


async def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    async with LocalHost([AGENT], DATA / "host", sweep_interval=None) as host:
        store, executor = host.store, host.executor
        sessions = [f"pay-{i}" for i in range(RUNS)]
        for session_id in sessions:
            if await store.latest_run(session_id) is None:
                await executor.execute("payer", f"job {session_id}", session_id=session_id)
        while True:
            states = [await store.require_session(s) for s in sessions]
            if all(s.status == RunStatus.COMPLETED for s in states):
                break
            for state in states:
                if not state.status.is_suspended:
                    continue
                for pending in state.pending_client_tool_calls:
                    if pending.decision is not None:
                        continue
                    approved = pending.arguments.get("label") != "b"
                    try:
                        await executor.submit_tool_result(
                            state.session_id,
                            tool_call_id=pending.tool_call_id,
                            approved=approved,
                            reason=None if approved else "not b",
                        )
                    except ConflictError:
                        continue  # decided already (before a crash): it was not lost
                    _append(
                        "decisions.log",
                        f"{state.session_id}/{pending.tool_call_id} "
                        f"{'approved' if approved else 'denied'}",
                    )
            await asyncio.sleep(0.03)
        print("ALL DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
