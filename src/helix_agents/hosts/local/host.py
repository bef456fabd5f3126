"""The local host: the same agents, run on a laptop with SQLite and the local step engine.

It wires the ports together: a SQLite state store, the local stream manager and the local
step engine, whose ``agent`` workflow runs :func:`helix_agents.core.loop.run_agent_workflow`.
On start it migrates the schema and resumes every unfinished instance, so a host killed
mid-run finishes its runs when it comes back. While it runs, a periodic task
(``sweep_interval`` seconds) fails suspensions that waited past their expiry and resumes
ready ones that a crash left behind (:meth:`~helix_agents.executor.Executor.sweep`: on
Cloudflare the cron trigger calls the same method).

A full disk pauses runs instead of failing them: the engine replays a run whose write
failed once writes succeed again, and :attr:`LocalHost.storage` (a
:class:`~.storage.StorageMonitor`) logs the outage once and reports it (``GET /health``).
A turn whose start was cut between its run record and its instance by the outage is
launched by the next sweep after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ...agent import Agent, AgentRegistry
from ...core.deps import RunDeps, wall_clock_ms
from ...core.loop import run_agent_workflow
from ...core.stream_writer import LOCAL_FLUSH_POLICY, FlushPolicy
from ...db.sqlite import SQLiteDatabase
from ...errors import StorageUnavailableError
from ...executor import Executor
from ...ports.model import Model
from ...ports.step import Step
from ...store import StateStore, migrate
from .engine import LocalEngine
from .lock import DataDirLock
from .storage import StorageMonitor, file_probe
from .streams import LocalStreamManager

__all__ = ["AGENT_WORKFLOW", "LocalHost"]

_log = logging.getLogger(__name__)

#: The workflow name the agent loop is registered under (as on Cloudflare).
AGENT_WORKFLOW = "agent"


class LocalHost:
    """Run agents locally. Use as ``async with LocalHost(registry, data_dir) as host:``."""

    def __init__(
        self,
        registry: AgentRegistry | Agent | list[Agent],
        data_dir: str | os.PathLike[str] = ".helix",
        *,
        resolve_model: Callable[[Model | str], Model] | None = None,
        flush_policy: FlushPolicy = LOCAL_FLUSH_POLICY,
        clock: Callable[[], int] = wall_clock_ms,
        sweep_interval: float | None = 30.0,
    ) -> None:
        self.registry = AgentRegistry.coerce(registry)
        self.sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self.data_dir = Path(data_dir)
        self._resolve_model = resolve_model
        self._flush_policy = flush_policy
        self._clock = clock
        self._started = False
        self._lock: DataDirLock
        self.db: SQLiteDatabase
        self.store: StateStore
        self.streams: LocalStreamManager
        self.engine: LocalEngine
        self.executor: Executor
        self.storage: StorageMonitor

    async def start(self) -> LocalHost:
        if self._started:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.data_dir)
        self._lock.acquire()
        self.db = SQLiteDatabase(self.data_dir / "state.db")
        await migrate(self.db)
        self.store = StateStore(self.db, clock=self._clock)
        self.streams = LocalStreamManager(self.data_dir / "streams.db")
        self.engine = LocalEngine(self.data_dir / "engine.db")
        self.storage = self.engine.storage
        self.storage.probe = functools.partial(file_probe, self.data_dir)
        launcher = self.engine.workflow(AGENT_WORKFLOW)
        deps = RunDeps(
            registry=self.registry,
            store=self.store,
            streams=self.streams,
            resolve_model=self._resolve_model or _default_resolver,
            flush_policy=self._flush_policy,
            clock=self._clock,
            launcher=launcher,
        )

        async def agent_workflow(event: dict[str, Any], step: Step) -> Any:
            return await run_agent_workflow(event["payload"], step, deps)

        self.engine.register(AGENT_WORKFLOW, agent_workflow)
        self.executor = Executor(
            registry=self.registry,
            store=self.store,
            streams=self.streams,
            launcher=launcher,
            clock=self._clock,
        )
        await self.engine.start()
        # Runs whose instance was never created (a crash mid-start) are launched now, and
        # suspensions whose decisions all arrived but whose resume never started resume.
        await self.executor.recover_lost_runs()
        await self.executor.sweep()
        if self.sweep_interval is not None:
            self._sweeper = asyncio.create_task(self._sweep_forever(self.sweep_interval))
        self._started = True
        return self

    async def _sweep_forever(self, interval: float) -> None:
        seen = self.storage.total_failures
        while True:
            await asyncio.sleep(interval)
            try:
                await self.executor.sweep()
                if self.storage.total_failures != seen and not self.storage.unavailable:
                    # A full disk may have cut a start between its run record and its
                    # instance, as a crash would: launch those runs now.
                    await self.executor.recover_lost_runs()
                    seen = self.storage.total_failures
            except StorageUnavailableError as exc:
                self.storage.failure(exc, "the periodic sweep")
            except Exception:  # a failed sweep is retried at the next tick
                _log.exception("the periodic sweep of suspensions failed")

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        try:
            await self.engine.close()
            await self.streams.close()
            await self.db.close()
        finally:
            self._lock.release()

    async def __aenter__(self) -> LocalHost:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _default_resolver(spec: Model | str) -> Model:
    from ...models import infer_model

    return infer_model(spec)
