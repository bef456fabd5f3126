"""A process for the crash test: runs one instance of a many-step workflow to its end.

    python -m tests.engine.crash_worker DB MARKERS

Each step appends ``start <name> <attempt> <pid>`` to MARKERS when its body begins and
``end <name> <attempt> <pid>`` when its side effect is done, just before it returns. The
test SIGKILLs this process at random moments and starts it again; the engine resumes the
instance each time. Prints ``ready`` once the engine runs, and the final status at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from typing import Any

from helix_agents.errors import InstanceExistsError
from helix_agents.hosts.local.engine import LocalEngine
from helix_agents.ports.step import Step, StepContext

INSTANCE = "crash-1"
SEQUENTIAL = 40
GROUPS = 10  # groups of GROUP_SIZE steps run concurrently with asyncio.gather
GROUP_SIZE = 4
CONFIG: Any = {"retries": {"limit": 100, "delay": 1, "backoff": "constant"}}


def step_names() -> list[str]:
    names = [f"seq-{i:02d}" for i in range(SEQUENTIAL)]
    names += [f"group-{g}/call-{c}" for g in range(GROUPS) for c in range(GROUP_SIZE)]
    return names


def main(db: str, markers: str) -> None:
    fd = os.open(markers, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()

    def mark(kind: str, ctx: StepContext) -> None:
        # One write(2) per line on an O_APPEND file: a line is whole or absent after a kill.
        os.write(fd, f"{kind} {ctx.name} {ctx.attempt} {pid}\n".encode())

    async def body(ctx: StepContext) -> Any:
        mark("start", ctx)
        await asyncio.sleep(random.uniform(0.0005, 0.004))
        mark("end", ctx)
        return {"name": ctx.name, "attempt": ctx.attempt}

    async def workflow(event: dict[str, Any], step: Step) -> Any:
        done = 0
        for i in range(SEQUENTIAL):
            await step.do(f"seq-{i:02d}", body, CONFIG)
            done += 1
            if i == SEQUENTIAL // 2:
                await step.sleep("halfway-nap", 30)
        for g in range(GROUPS):
            results = await asyncio.gather(
                *(step.do(f"group-{g}/call-{c}", body, CONFIG) for c in range(GROUP_SIZE))
            )
            done += len(results)
        return {"steps": done}

    async def run() -> None:
        engine = LocalEngine(db)
        engine.register("crash", workflow)
        await engine.start()
        try:
            await engine.workflow("crash").create(INSTANCE, {"steps": len(step_names())})
        except InstanceExistsError:
            pass
        print("ready", flush=True)
        status = await engine.wait(INSTANCE)
        print(json.dumps({"status": status.status, "output": status.output}), flush=True)
        await engine.close()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
