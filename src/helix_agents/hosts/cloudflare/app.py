"""``CloudflareApp``: the agents, and the three classes a Worker exports to run them.

A user's ``src/entry.py`` is a few lines::

    from helix_agents.hosts.cloudflare import CloudflareApp
    from my_agents import registry

    app = CloudflareApp(registry)

    class Default(app.Worker): ...             # the HTTP API, WebSockets, the cron trigger
    class AgentWorkflow(app.Workflow): ...     # one instance per turn (and per resume)
    class StreamManagerDO(app.DurableObject): ...  # one per session: chunk logs, WebSockets

(``Default, AgentWorkflow, StreamManagerDO = app.entrypoints()`` works as well.) The class
names must be the ones ``wrangler.toml`` names. Constructing the app does no I/O and draws
no randomness: the runtime snapshots the module after importing it. Everything that needs
the bindings is built on an isolate's first request (:mod:`.runtime`).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from ...agent import Agent, AgentRegistry
from ...clock import wall_clock_ms
from ...core.loop import run_agent_workflow
from ...core.schedule_ops import check_jobs
from ...core.stream_writer import FlushPolicy
from ...ports.model import Model
from ...ports.step import Step, StepConfig
from ...rpc import RunApi
from ...schedules import CronJob
from ...services import Services
from . import ffi
from .flush import CLOUDFLARE_FLUSH_POLICY
from .runtime import Bindings, CloudflareRuntime
from .step import WorkflowAborted, run_workflow
from .stream_follow import ReaderPolicy
from .stream_hub import DEFAULT_STALE_MS, DEFAULT_TTL_MS, StreamHub
from .worker import handle_fetch

__all__ = ["CloudflareApp"]

#: Environments whose wiring is kept (one per isolate on the platform).
_MAX_RUNTIMES = 8


class CloudflareApp:
    """The Cloudflare host of an agent registry.

    - ``flush_policy``: how a step's chunks are batched into Durable Object writes
      (default :data:`~.flush.CLOUDFLARE_FLUSH_POLICY`; see ``docs/cloudflare.md``);
    - ``model_from_env``: run agents whose model is ``"test"`` on the model the Worker's env
      configures (:mod:`.models`); ``resolve_model`` replaces model resolution altogether;
    - ``bindings``: the binding names, if ``wrangler.toml`` uses others;
    - ``stream_ttl`` / ``stream_stale``: seconds an ended stream is kept, and after which a
      silent active stream is failed (:mod:`.stream_hub`);
    - ``reader_policy``: how an SSE response follows its stream (one WebSocket to the
      Durable Object, long polls as the fallback, a budget of subrequests; see
      :class:`~.stream_follow.ReaderPolicy`);
    - ``model_step_config`` / ``tool_step_config``: Workflows step configs for the loop;
    - ``schedules``: cron jobs declared in code (:class:`~helix_agents.schedules.CronJob`),
      made once, when an isolate first serves a request or a cron event (docs/triggers.md);
    - ``services``: a function of the Worker's ``env`` returning
      :class:`~helix_agents.services.Services` that replace the ones built from the
      bindings, service by service (``ctx.services``; see ``docs/services.md``);
    - any other keyword goes to :func:`helix_agents.http.create_app` (``auth``, ``token``,
      ``max_body_bytes``, ``keep_alive``, ``ui_version``, ``chat_page_enabled``).
    """

    def __init__(
        self,
        registry: AgentRegistry | Agent | list[Agent],
        *,
        flush_policy: FlushPolicy = CLOUDFLARE_FLUSH_POLICY,
        model_from_env: bool = False,
        resolve_model: Callable[[Model | str], Model] | None = None,
        bindings: Bindings | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        stream_ttl: float = DEFAULT_TTL_MS / 1000,
        stream_stale: float = DEFAULT_STALE_MS / 1000,
        model_step_config: StepConfig | None = None,
        tool_step_config: StepConfig | None = None,
        reader_policy: ReaderPolicy | None = None,
        services: Callable[[Any], Services] | None = None,
        schedules: Sequence[CronJob] = (),
        **http_options: Any,
    ) -> None:
        self.registry = AgentRegistry.coerce(registry)
        #: Cron jobs declared in code: made on an isolate's first request or cron event.
        self.schedules = check_jobs(self.registry, schedules)
        self.flush_policy = flush_policy
        self.model_from_env = model_from_env
        self.resolve_model = resolve_model
        self.bindings = bindings or Bindings()
        self.clock = clock
        self.stream_ttl = stream_ttl
        self.stream_stale = stream_stale
        self.model_step_config = model_step_config
        self.tool_step_config = tool_step_config
        self.reader_policy = reader_policy or ReaderPolicy()
        self.services = services
        self.http_options = http_options
        self._runtimes: OrderedDict[Any, tuple[Any, CloudflareRuntime]] = OrderedDict()

    # -- the classes a Worker exports ----------------------------------------------------------

    def entrypoints(self) -> tuple[type[Any], type[Any], type[Any]]:
        """``(Worker, Workflow, DurableObject)``: the Worker's default entrypoint, the
        agent Workflow and the StreamManager Durable Object of this app."""
        return self._classes

    @property
    def Worker(self) -> type[Any]:
        return self._classes[0]

    @property
    def Workflow(self) -> type[Any]:
        return self._classes[1]

    @property
    def DurableObject(self) -> type[Any]:
        return self._classes[2]

    @functools.cached_property
    def _classes(self) -> tuple[type[Any], type[Any], type[Any]]:
        from .entrypoints import build_entrypoints

        return build_entrypoints(self)

    # -- what the classes do -------------------------------------------------------------------

    def runtime(self, env: Any) -> CloudflareRuntime:
        """The wiring for ``env``, built once per isolate.

        The SDK hands each request a new wrapper of the same JS ``env``: the key is the JS
        object's identity (Pyodide's ``js_id``), and only a few environments are kept (an
        isolate has one; tests make several)."""
        raw = getattr(env, "_env", env)
        key = getattr(raw, "js_id", None) or id(raw)
        cached = self._runtimes.get(key)
        if cached is not None and (cached[0] is raw or getattr(raw, "js_id", None) == key):
            self._runtimes.move_to_end(key)
            return cached[1]
        runtime = CloudflareRuntime(self, env)
        self._runtimes[key] = (raw, runtime)
        while len(self._runtimes) > _MAX_RUNTIMES:
            self._runtimes.popitem(last=False)
        return runtime

    async def fetch(self, env: Any, request: Any) -> Any:
        return await handle_fetch(self.runtime(env), request, env)

    async def run(self, env: Any, event: Any, step: Any) -> Any:
        """A Workflow instance: one turn (or one resume) of a session. Nothing here touches
        a binding outside a step (the schema exists: the run was started through it)."""
        runtime = self.runtime(env)

        async def body(ev: dict[str, Any], port: Step) -> Any:
            return await run_agent_workflow(ev["payload"], port, runtime.deps)

        try:
            return await run_workflow(body, event, step)
        except WorkflowAborted as aborted:
            # The engine stops this run (a pause...): it must get its own abort back, as
            # the plain error it matches by message (step.WorkflowAborted).
            return ffi.rejected(aborted.reason)

    async def scheduled(self, env: Any) -> Any:
        """The cron trigger: expire suspensions, recover lost runs."""
        runtime = self.runtime(env)
        await runtime.ensure_schema()
        return await runtime.sweep()

    async def queue(self, env: Any, batch: Any) -> None:
        """The queue consumer: one run per message, each message acked once its run is
        durably started, retried otherwise
        (:func:`~helix_agents.toolkits.queue.start_from_message`). If the database cannot
        even be checked, the whole batch is retried (by raising)."""
        from ...toolkits.queue import agent_task_handler
        from ._convert import raw
        from .queues import CloudflareBatch

        runtime = self.runtime(env)
        await runtime.ensure_schema()
        await agent_task_handler(runtime.executor)(CloudflareBatch(raw(batch)))

    async def rpc(self, env: Any) -> RunApi:
        """What the Worker's RPC methods call (:class:`~helix_agents.rpc.RunApi`), with the
        D1 schema in place."""
        runtime = self.runtime(env)
        await runtime.ensure_schema()
        return RunApi(runtime.executor, services=runtime.file_services)

    def stream_hub(self, ctx: Any) -> StreamHub:
        """The StreamManager Durable Object's logic over its ``ctx``."""
        return StreamHub(
            ctx,
            clock=self.clock,
            ttl_ms=int(self.stream_ttl * 1000),
            stale_ms=int(self.stream_stale * 1000),
        )
