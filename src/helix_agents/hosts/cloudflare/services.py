"""The Cloudflare host's services, built from the Worker's bindings once per isolate.

Each binding the Worker's ``env`` has becomes its port (the names in
:class:`~.runtime.Bindings`: ``KV``, ``BUCKET``, ...); one it lacks stays absent, and a
tool that asks for it gets :class:`~helix_agents.errors.ServiceNotConfiguredError` naming
the ``wrangler.toml`` entry to add. Nothing here calls a binding: building is free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...services import Services
from .d1 import D1Database
from .embeddings import retrieval_services
from .kv import WorkersKV
from .objects import R2ObjectStore
from .queues import CloudflareQueue

if TYPE_CHECKING:
    from .runtime import Bindings

__all__ = ["cloudflare_services", "optional_binding"]


def optional_binding(env: Any, name: str) -> Any | None:
    """``env.<name>``, or None when the Worker has no such binding."""
    try:
        binding = getattr(env, name)
    except Exception:
        return None
    from .js_values import is_null

    return None if is_null(binding) or isinstance(binding, str) else binding


def cloudflare_services(env: Any, bindings: Bindings) -> Services:
    kv = optional_binding(env, bindings.kv)
    bucket = optional_binding(env, bindings.objects)
    queue = optional_binding(env, bindings.queue)
    db = optional_binding(env, bindings.db)
    embedder, vectors = retrieval_services(
        optional_binding(env, bindings.ai),
        optional_binding(env, bindings.vectors),
        env,
        None if db is None else D1Database(db),
    )
    return Services(
        kv=None if kv is None else WorkersKV(kv),
        objects=None if bucket is None else R2ObjectStore(bucket),
        queues=None if queue is None else CloudflareQueue(queue, bindings.queue),
        embeddings=embedder,
        vectors=vectors,
        host="cloudflare",
    )
