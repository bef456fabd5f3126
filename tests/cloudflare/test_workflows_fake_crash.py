"""The Workflows fake after a crash, as the local engine behaves (tests/fakes_real holds
the two together): an interrupted instance stays `running` and idle until an event or a
wake runs it again from the top; completed steps are not run again."""

from __future__ import annotations

import asyncio
from typing import Any

from helix_agents.testing.cloudflare.shim import workers_module
from helix_agents.testing.cloudflare.workflows import FakeWorkflows


def _engine(calls: list[str]) -> FakeWorkflows:
    class Held(workers_module().WorkflowEntrypoint):  # type: ignore[misc]
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("before")
            async def before() -> str:
                calls.append("before")
                return "done"

            first = await before()
            received = await step.wait_for_event("hold", "release", timeout="1 hour")
            return {"before": first, "released": received["payload"]}

    engine = FakeWorkflows("held")
    engine.bind(lambda: Held(None, None))
    return engine


async def _status(engine: FakeWorkflows, instance_id: str) -> str:
    handle = await engine.binding.get(instance_id)
    status: str = (await handle.status())["status"]
    return status


async def test_a_crashed_instance_waits_for_an_event() -> None:
    calls: list[str] = []
    engine = _engine(calls)
    await engine.binding.create({"id": "a"})
    await asyncio.sleep(0.05)
    assert await _status(engine, "a") == "waiting"
    await engine.crash()
    await asyncio.sleep(0.05)
    assert await _status(engine, "a") == "running"
    assert engine._tasks == {}  # nothing runs it
    await (await engine.binding.get("a")).send_event({"type": "release", "payload": 7})
    status = await engine.wait("a", timeout=5)
    assert status["status"] == "complete"
    assert status["output"] == {"before": "done", "released": 7}
    assert calls == ["before"]  # the replay took the cached step
    await engine.stop()


async def test_a_crashed_instance_runs_again_when_woken() -> None:
    calls: list[str] = []
    engine = _engine(calls)
    await engine.binding.create({"id": "b"})
    await asyncio.sleep(0.05)
    await engine.crash()
    engine.wake("b")
    await asyncio.sleep(0.05)
    assert await _status(engine, "b") == "waiting"  # running again, at its wait
    await (await engine.binding.get("b")).send_event({"type": "release", "payload": None})
    assert (await engine.wait("b", timeout=5))["status"] == "complete"
    assert calls == ["before"]
    await engine.stop()
