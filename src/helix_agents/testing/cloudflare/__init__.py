"""Fakes of the Cloudflare side, to test a Worker built on the Cloudflare host in CPython.

Python Workers cannot run outside Cloudflare's runtime here, so these follow the platform's
documented semantics instead, closely enough that the real ``src/entry.py`` runs on them:

- :class:`FakeCloudflare` (:mod:`.platform`) — a Worker's whole platform: ``env`` with D1
  (:class:`~helix_agents.testing.d1.FakeD1Database`), the StreamManager namespace and the
  Workflow binding; requests through the Worker's ``fetch``, the cron trigger;
  :class:`WorkerASGI` (:mod:`.asgi`) serves it over real sockets (under uvicorn);
- :class:`FakeWorkflows` (:mod:`.workflows`) — the Workflows engine and binding, with
  :mod:`.sdk_step`, the SDK's step decorator;
- :class:`FakeDurableObjectNamespace` (:mod:`.durable_objects`) — SQLite-backed Durable
  Objects: RPC stubs, storage, alarms, eviction; :class:`FakeWebSocket` (:mod:`.websockets`)
  — WebSocket pairs, hibernation, auto-responses;
- :func:`install` (:mod:`.shim`) — the fake ``workers``, ``js`` and ``pyodide`` modules
  (:mod:`.workers_sdk`, :mod:`.jsruntime`, :mod:`.jsvalues`); ``workers.asgi`` is the SDK's
  own file;
- :func:`run_virtual` (:mod:`.virtual_time`) — an event loop on virtual time, for long
  streams in no time.

Why fakes, when the real runtime runs locally too (``helix worker``; the suites run again on
it in ``tests/worker_real``): they show on demand what the real one cannot. Subrequests are
counted per invocation and capped at the platform's 1,000 (:mod:`.invocations`); time is
virtual, so hour-long expiries and sleeps take no time (:mod:`.virtual_time`); a Durable
Object is evicted, and a WebSocket hibernated, when a test says so
(:meth:`FakeDurableObjectNamespace.evict`); and the platform lives in the test process,
so a flow test costs milliseconds, not a Worker. The ``js``/``pyodide``/``workers`` modules
(:mod:`.shim` and the modules it installs) are what lets the host import on CPython at all.
Test code: a Worker's upload leaves :mod:`helix_agents.testing` out (docs/deploy.md).
"""

from .asgi import WorkerASGI
from .durable_objects import FakeDurableObjectNamespace
from .platform import FakeCloudflare, FakeEnv, FakeResponse
from .shim import install, uninstall
from .virtual_time import VirtualTimeLoop, run_virtual, virtual_clock_ms
from .websockets import FakeWebSocket
from .workflows import FakeWorkflows

__all__ = [
    "FakeCloudflare",
    "FakeDurableObjectNamespace",
    "FakeEnv",
    "FakeResponse",
    "FakeWebSocket",
    "FakeWorkflows",
    "VirtualTimeLoop",
    "WorkerASGI",
    "install",
    "run_virtual",
    "uninstall",
    "virtual_clock_ms",
]
