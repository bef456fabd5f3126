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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ...agent import Agent, AgentRegistry
from ...clock import wall_clock_ms
from ...core.deps import RunDeps
from ...core.host_resources import HostResources
from ...core.loop import run_agent_workflow
from ...core.schedule_ops import ScheduleOps, check_jobs
from ...core.stream_writer import LOCAL_FLUSH_POLICY, FlushPolicy
from ...db.sqlite import SQLiteDatabase
from ...errors import StorageUnavailableError
from ...executor import Executor
from ...mcp.sessions import StdioSessions
from ...models import infer_model
from ...ports.model import Model
from ...ports.queues import ConsumerSettings
from ...ports.step import Step
from ...schedules import CronJob
from ...services import Services
from ...store import StateStore, migrate
from ...toolkits.queue import agent_task_handler
from ...tracing import TracingConfig, tracing_config
from .engine import LocalEngine, current_instance
from .lock import DataDirLock
from .queues import LocalQueueConsumer
from .services import local_services
from .storage import StorageMonitor, file_probe
from .streams import LocalStreamManager
from .upgrade import join_split_files

__all__ = ["AGENT_WORKFLOW", "DEV_QUEUE_CONSUMER", "STATE_FILE", "LocalHost"]

_log = logging.getLogger(__name__)

#: The data directory's SQLite file: the store, the engine's journal and the stream log.
STATE_FILE = "state.db"

#: The workflow name the agent loop is registered under (as on Cloudflare).
AGENT_WORKFLOW = "agent"

#: What ``helix dev`` consumes its queue ("default") with: the deployed Worker's consumer
#: settings (worker/wrangler.toml), poison messages ending in the queue "default-dlq".
DEV_QUEUE_CONSUMER = ConsumerSettings(
    max_batch_size=10, max_retries=3, dead_letter_queue="default-dlq"
)


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
        services: Services | None = None,
        vars: Mapping[str, str] | None = None,
        queue_consumer: ConsumerSettings | None = None,
        schedules: Sequence[CronJob] = (),
        tracing: TracingConfig | None = None,
    ) -> None:
        self.registry = AgentRegistry.coerce(registry)
        #: Where runs' spans go; by default what the ``OTEL_*`` variables among ``vars`` (the
        #: process environment by default) say, read at start (docs/tracing.md).
        self._tracing = tracing
        #: Cron jobs declared in code, made (once) when the host starts (docs/triggers.md).
        self._declared = check_jobs(self.registry, schedules)
        #: Given, the host consumes its queue ("default") while open, starting one run per
        #: message (``toolkits/queue.py``: agent tasks, ``hand_off``'s among them) under these
        #: settings, as a Worker's ``queue`` handler does; ``helix dev`` gives
        #: :data:`DEV_QUEUE_CONSUMER`.
        self._queue_settings = queue_consumer
        self._consumer: asyncio.Task[None] | None = None
        self._consumer_stop = asyncio.Event()
        #: Services given here replace the data directory's, one by one (``ctx.services``).
        self._given_services = services
        #: What agents' ``deps_factory`` read as ``vars`` (the process environment by default).
        self._vars = vars
        self.sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        #: Stdio MCP servers: one process per server, kept across calls (mcp/sessions.py).
        self._mcp_sessions = StdioSessions()
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
        self.services: Services

    async def start(self) -> LocalHost:
        if self._started:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.data_dir)
        self._lock.acquire()
        # One file for the store, the engine's journal and the stream log: a step's claim,
        # its chunks and its own write commit together (docs/engine.md, "One file").
        self.db = SQLiteDatabase(self.data_dir / STATE_FILE)
        await migrate(self.db)
        self.store = StateStore(self.db, clock=self._clock)
        self.engine = LocalEngine(self.db)
        self.streams = LocalStreamManager(self.db)
        self.streams.owner = current_instance
        # A data directory of an earlier version: its journal and streams join state.db.
        join_split_files(self.data_dir, Path(self.db.path))
        self.storage = self.engine.storage
        self.storage.probe = functools.partial(file_probe, self.data_dir)
        launcher = self.engine.workflow(AGENT_WORKFLOW)
        self.services = local_services(self.db, self.data_dir, clock=self._clock).merged(
            self._given_services
        )
        resources = HostResources(
            host="local",
            services=self.services,
            vars=self._vars if self._vars is not None else dict(os.environ),
        )
        resources.mcp_sessions = self._mcp_sessions
        deps = RunDeps(
            registry=self.registry,
            store=self.store,
            streams=self.streams,
            resolve_model=resources.model_resolver(self._resolve_model or _default_resolver),
            flush_policy=self._flush_policy,
            clock=self._clock,
            launcher=launcher,
            resources=resources,
            tracing=self._tracing or tracing_config(resources.vars),
        )

        async def agent_workflow(event: dict[str, Any], step: Step) -> Any:
            return await run_agent_workflow(event["payload"], step, deps)

        self.engine.register(AGENT_WORKFLOW, agent_workflow)
        # What schedule_toolkit's tool makes its follow-ups with.
        resources.scheduler = ScheduleOps(self.registry, self.store, launcher, self._clock)
        self.executor = Executor(
            registry=self.registry,
            store=self.store,
            streams=self.streams,
            launcher=launcher,
            clock=self._clock,
            resources=resources,
        )
        await self.engine.start()
        # Runs whose instance was never created (a crash mid-start) are launched now, and
        # suspensions whose decisions all arrived but whose resume never started resume.
        await self.executor.recover_lost_runs()
        await self.executor.declare_schedules(self._declared)
        await self.executor.sweep()
        if self.sweep_interval is not None:
            self._sweeper = asyncio.create_task(self._sweep_forever(self.sweep_interval))
        if self._queue_settings is not None:
            self._consumer_stop = asyncio.Event()
            consumer = LocalQueueConsumer(
                self.db, "default", agent_task_handler(self.executor), self._queue_settings
            )
            self._consumer = asyncio.create_task(consumer.run(self._consumer_stop))
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
        if self._consumer is not None:
            self._consumer_stop.set()
            with contextlib.suppress(Exception):
                await self._consumer
            self._consumer = None
        try:
            await self.engine.close()
            # After the engine: a call cut by a stopped session would be a failed call,
            # stored; a run stopped by the engine's close is retried after the restart.
            await self._mcp_sessions.aclose()
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
    # Called on every model step: imported once at the top (helix_agents.models is
    # imported with the package anyway), not here.
    return infer_model(spec)
