"""What a host offers tools besides the loop's own ports: services and typed dependencies.

A tool reaches them through its context (:class:`helix_agents.tools.ToolContext`):

- ``ctx.services``: the :class:`Services` of the host it runs on: key-value, object
  storage, a vector index, a queue, embeddings. On Cloudflare each is built from a binding
  of the Worker's ``env`` (``KV``, ``BUCKET``, ``VECTORIZE``, ``QUEUE``, ``AI``); on the
  local host from the data directory. A service the host lacks raises
  :class:`~helix_agents.errors.ServiceNotConfiguredError` naming what to add, when a tool
  asks for it (not before: an agent that never uses it needs no binding).
- ``ctx.deps``: the agent's own dependencies (``Agent(deps_type=..., deps_factory=...)``),
  built by its factory from a :class:`DepsContext`, once per host (once per isolate on
  Cloudflare), on first use. Dependencies never cross a durable step boundary: a replayed
  or retried step gets them rebuilt, never deserialized.
- ``ctx.env``: the Worker's raw bindings on Cloudflare; on the local host it raises a
  clear error naming the port to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import ServiceNotConfiguredError

if TYPE_CHECKING:
    from .ports.embeddings import Embedder
    from .ports.kv import KeyValueStore
    from .ports.objects import ObjectStore
    from .ports.queues import Queue
    from .ports.vectors import VectorIndex

__all__ = ["DepsContext", "HostName", "ServiceName", "Services"]

ServiceName = Literal["kv", "objects", "vectors", "queues", "embeddings"]
HostName = Literal["local", "cloudflare"]

#: What to configure for each service, on each host (the error a tool gets says it).
_HOW = {
    "kv": ("a key-value store", "a [[kv_namespaces]] binding named KV"),
    "objects": ("object storage", "an [[r2_buckets]] binding named BUCKET"),
    "vectors": ("a vector index", "a [[vectorize]] binding named VECTORIZE"),
    "queues": ("a queue", "a [[queues.producers]] binding named QUEUE"),
    "embeddings": ("an embedder", "an [ai] binding named AI"),
}


class Services:
    """The services of one host; each optional. Read one as an attribute (``services.kv``):
    a missing one raises :class:`~helix_agents.errors.ServiceNotConfiguredError`; test with
    :meth:`has`. Build one yourself to give a host your own implementations
    (``LocalHost(..., services=Services(kv=...))``): the ones you give replace the host's.
    """

    __slots__ = ("_host", "_ports")

    def __init__(
        self,
        *,
        kv: KeyValueStore | None = None,
        objects: ObjectStore | None = None,
        vectors: VectorIndex | None = None,
        queues: Queue | None = None,
        embeddings: Embedder | None = None,
        host: HostName | None = None,
    ) -> None:
        self._ports: dict[str, Any] = {
            "kv": kv,
            "objects": objects,
            "vectors": vectors,
            "queues": queues,
            "embeddings": embeddings,
        }
        self._host = host

    def has(self, name: ServiceName) -> bool:
        return self._ports.get(name) is not None

    def _get(self, name: ServiceName) -> Any:
        port = self._ports.get(name)
        if port is None:
            what, binding = _HOW[name]
            if self._host == "cloudflare":
                where = f"add {binding} to wrangler.toml"
            elif self._host == "local":
                where = f"give LocalHost(services=Services({name}=...)) {what}"
            else:
                where = f"on Cloudflare add {binding} to wrangler.toml"
            raise ServiceNotConfiguredError(
                f"this host does not have {what} (ctx.services.{name}): {where}"
            )
        return port

    @property
    def kv(self) -> KeyValueStore:
        port: KeyValueStore = self._get("kv")
        return port

    @property
    def objects(self) -> ObjectStore:
        port: ObjectStore = self._get("objects")
        return port

    @property
    def vectors(self) -> VectorIndex:
        port: VectorIndex = self._get("vectors")
        return port

    @property
    def queues(self) -> Queue:
        port: Queue = self._get("queues")
        return port

    @property
    def embeddings(self) -> Embedder:
        port: Embedder = self._get("embeddings")
        return port

    def merged(self, overrides: Services | None) -> Services:
        """These services with ``overrides``' given ones in their place."""
        if overrides is None:
            return self
        merged = Services(host=self._host)
        for name, port in self._ports.items():
            given = overrides._ports.get(name)
            merged._ports[name] = given if given is not None else port
        return merged

    def __repr__(self) -> str:
        present = ", ".join(name for name, port in self._ports.items() if port is not None)
        return f"Services({present or 'none'})"


@dataclass(frozen=True)
class DepsContext:
    """What an agent's ``deps_factory`` builds its dependencies from.

    ``vars`` are string settings: the Worker's vars and secrets on Cloudflare, the process
    environment (or ``LocalHost(vars=...)``) locally. ``env`` is the Worker's raw ``env``
    on Cloudflare and None locally: code that reads it is Cloudflare-only.
    """

    host: HostName
    services: Services
    vars: Mapping[str, str] = field(default_factory=dict)
    env: Any = None
