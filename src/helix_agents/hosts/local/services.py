"""The local host's services, built from its data directory.

- ``kv``: :class:`~.kv.SQLKeyValueStore` in the host's database (``state.db``);
- ``objects``: :class:`~.objects.LocalObjectStore`, bodies under ``<data dir>/objects/``,
  its index in the host's database.
- ``embeddings``: the offline :class:`~.embeddings.HashingEmbedder` (deterministic, not
  semantic); ``vectors``: :class:`~.vectors.SQLVectorIndex` ``"default"`` in the host's
  database, with the embedder's dimensions (give both together to use a real embedder);
- ``queues``: :class:`~.queues.SQLQueue` ``"default"`` in the host's database.

A :class:`~helix_agents.services.Services` given to ``LocalHost(services=...)`` replaces
these, service by service.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...clock import wall_clock_ms
from ...ports.database import Database
from ...services import Services
from .embeddings import HashingEmbedder
from .kv import SQLKeyValueStore
from .objects import LocalObjectStore
from .queues import SQLQueue
from .vectors import SQLVectorIndex

__all__ = ["local_services"]


def local_services(
    db: Database, data_dir: Path, *, clock: Callable[[], int] = wall_clock_ms
) -> Services:
    embedder = HashingEmbedder()
    return Services(
        kv=SQLKeyValueStore(db, clock=clock),
        objects=LocalObjectStore(db, data_dir / "objects", clock=clock),
        embeddings=embedder,
        vectors=SQLVectorIndex(db, "default", dimensions=embedder.dimensions),
        queues=SQLQueue(db, "default", clock=clock),
        host="local",
    )
