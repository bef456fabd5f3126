"""Harnesses that put the Cloudflare host's adapters over the fakes, for the shared suites."""

from __future__ import annotations

from typing import Any

from helix_agents.hosts.cloudflare.launcher import WorkflowLauncher
from helix_agents.hosts.cloudflare.step import run_workflow
from helix_agents.ports.launcher import InstanceStatus
from helix_agents.testing.cloudflare.shim import workers_module
from helix_agents.testing.cloudflare.workflows import FakeWorkflows
from tests.conformance.step_suite import ManualClock, WorkflowFn


class WorkflowsHarness:
    """The Step/Launcher suite over ``WorkflowsStep`` + ``WorkflowLauncher`` on the fake
    Workflows engine, with each workflow function run by a ``WorkflowEntrypoint``
    subclass as the platform runs one."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.functions: dict[str, WorkflowFn] = {}
        self.engines: dict[str, FakeWorkflows] = {}

    def _engine(self, workflow: str) -> FakeWorkflows:
        engine = self.engines.get(workflow)
        if engine is None:
            engine = FakeWorkflows(workflow, clock=self.clock, sleep=self.clock.sleep)
            engine.bind(_entrypoint_factory(self, workflow))
            self.engines[workflow] = engine
        return engine

    def register(self, workflow: str, fn: WorkflowFn) -> None:
        self.functions[workflow] = fn
        self._engine(workflow)

    def launcher(self, workflow: str) -> WorkflowLauncher:
        return WorkflowLauncher(self._engine(workflow).binding)

    async def restart(self) -> None:
        for engine in self.engines.values():
            await engine.restart()

    async def wait(self, instance_id: str) -> InstanceStatus:
        for name, engine in self.engines.items():
            if instance_id in engine.instance_ids():
                await engine.wait(instance_id, timeout=10)
                return await self.launcher(name).status(instance_id)
        raise KeyError(instance_id)

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.stop()


def _entrypoint_factory(harness: WorkflowsHarness, workflow: str) -> Any:
    base = workers_module().WorkflowEntrypoint

    class Workflow(base):  # type: ignore[misc, valid-type]
        async def run(self, event: Any, step: Any) -> Any:
            return await run_workflow(harness.functions[workflow], event, step)

    return lambda: Workflow(None, None)


class DurableObjectStreamsHarness:
    """The StreamManager suite over :class:`DOStreamManager` and the real
    ``StreamManagerDO`` class on the fake namespace. With ``evict``, closing a manager also
    evicts every object, so the next manager meets freshly constructed objects over the same
    storage (a Durable Object's eviction or a deploy)."""

    persistent = True

    def __init__(self, *, evict: bool) -> None:
        from helix_agents.agent import AgentRegistry
        from helix_agents.hosts.cloudflare import CloudflareApp
        from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
        from helix_agents.testing.cloudflare.platform import FakeEnv

        self.evict = evict
        app = CloudflareApp(AgentRegistry([]))
        self.namespace = FakeDurableObjectNamespace(app.DurableObject, FakeEnv())

    async def open(self) -> Any:
        from helix_agents.hosts.cloudflare import DOStreamManager

        return DOStreamManager(self.namespace)

    async def close(self, streams: Any) -> None:
        if self.evict:
            await self.namespace.evict()
