"""The Cloudflare host's wiring, built once per isolate from the Worker's ``env``.

What the local host builds in :class:`~helix_agents.hosts.local.LocalHost`, this builds
from the bindings: the state store over D1, the stream manager over the Durable Object
namespace, the launcher over the Workflow binding, the executor over those, and the
``RunDeps`` the Workflow's ``run`` hands the loop. Bindings may be used across requests
(stubs and instance handles may not, so nothing here keeps one).

The HTTP API is the same Starlette app as the local host's (``helix_agents.http``), built
on first use; its bearer token comes from the Worker's ``HELIX_API_TOKEN`` secret, the
origins its CORS policy allows from ``HELIX_CORS_ORIGINS`` (comma-separated). It fails
closed: with no token and no hook, every API request is refused (503
``auth_not_configured``) unless the Worker opts out explicitly (the var ``HELIX_AUTH =
"none"``, or ``auth=allow_anyone`` in code). The
D1 schema is migrated programmatically before the first request an isolate serves (after
that the check is free), and the cron trigger runs the executor's sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ...core.deps import RunDeps
from ...core.host_resources import HostResources
from ...core.schedule_ops import ScheduleOps
from ...executor import Executor
from ...store import StateStore, migrate
from .d1 import D1Database
from .launcher import WorkflowLauncher
from .models import env_var, model_resolver
from .services import cloudflare_services
from .stream_client import DOStreamManager

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ...services import Services
    from ...tracing import TracingConfig
    from .app import CloudflareApp

__all__ = ["Bindings", "CloudflareRuntime", "EnvVars"]


@dataclass(frozen=True)
class Bindings:
    """The names of the bindings in ``wrangler.toml``."""

    db: str = "DB"
    streams: str = "STREAM_MANAGER"
    workflow: str = "AGENT_WORKFLOW"
    ai: str = "AI"
    #: Optional services (``ctx.services``): a binding the Worker lacks leaves its service out.
    kv: str = "KV"
    objects: str = "BUCKET"
    vectors: str = "VECTORIZE"
    queue: str = "QUEUE"


class EnvVars(Mapping[str, str]):
    """The Worker's string vars and secrets as a read-only mapping (for ``environ``)."""

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getitem__(self, key: str) -> str:
        value = env_var(self._env, key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class CloudflareRuntime:
    """The ports, the executor and the HTTP app of one isolate (see the module docstring)."""

    def __init__(self, app: CloudflareApp, env: Any) -> None:
        self.app = app
        self.env = env
        bindings = app.bindings
        self.db = D1Database(_binding(env, bindings.db, "a [[d1_databases]] binding"))
        self.store = StateStore(self.db, clock=app.clock)
        self.streams = DOStreamManager(
            _binding(env, bindings.streams, "a [[durable_objects.bindings]] entry"),
            reader_policy=app.reader_policy,
        )
        self.launcher = WorkflowLauncher(_binding(env, bindings.workflow, "a [[workflows]] entry"))
        resources = HostResources(
            host="cloudflare",
            services=cloudflare_services(env, bindings).merged(
                app.services(env) if app.services is not None else None
            ),
            vars=EnvVars(env),
            env=env,
            http_transport=_mcp_transport(app.registry),
        )
        self.resolve_model: Callable[[Any], Any] = resources.model_resolver(
            app.resolve_model
            or model_resolver(env, model_from_env=app.model_from_env, ai_binding=bindings.ai)
        )
        # What schedule_toolkit's tool makes its follow-ups with.
        resources.scheduler = ScheduleOps(app.registry, self.store, self.launcher, app.clock)
        self.executor = Executor(
            registry=app.registry,
            store=self.store,
            streams=self.streams,
            launcher=self.launcher,
            clock=app.clock,
            resources=resources,
        )
        self.deps = RunDeps(
            registry=app.registry,
            store=self.store,
            streams=self.streams,
            resolve_model=self.resolve_model,
            flush_policy=app.flush_policy,
            clock=app.clock,
            model_step_config=app.model_step_config,
            tool_step_config=app.tool_step_config,
            launcher=self.launcher,
            resources=resources,
            tracing=worker_tracing(env),
        )
        self._http: Starlette | None = None
        self._declared = not app.schedules

    async def ensure_schema(self) -> None:
        """The programmatic D1 migration: one query on an isolate's first request, free
        after that (the same statements ``wrangler d1 migrations apply`` runs)."""
        await migrate(self.db)
        if not self._declared:
            # The cron jobs declared in code, once per isolate (idempotent across isolates).
            await self.executor.declare_schedules(self.app.schedules)
            self._declared = True

    @property
    def file_services(self) -> Services:
        """The services whose object storage (R2) keeps chat file parts: the app's own
        (``http_options["services"]``), else the Worker's. The HTTP snapshot and the RPC
        entrypoint's snapshot read the files from these, so both show the same parts."""
        found = self.app.http_options.get("services")
        return found if found is not None else self.deps.resources.services

    @property
    def http_app(self) -> Starlette:
        if self._http is None:
            from ...http.app import create_app

            options = dict(self.app.http_options)
            options.setdefault("environ", EnvVars(self.env))
            # `/agents` says whether the offline demo model answers: only the resolver knows
            # whether this Worker's env swaps it for a configured model.
            options.setdefault("resolve_model", self.resolve_model)
            # Chat file parts are kept in the Worker's object storage (R2).
            options["services"] = self.file_services
            if "cors_origins" not in options:
                # HELIX_CORS_ORIGINS, as `helix dev` reads it from the process environment
                # (and `helix worker` passes it into env): the Worker read no CORS setting.
                from ...http.cors import origins_from

                options["cors_origins"] = origins_from(options["environ"])
            # Fail closed: without a token, a hook or HELIX_AUTH=none, every API request is
            # refused (a deployed Worker is reachable by anyone who knows its URL).
            from ...http.app import fail_closed_auth

            options["auth"] = fail_closed_auth(
                options.pop("auth", None), options.pop("token", None), options["environ"]
            )
            self._http = create_app(self.executor, **options)
        return self._http

    async def sweep(self) -> Any:
        """The cron trigger's work: expire suspensions past their expiry (and resume the
        ready ones a crash left behind), then launch runs whose instance was never
        created."""
        sweep = getattr(self.executor, "sweep", None)
        result = await sweep() if sweep is not None else await self.executor.expire_suspensions()
        await self.executor.recover_lost_runs()
        return result


def worker_tracing(env: Any) -> TracingConfig | None:
    """Tracing from the Worker's ``OTEL_*`` vars and secrets (docs/tracing.md), exporting
    over ``fetch``; None (and httpx never imported) when they configure no endpoint."""
    from ...tracing import tracing_config

    config = tracing_config(lambda name: env_var(env, name))
    if config is None:
        return None
    from .fetch_transport import WorkersFetchTransport

    return replace(config, transport=WorkersFetchTransport())


def _binding(env: Any, name: str, what: str) -> Any:
    try:
        binding = getattr(env, name)
    except Exception:
        binding = None
    if binding is None:
        from ...errors import ConfigurationError

        raise ConfigurationError(
            f"the Worker has no binding {name!r}: add {what} named {name} to wrangler.toml"
        )
    return binding


def _mcp_transport(registry: Any) -> Any:
    """The Workers ``fetch`` transport for MCP clients and remote sub-agents, when an agent
    has MCP servers or a remote sub-agent tool (the transport brings httpx, which an isolate
    without them never imports)."""
    from ...subagents import RemoteSubagentTool

    if not any(
        getattr(agent, "mcp_servers", ())
        or any(isinstance(t, RemoteSubagentTool) for t in getattr(agent, "tools", ()))
        for agent in registry
    ):
        return None
    from .fetch_transport import WorkersFetchTransport

    return WorkersFetchTransport()
