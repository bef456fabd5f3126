"""A host's services, settings and raw env, and the agents' dependencies built from them.

One per host (one per isolate on Cloudflare). Tools see it through their context as
``ctx.services``, ``ctx.deps`` and ``ctx.env``. Dependencies are built on first use, once
per agent factory, and kept here: never in a step's result, so a replayed step rebuilds
nothing it does not need and serializes nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ServiceNotConfiguredError
from ..services import DepsContext, HostName, Services

if TYPE_CHECKING:
    from ..agent import Agent
    from ..mcp.sessions import StdioSessions

__all__ = ["HostResources"]


class HostResources:
    def __init__(
        self,
        *,
        host: HostName = "local",
        services: Services | None = None,
        vars: Mapping[str, str] | None = None,
        env: Any = None,
        http_transport: Any = None,
    ) -> None:
        self.host: HostName = host
        #: The httpx transport outbound HTTP of the runtime's own clients takes (MCP): the
        #: Workers ``fetch`` one on Cloudflare, None (httpx's own) on the local host.
        self.http_transport: Any = http_transport
        self.services = services if services is not None else Services(host=host)
        self.vars: Mapping[str, str] = vars if vars is not None else {}
        self._env = env
        self._deps: dict[Callable[[DepsContext], Any], Any] = {}
        #: The host's schedule operations (a ``core.schedule_ops.ScheduleOps``), bound by
        #: the host once its store and launcher exist: what ``schedule_toolkit`` uses.
        self.scheduler: Any = None
        #: The stdio MCP sessions the host keeps open across calls (the local host), or
        #: None: every use opens its own (mcp/sessions.py).
        self.mcp_sessions: StdioSessions | None = None

    @property
    def env(self) -> Any:
        if self.host != "cloudflare" or self._env is None:
            raise ServiceNotConfiguredError(
                "ctx.env is the Worker's bindings and exists only on Cloudflare; on the "
                f"{self.host} host use the ports: ctx.services.kv (KV), ctx.services.objects "
                "(R2), ctx.services.vectors (Vectorize), ctx.services.queues (Queues), "
                "ctx.services.embeddings (Workers AI), or the agent's ctx.deps"
            )
        return self._env

    def model_resolver(self, resolve: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``resolve``, which also hands a model that needs the host (it has
        ``bind_host(services, resolve)``, as ``cached_model`` does) this host's services."""

        def resolve_on_host(spec: Any) -> Any:
            bind = getattr(spec, "bind_host", None)
            if callable(bind):
                return bind(self.services, resolve)
            return resolve(spec)

        return resolve_on_host

    def deps_for(self, agent: Agent) -> Any:
        """The agent's dependencies (None without a factory), built once per factory."""
        factory: Callable[[DepsContext], Any] | None = getattr(agent, "deps_factory", None)
        if factory is None:
            return None
        if factory in self._deps:
            return self._deps[factory]
        built = factory(
            DepsContext(host=self.host, services=self.services, vars=self.vars, env=self._env)
        )
        if inspect.isawaitable(built):
            close = getattr(built, "close", None)
            if close is not None:
                close()
            raise ConfigurationError(
                f"agent {agent.name!r}: deps_factory must return the dependencies, not an "
                "awaitable (build clients synchronously; connect lazily on first use)"
            )
        deps_type = getattr(agent, "deps_type", None)
        if (
            deps_type is not None
            and isinstance(deps_type, type)
            and not isinstance(built, deps_type)
        ):
            raise ConfigurationError(
                f"agent {agent.name!r}: deps_factory returned {type(built).__name__}, "
                f"not the declared deps_type {deps_type.__name__}"
            )
        self._deps[factory] = built
        return built
