"""The conformance harness over :class:`LocalEngine`, on fake time."""

from __future__ import annotations

from pathlib import Path

from helix_agents.hosts.local.engine import LocalEngine, LocalLauncher
from helix_agents.ports.launcher import InstanceStatus
from tests.conformance.step_suite import ManualClock, WorkflowFn


class LocalEngineHarness:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = ManualClock()
        self.workflows: dict[str, WorkflowFn] = {}
        self.engine = self._new_engine()
        self.restarts = 0

    def _new_engine(self) -> LocalEngine:
        engine = LocalEngine(self.path, clock=self.clock, sleep=self.clock.sleep)
        for name, fn in self.workflows.items():
            engine.register(name, fn)
        return engine

    async def start(self) -> None:
        await self.engine.start()

    def register(self, workflow: str, fn: WorkflowFn) -> None:
        self.workflows[workflow] = fn
        self.engine.register(workflow, fn)

    def launcher(self, workflow: str) -> LocalLauncher:
        return self.engine.workflow(workflow)

    async def restart(self) -> None:
        # close() cancels the instance tasks without writing anything for them: as far as
        # the journal is concerned, the process died here.
        await self.engine.close()
        self.engine = self._new_engine()
        self.restarts += 1
        await self.engine.start()

    async def wait(self, instance_id: str) -> InstanceStatus:
        return await self.engine.wait(instance_id, timeout=10)

    async def close(self) -> None:
        await self.engine.close()
