"""The test-only route that runs the services' conformance checks inside the real Worker.

``POST /__test__/services`` with ``{"suite": "kv" | "objects", "check": name, "prefix":
str}`` runs that check of ``tests/conformance/<suite>_suite.py`` against the port the
Worker's runtime built from its bindings (real KV and R2 in local workerd), and answers
``{"ok": true}`` or ``{"ok": false, "error": <traceback>}``. ``GET
/__test__/services?object=<key>`` answers an object's text from the bucket (the
end-to-end test's look at what an agent's file tool wrote), ``?kv=<key>`` a KV value, and
no query which implementations the runtime built.
Imported by ``tests/worker_real/app.py`` inside the Worker: no pytest, no I/O at import.
"""

from __future__ import annotations

import json
import traceback
from typing import Any
from urllib.parse import parse_qs

from helix_agents.hosts.cloudflare import CloudflareRuntime
from tests.conformance import kv_suite, objects_suite

__all__ = ["SERVICES_PATH", "services_route"]

SERVICES_PATH = "/__test__/services"


async def services_route(runtime: CloudflareRuntime, request: Any, query: str) -> Any:
    from helix_agents.hosts.cloudflare import ffi

    services = runtime.deps.resources.services
    if str(request.method).upper() == "GET":
        asked = parse_qs(query)
        if "object" in asked:
            stored = await services.objects.get(asked["object"][0])
            return ffi.json_response({"text": None if stored is None else stored.text()})
        if "kv" in asked:
            return ffi.json_response({"value": await services.kv.get(asked["kv"][0])})
        return ffi.json_response({"kv": repr(services.kv), "objects": repr(services.objects)})
    body = json.loads(await request.text())
    try:
        if body["suite"] == "kv":
            await kv_suite.CHECKS[body["check"]](
                kv_suite.KVCase(store=services.kv, prefix=body["prefix"])
            )
        else:
            await objects_suite.CHECKS[body["check"]](
                objects_suite.ObjectsCase(store=services.objects, prefix=body["prefix"])
            )
    except BaseException:
        return ffi.json_response({"ok": False, "error": traceback.format_exc()})
    return ffi.json_response({"ok": True})
