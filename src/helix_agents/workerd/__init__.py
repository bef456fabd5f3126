"""The real Cloudflare runtime on this machine: a Python Worker in local workerd, offline.

Used by ``helix worker`` and by the test suite's ``worker-real`` tier. Nothing here runs
inside a Worker:

- :mod:`.tooling`: Node 22, wrangler and npm pyodide, pinned (installed on first use);
- :mod:`.pyodide_bundle` and :mod:`.capnp`: the Pyodide bundle workerd reads from disk;
- :mod:`.runtime`: that bundle and the workerd wrapper, built and cached;
- :mod:`.vendor`: ``python_modules/`` for Pyodide;
- :mod:`.site`: the Worker project folder that ``wrangler dev`` serves;
- :mod:`.process`: the ``wrangler dev`` process.
"""

from .process import LocalWorker, WorkerStartError
from .runtime import PreparedRuntime, prepare_runtime
from .site import AppSpec, build_site

__all__ = [
    "AppSpec",
    "LocalWorker",
    "PreparedRuntime",
    "WorkerStartError",
    "build_site",
    "prepare_runtime",
]
