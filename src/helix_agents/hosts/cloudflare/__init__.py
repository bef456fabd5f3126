"""The Cloudflare host: the same agents on Workflows, D1 and a StreamManager Durable Object.

- :class:`CloudflareApp` (:mod:`.app`) — a registry and its three Worker classes (the Worker,
  the agent Workflow, the StreamManager Durable Object); :mod:`.entrypoints` holds those thin
  classes, the only module here that imports ``workers`` at its top.
- :mod:`.runtime` — the ports, the executor and the HTTP app, built from ``env`` once per isolate.
- :mod:`.worker` — the Worker's ``fetch``: the HTTP API through the SDK's ASGI adapter,
  WebSocket upgrades sent to the Durable Object.
- :mod:`.step` / :mod:`.launcher` — the Step and Launcher ports over Workflows;
  :mod:`.carrier` and :mod:`helix_agents.error_codec` carry our errors across the JS boundary.
- :mod:`.stream_hub` (the Durable Object's logic), :mod:`.stream_sockets` (its WebSockets),
  :mod:`.do_sql` (its SQLite), :mod:`.stream_rpc` and :mod:`.stream_client`
  (:class:`DOStreamManager`, the StreamManager port over the namespace);
  :mod:`.stream_follow` — an SSE response following its stream over one WebSocket
  (:class:`ReaderPolicy`).
- :mod:`.flush` — the flush policy that keeps streaming under the subrequest limits.
- :mod:`.fetch_transport` and :mod:`.models` — models inside the Worker.
- :mod:`.d1` — the Database port over the D1 binding; :mod:`.ffi` — the raw JS calls.

Importing this package does not import ``workers``, ``js`` or ``pyodide`` (nor httpx).
"""

from typing import Any

from .app import CloudflareApp
from .d1 import D1Database
from .flush import CLOUDFLARE_FLUSH_POLICY
from .launcher import WorkflowLauncher
from .runtime import Bindings, CloudflareRuntime
from .step import WorkflowsStep, run_workflow
from .stream_client import DOStreamManager, stream_owner
from .stream_follow import ReaderPolicy
from .stream_hub import StreamHub

__all__ = [
    "CLOUDFLARE_FLUSH_POLICY",
    "Bindings",
    "CloudflareApp",
    "CloudflareRuntime",
    "D1Database",
    "DOStreamManager",
    "ReaderPolicy",
    "StreamHub",
    "WorkersFetchTransport",
    "WorkflowLauncher",
    "WorkflowsStep",
    "run_workflow",
    "stream_owner",
]


def __getattr__(name: str) -> Any:
    # httpx loads only when a model needs it.
    if name == "WorkersFetchTransport":
        from .fetch_transport import WorkersFetchTransport

        return WorkersFetchTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
