"""The test-only route that runs the queue, vector index and embeddings checks inside the
real Worker (Pyodide), answering ``{"ok": true}`` or ``{"ok": false, "error": <traceback>}``.

``POST /__test__/retrieval`` with ``{"suite": ..., "check": name}``:

- ``"queues"``: a check of ``queues_suite.QUEUE_CHECKS`` against the queue the runtime built
  from its ``QUEUE`` binding: real Queues in local workerd. (That simulation does not enforce
  the message size limit: it took a 200 KB message; the port's own check refuses one.)
- ``"vectors"`` (with ``"prefix"``): a check of ``vectors_suite.py`` against the local vector
  index over the Worker's real D1 (what ``HELIX_RETRIEVAL=offline`` uses);
- ``"vectorize-js"`` / ``"workers-ai-js"``: the vector index and embeddings suites against
  ``VectorizeIndex`` / ``WorkersAIEmbedder`` over a JS object standing for the binding
  (:func:`js_double`, around the documented-API doubles), so that their conversions between
  Python and JS run for real (Vectorize and Workers AI themselves do not exist locally).

``GET`` answers what the runtime built for ``ctx.services.queues/vectors/embeddings``.
Imported by ``tests/worker_real/app.py`` inside the Worker: no pytest, no I/O at import.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from helix_agents.hosts.cloudflare import CloudflareRuntime
from helix_agents.hosts.local.vectors import SQLVectorIndex
from helix_agents.ports.vectors import Metric, VectorIndex
from tests.conformance import embeddings_suite, queues_suite, vectors_suite

__all__ = ["RETRIEVAL_PATH", "retrieval_route"]

RETRIEVAL_PATH = "/__test__/retrieval"


async def retrieval_route(runtime: CloudflareRuntime, request: Any) -> Any:
    from helix_agents.hosts.cloudflare import ffi

    services = runtime.deps.resources.services
    if str(request.method).upper() == "GET":
        return ffi.json_response(
            {
                "queues": repr(services.queues),
                "vectors": repr(services.vectors),
                "embeddings": repr(services.embeddings),
            }
        )
    body = json.loads(await request.text())
    try:
        if body["suite"] == "queues":
            await queues_suite.QUEUE_CHECKS[body["check"]](services.queues)
        elif body["suite"] == "vectorize-js":
            check = {c.__name__: c for c in vectors_suite.CHECKS}[body["check"]]

            async def over_js(dimensions: int, metric: Metric) -> VectorIndex:
                from helix_agents.hosts.cloudflare.vectors import VectorizeIndex
                from helix_agents.testing.vectorize import FakeVectorizeBinding

                double = FakeVectorizeBinding(dimensions=dimensions, metric=metric)
                return VectorizeIndex(js_double(double), dimensions=dimensions, metric=metric)

            await check(over_js)
        elif body["suite"] == "workers-ai-js":
            from helix_agents.hosts.cloudflare.embeddings import WorkersAIEmbedder
            from helix_agents.testing.services_doubles import FakeEmbeddingAI

            check_e = {c.__name__: c for c in embeddings_suite.CHECKS}[body["check"]]
            await check_e(WorkersAIEmbedder(js_double(FakeEmbeddingAI(768))))
        else:
            check = {c.__name__: c for c in vectors_suite.CHECKS}[body["check"]]
            count = 0

            async def make(dimensions: int, metric: Metric) -> VectorIndex:
                nonlocal count
                count += 1
                name = f"{body['prefix']}{count}"
                return SQLVectorIndex(runtime.db, name, dimensions=dimensions, metric=metric)

            await check(make)
    except BaseException:
        return ffi.json_response({"ok": False, "error": traceback.format_exc()})
    return ffi.json_response({"ok": True})


def js_double(double: Any) -> Any:
    """A JS object whose methods call ``double``'s (a binding double of
    :mod:`helix_agents.testing`): what the Cloudflare implementations then call is a raw JS
    binding, arguments converted to JS on the way in and answers (JS promises of JSON)
    converted back, as with the real ones. The doubles' methods never suspend, so each runs
    to its end at once."""
    from js import JSON, Object, Promise  # noqa: TID251 (runs inside the Worker)
    from pyodide.ffi import create_proxy, to_js  # noqa: TID251 (runs inside the Worker)

    def method(name: str) -> Any:
        bound = getattr(double, name)

        def call(*args: Any) -> Any:
            plain = [a.to_py() if hasattr(a, "to_py") else a for a in args]
            coroutine = bound(*plain)
            try:
                coroutine.send(None)
            except StopIteration as done:
                return Promise.resolve(JSON.parse(json.dumps(done.value)))
            except Exception as exc:
                return Promise.reject(str(exc))
            raise RuntimeError(f"{name} suspended")  # pragma: no cover

        return create_proxy(call)

    names = [n for n in dir(double) if not n.startswith("_") and callable(getattr(double, n))]
    return to_js({n: method(n) for n in names}, dict_converter=Object.fromEntries)
