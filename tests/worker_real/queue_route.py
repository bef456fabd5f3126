"""Queues on the test Worker: a route to send through the real producer binding, to read
what the consumer did, and the test Worker's ``queue`` handler around the product's.

- ``POST /__test__/queue`` ``{"body": ...}``: sends ``body`` through the Worker's ``QUEUE``
  binding (real Queues in local workerd), as any producer would.
- ``GET /__test__/queue?tag=<t>``: ``{"sessions": {sessionId: [[runId, status], ...]},
  "metadata": {sessionId: metadata}, "deliveries": [...], "deadLetters": [...]}``: the
  sessions whose metadata ``tag`` is ``t`` with their runs and metadata (from D1), the
  deliveries the crash path recorded, the dead letters.
- :func:`consume`: the test Worker's queue handler. Batches of the dead-letter queue are
  recorded in D1 (a deployed Worker leaves them in the queue, for an operator). A message
  whose body has ``"testCrashBeforeAck": true`` goes through the product's
  :func:`~helix_agents.toolkits.queue.start_from_message`, but its first delivery's ``ack``
  throws, as if the isolate died right after the run was durably started: the handler
  fails, so the runtime delivers the message again. Everything else goes to the product's
  handler (``CloudflareApp.queue``) as it is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from helix_agents.hosts.cloudflare import CloudflareApp, CloudflareRuntime

__all__ = [
    "DEAD_LETTER_QUEUE",
    "QUEUE_PATH",
    "RPC_CLIENT_PREFIX",
    "consume",
    "queue_route",
    "rpc_client_route",
]

QUEUE_PATH = "/__test__/queue"
#: ``helix_agents.workerd.site.DEAD_LETTER_QUEUE`` (that package is not shipped to a Worker).
DEAD_LETTER_QUEUE = "helix-agents-tasks-dlq"

#: Requests under it go to the second Worker (``RPC_CLIENT``) that test_rpc_real.py runs
#: beside this one; it calls this Worker's RPC methods over its own service binding.
RPC_CLIENT_PREFIX = "/__test__/rpc/"

_DDL = (
    "CREATE TABLE IF NOT EXISTS __test_queue_deliveries (message_id TEXT, attempts INTEGER,"
    " outcome TEXT, at INTEGER)",
    "CREATE TABLE IF NOT EXISTS __test_dead_letters (message_id TEXT, body TEXT, attempts INTEGER)",
)


async def _tables(runtime: CloudflareRuntime) -> None:
    await runtime.ensure_schema()
    for sql in _DDL:
        await runtime.db.execute(sql)


async def queue_route(runtime: CloudflareRuntime, request: Any, query: str) -> Any:
    from helix_agents.hosts.cloudflare import ffi

    await _tables(runtime)
    if str(request.method).upper() == "POST":
        body = json.loads(await request.text())
        await runtime.deps.resources.services.queues.send(body["body"])
        return ffi.json_response({"sent": True})
    [tag] = parse_qs(query).get("tag", [""])
    rows = await runtime.db.query(
        "SELECT s.session_id AS session_id, s.metadata AS metadata, r.run_id AS run_id,"
        " r.status AS status"
        " FROM __agents_states s LEFT JOIN __agents_runs r ON r.session_id = s.session_id"
        " WHERE json_extract(s.metadata, '$.tag') = ? ORDER BY r.run_id",
        (tag,),
    )
    sessions: dict[str, list[list[str]]] = {}
    metadata: dict[str, Any] = {}
    for row in rows:
        metadata[row["session_id"]] = json.loads(row["metadata"] or "null")
        runs = sessions.setdefault(row["session_id"], [])
        if row["run_id"] is not None:
            runs.append([row["run_id"], row["status"]])
    deliveries = await runtime.db.query(
        "SELECT message_id, attempts, outcome FROM __test_queue_deliveries ORDER BY at, attempts"
    )
    dead = await runtime.db.query("SELECT message_id, body, attempts FROM __test_dead_letters")
    return ffi.json_response(
        {
            "sessions": sessions,
            "metadata": metadata,
            "deliveries": [dict(d) for d in deliveries],
            "deadLetters": [
                {"id": d["message_id"], "body": json.loads(d["body"]), "attempts": d["attempts"]}
                for d in dead
            ],
        }
    )


class _Crash(Exception):
    """The isolate dying between the run's start and the message's ack (simulated)."""


async def consume(app: CloudflareApp, env: Any, batch: Any, product: Any) -> None:
    """The test Worker's queue handler (see the module); ``product`` is the product's."""
    from helix_agents.hosts.cloudflare._convert import raw
    from helix_agents.hosts.cloudflare.queues import CloudflareBatch
    from helix_agents.toolkits.queue import start_from_message

    runtime = app.runtime(env)
    port = CloudflareBatch(raw(batch))
    if port.queue == DEAD_LETTER_QUEUE:
        await _tables(runtime)
        for message in port.messages:
            await runtime.db.execute(
                "INSERT INTO __test_dead_letters (message_id, body, attempts) VALUES (?, ?, ?)",
                (message.id, json.dumps(message.body), message.attempts),
            )
            message.ack()
        return
    crashing = [m for m in port.messages if _crashes(m.body)]
    if not crashing:
        await product(env, batch)
        return
    await _tables(runtime)
    failed = False
    for message in port.messages:
        if message.attempts == 1 and _crashes(message.body):

            def crash() -> None:
                raise _Crash("the isolate died before the ack")

            message.ack = crash  # type: ignore[method-assign]
        outcome: str
        try:
            outcome = await start_from_message(runtime.executor, message)
        except _Crash:
            outcome, failed = "crashed", True
        await runtime.db.execute(
            "INSERT INTO __test_queue_deliveries (message_id, attempts, outcome, at)"
            " VALUES (?, ?, ?, ?)",
            (message.id, message.attempts, outcome, app.clock()),
        )
    if failed:
        raise _Crash("the queue handler failed: the runtime retries what it did not ack")


def _crashes(body: Any) -> bool:
    return isinstance(body, dict) and body.get("testCrashBeforeAck") is True


async def rpc_client_route(env: Any, request: Any) -> Any:
    """The request, as it is, to the ``RPC_CLIENT`` Worker (a 404 without that binding)."""
    from helix_agents.hosts.cloudflare import ffi
    from helix_agents.hosts.cloudflare.services import optional_binding

    client = optional_binding(getattr(env, "_env", env), "RPC_CLIENT")
    if client is None:
        return ffi.json_response({"error": "this Worker has no RPC_CLIENT binding"}, 404)
    return await client.fetch(request.js_object)
