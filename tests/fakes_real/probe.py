"""The probe Worker: observations of Workflows and Durable Objects, written only against the
``workers`` SDK surface (and the ``js``/``pyodide`` names a Python Worker uses for raw JS
calls), so the same code runs in the real runtime (local workerd) and, in-process, on the
fakes of ``helix_agents.testing.cloudflare``.

Every route answers JSON: ``{"ok": value}`` or ``{"error": {"type", "name", "message"}}``.

- ``POST /wf/create`` ``{"probe", "id"?, "params"?}``: an instance of :class:`ProbeWorkflow`
  running the named probe; ``/wf/status``, ``/wf/event``, ``/wf/terminate`` ``{"id", ...}``.
- ``POST /do/<name>/<method>`` ``{...}``: an RPC on the object ``name`` of
  :class:`ProbeObject`; ``GET /do/<name>/ws?tags=a,b`` opens a hibernatable WebSocket.

Nothing here does I/O or draws randomness at import time (the runtime snapshots the module).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from js import Object, WebSocketPair, WebSocketRequestResponsePair  # noqa: TID251
from pyodide.ffi import to_js  # noqa: TID251
from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint  # noqa: TID251
from workers.workflows import NonRetryableError  # noqa: TID251

NO_RETRY = {"retries": {"limit": 0, "delay": 0, "backoff": "constant"}}


def _error(exc: BaseException) -> dict[str, Any]:
    """What Python sees of an error: its class, its JS name (if any) and its text."""
    return {
        "type": type(exc).__name__,
        "name": getattr(exc, "name", None) if type(exc).__name__ == "JsException" else None,
        "message": str(exc),
    }


def _plain(value: Any) -> Any:
    """A value as JSON (JsProxy dicts and lists, datetimes) with its Python type named."""
    if isinstance(value, datetime):
        return {"datetime": True, "naive": value.tzinfo is None}
    if isinstance(value, dict) or hasattr(value, "keys"):
        return {str(k): _plain(value[k]) for k in value}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return "NaN"  # JSON has none (and the two Responses would write it differently)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, memoryview):
        return {"memoryview": bytes(value).hex()}
    if hasattr(value, "to_py"):
        return _plain(value.to_py())
    return {"python_type": type(value).__name__, "repr": repr(value)[:80]}


class ProbeError(Exception):
    """An exception class of our own (Workflows knows nothing of it)."""


# -- Workflows -----------------------------------------------------------------------------------


async def probe_ctx(step: Any) -> Any:
    @step.do("default ctx")
    async def default_ctx(ctx: Any) -> Any:
        return ctx

    config = {"retries": {"limit": 2, "delay": "1 second", "backoff": "linear"}, "timeout": 30000}

    @step.do("configured ctx", config=config)
    async def configured_ctx(ctx: Any) -> Any:
        return ctx

    return {"default": _plain(await default_ctx()), "configured": _plain(await configured_ctx())}


async def probe_counts(step: Any) -> Any:
    seen: list[Any] = []
    for name in ("same", "other", "same", "same"):

        @step.do(name)
        async def counted(ctx: Any) -> Any:
            return ctx["step"]

        seen.append(_plain(await counted()))
    return seen


async def probe_retries(step: Any) -> Any:
    attempts: list[int] = []
    config = {"retries": {"limit": 3, "delay": 0, "backoff": "constant"}}

    @step.do("flaky", config=config)
    async def flaky(ctx: Any) -> Any:
        attempts.append(int(ctx["attempt"]))
        if ctx["attempt"] < 3:
            raise ValueError(f"transient {ctx['attempt']}")
        return {"succeeded_on": ctx["attempt"]}

    result = await flaky()
    exhausted: list[int] = []

    @step.do("always failing", config={"retries": {"limit": 1, "delay": 0}})
    async def failing(ctx: Any) -> Any:
        exhausted.append(int(ctx["attempt"]))
        raise ValueError("still failing")

    try:
        await failing()
        caught = None
    except Exception as exc:
        caught = _error(exc)

    # The cached error: the same step (name and count) is not run again in this run.
    return {
        "result": _plain(result),
        "attempts": attempts,
        "exhausted": exhausted,
        "caught": caught,
    }


_ERRORS: dict[str, Any] = {
    "value": lambda: ValueError("bad value"),
    "type": lambda: TypeError("bad type"),
    "key": lambda: KeyError("missing"),
    "runtime": lambda: RuntimeError("broken"),
    "custom": lambda: ProbeError("ours"),
    "non_retryable": lambda: NonRetryableError("stop now"),
    "non_retryable_empty": lambda: NonRetryableError(),
}


async def probe_errors(step: Any) -> Any:
    seen: dict[str, Any] = {}
    for label, make in _ERRORS.items():
        calls: list[int] = []

        @step.do(f"raise {label}", config=NO_RETRY)
        async def raising(ctx: Any) -> Any:
            calls.append(1)  # noqa: B023 (awaited within this iteration)
            raise make()  # noqa: B023

        try:
            await raising()
            seen[label] = None
        except Exception as exc:
            seen[label] = {**_error(exc), "calls": len(calls)}
    return seen


_RESULTS: dict[str, Any] = {
    "set": lambda: {1, 2},
    "tuple": lambda: (1, 2),
    "bytes": lambda: b"ab",
    "object": lambda: ProbeError("not data"),
    "datetime": lambda: datetime(2026, 1, 2, 3, 4, 5),
    "int_keys": lambda: {1: "a"},
    "nested_set": lambda: {"s": {3}},
    "nan": lambda: float("nan"),
    "none": lambda: None,
}


async def probe_results(step: Any) -> Any:
    seen: dict[str, Any] = {}
    for label, make in _RESULTS.items():

        @step.do(f"return {label}", config=NO_RETRY)
        async def returning() -> Any:
            return make()  # noqa: B023 (awaited within this iteration)

        try:
            value = await returning()
            seen[label] = {"value": _plain(value), "python_type": type(value).__name__}
        except Exception as exc:
            seen[label] = {"error": _error(exc)}
    return seen


async def probe_large_result(step: Any) -> Any:
    @step.do("large", config=NO_RETRY)
    async def large() -> Any:
        return "x" * (1024 * 1024 + 1)

    try:
        return {"length": len(await large())}
    except Exception as exc:
        return {"error": _error(exc)}


async def probe_timeout(step: Any) -> Any:
    config = {"retries": {"limit": 0, "delay": 0}, "timeout": "1 second"}

    @step.do("slow", config=config)
    async def slow() -> Any:
        await asyncio.sleep(3)
        return "late"

    try:
        return {"value": await slow()}
    except Exception as exc:
        return {"error": _error(exc)}


async def probe_sleep(step: Any) -> Any:
    result = await step.sleep("nap", "2 seconds")
    return {"returned": _plain(result)}


async def probe_wait(step: Any) -> Any:
    # The test sends "early" right after creating the instance: it waits in the engine until
    # the instance asks for it.
    await step.sleep("before waiting", "1 second")
    early = await step.wait_for_event("early", "early", timeout="30 seconds")
    late = await step.wait_for_event("late", "late", timeout="30 seconds")
    try:
        await step.wait_for_event("never", "never", timeout="1 second")
        timed_out = None
    except Exception as exc:
        timed_out = _error(exc)
    return {"early": _plain(early), "late": _plain(late), "timed_out": timed_out}


async def probe_hold(step: Any) -> Any:
    """Waits for a ``release`` event (for status, terminate and events from outside)."""
    event = await step.wait_for_event("hold", "release", timeout="60 seconds")
    return {"released": _plain(event["payload"])}


async def probe_uncaught_non_retryable(step: Any) -> Any:
    @step.do("fatal", config={"retries": {"limit": 3, "delay": 0}})
    async def fatal() -> Any:
        raise NonRetryableError("fatal stop")

    await fatal()
    return "unreachable"


async def probe_uncaught_value_error(step: Any) -> Any:
    @step.do("fails", config=NO_RETRY)
    async def fails() -> Any:
        raise ValueError("step failed")

    await fails()
    return "unreachable"


async def probe_run_raises(step: Any) -> Any:
    raise ProbeError("raised in run")


async def probe_output(step: Any) -> Any:
    return {"answer": 42, "list": [1, "two"]}


async def probe_none(step: Any) -> Any:
    return None


PROBES = {
    name[len("probe_") :]: fn for name, fn in dict(globals()).items() if name.startswith("probe_")
}


class ProbeWorkflow(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        payload = event["payload"]
        return await PROBES[payload["probe"]](step)


# -- the Durable Object --------------------------------------------------------------------------


def _sql_rows(cursor: Any) -> list[Any]:
    return [_plain(row) for row in cursor.toArray()]


class ProbeObject(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, kind TEXT, detail TEXT)"
        )
        self.sql.exec("INSERT INTO events (kind, detail) VALUES ('constructed', '')")
        ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair.new("ping", "pong"))

    def _constructions(self) -> int:
        row = self.sql.exec("SELECT count(*) AS n FROM events WHERE kind = 'constructed'").one()
        return int(row["n"])

    async def sql_probe(self) -> Any:
        seen: dict[str, Any] = {}

        def attempt(label: str, fn: Any) -> None:
            try:
                seen[label] = {"ok": fn()}
            except Exception as exc:
                seen[label] = {"error": _error(exc)}

        sql = self.sql
        sql.exec("DROP TABLE IF EXISTS t")
        sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a, s TEXT, n INTEGER)")

        def insert() -> Any:
            cursor = sql.exec(
                "INSERT INTO t (a, s, n) VALUES (?, ?, ?), (?, ?, ?)", 1, "x", 5, 2.5, "y", 6
            )
            rows = cursor.toArray()
            return {"rows": len(rows), "read": cursor.rowsRead, "written": cursor.rowsWritten}

        attempt("insert", insert)

        def select() -> Any:
            cursor = sql.exec("SELECT id, a, s, n, typeof(a) AS ta FROM t ORDER BY id")
            names = list(cursor.columnNames)
            rows = _sql_rows(cursor)
            return {"columns": names, "rows": rows, "read": cursor.rowsRead}

        attempt("select", select)
        attempt("raw", lambda: [list(r) for r in sql.exec("SELECT id, s FROM t ORDER BY id").raw()])
        attempt("one_of_two", lambda: _plain(sql.exec("SELECT id FROM t").one()))
        attempt("one_of_none", lambda: _plain(sql.exec("SELECT id FROM t WHERE id = 99").one()))
        attempt("one", lambda: _plain(sql.exec("SELECT s FROM t WHERE id = 1").one()))
        attempt("iterate", lambda: [_plain(r) for r in sql.exec("SELECT id FROM t ORDER BY id")])
        for statement in ("BEGIN", "BEGIN TRANSACTION", "SAVEPOINT a", "COMMIT", "ROLLBACK"):
            attempt(statement, lambda statement=statement: sql.exec(statement).toArray())
        attempt("syntax", lambda: sql.exec("SELEC nothing").toArray())
        attempt("no_table", lambda: sql.exec("SELECT * FROM nowhere").toArray())
        attempt(
            "unique",
            lambda: sql.exec("INSERT INTO t (id) VALUES (1)").toArray(),
        )
        placeholders = ", ".join("?" for _ in range(101))
        attempt(
            "params_101",
            lambda: _sql_rows(sql.exec(f"SELECT {placeholders}", *range(101)))[0]["?1"],
        )
        attempt(
            "params_100",
            lambda: len(_sql_rows(sql.exec(f"SELECT {placeholders[3:]}", *range(100)))[0]),
        )
        attempt("wrong_count", lambda: sql.exec("SELECT ?, ?", 1).toArray())
        attempt(
            "none_bound", lambda: _sql_rows(sql.exec("SELECT ? AS v, typeof(?) AS t", None, None))
        )
        attempt(
            "bool_bound", lambda: _sql_rows(sql.exec("SELECT ? AS v, typeof(?) AS t", True, True))
        )
        attempt("bytes_bound", lambda: _sql_rows(sql.exec("SELECT typeof(?) AS t", b"ab")))
        attempt(
            "float_whole", lambda: _sql_rows(sql.exec("SELECT ? AS v, typeof(?) AS t", 2.0, 2.0))
        )
        attempt("big_int", lambda: _sql_rows(sql.exec("SELECT ? AS v", 2**60)))
        attempt("dict_bound", lambda: _sql_rows(sql.exec("SELECT ? AS v", {"a": 1})))
        attempt("list_bound", lambda: _sql_rows(sql.exec("SELECT ? AS v", [1, 2])))
        attempt("two_statements", lambda: _sql_rows(sql.exec("SELECT 1 AS a; SELECT 2 AS b")))
        attempt("database_size_positive", lambda: sql.databaseSize > 0)
        return seen

    async def transaction_probe(self) -> Any:
        sql, storage = self.sql, self.ctx.storage
        sql.exec("DROP TABLE IF EXISTS tx")
        sql.exec("CREATE TABLE tx (v TEXT)")
        seen: dict[str, Any] = {}

        def commits() -> Any:
            sql.exec("INSERT INTO tx VALUES ('kept')")
            return {"value": [1, "two"]}

        seen["returned"] = _plain(storage.transactionSync(commits))

        def fails() -> Any:
            sql.exec("INSERT INTO tx VALUES ('dropped')")
            raise ProbeError("roll back")

        try:
            storage.transactionSync(fails)
            seen["raised"] = None
        except Exception as exc:
            error = _error(exc)
            error["last_line"] = error["message"].strip().splitlines()[-1]
            seen["raised"] = error

        def nested() -> Any:
            sql.exec("INSERT INTO tx VALUES ('outer')")

            def inner() -> Any:
                sql.exec("INSERT INTO tx VALUES ('inner')")
                raise ValueError("inner fails")

            try:
                storage.transactionSync(inner)
            except Exception:
                pass
            return "outer done"

        seen["nested"] = storage.transactionSync(nested)
        seen["rows"] = [r["v"] for r in _sql_rows(sql.exec("SELECT v FROM tx ORDER BY rowid"))]
        return seen

    async def set_alarm(self, delay_ms: int) -> Any:
        now = self.sql.exec(
            "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS ms"
        ).one()["ms"]
        await self.ctx.storage.setAlarm(now + delay_ms)
        alarm = await self.ctx.storage.getAlarm()
        return {"set": alarm is not None, "type": type(alarm).__name__}

    async def alarm(self, alarm_info: Any = None) -> None:
        self.sql.exec("INSERT INTO events (kind, detail) VALUES ('alarm', '')")

    async def alarms(self) -> Any:
        fired = self.sql.exec("SELECT count(*) AS n FROM events WHERE kind = 'alarm'").one()["n"]
        pending = await self.ctx.storage.getAlarm()
        return {"fired": int(fired), "pending": pending is not None}

    async def sockets(self, tag: str | None = None) -> Any:
        sockets = self.ctx.getWebSockets(tag) if tag else self.ctx.getWebSockets()
        return {
            "count": len(list(sockets)),
            "tags": [sorted(self.ctx.getTags(ws)) for ws in sockets],
            "constructions": self._constructions(),
        }

    async def fetch(self, request: Any) -> Any:
        query = parse_qs(urlsplit(request.url).query)
        tags = [t for t in query.get("tags", [""])[0].split(",") if t]
        client, server = WebSocketPair.new().object_values()
        self.ctx.acceptWebSocket(server, to_js(tags))
        server.serializeAttachment(
            to_js({"tags": tags, "n": len(tags)}, dict_converter=Object.fromEntries)
        )
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: Any, message: Any) -> None:
        attachment = _plain(ws.deserializeAttachment())
        if message == "attach-large":
            try:
                ws.serializeAttachment("x" * 4096)
                result: Any = {"ok": True}
            except Exception as exc:
                result = {"error": _error(exc)}
            ws.send(json.dumps(result))
            return
        if message == "attach-dict":
            try:
                ws.serializeAttachment({"python": "dict"})
                result = {"ok": _plain(ws.deserializeAttachment())}
            except Exception as exc:
                result = {"error": _error(exc)}
            ws.send(json.dumps(result))
            return
        ws.send(
            json.dumps(
                {
                    "echo": message,
                    "attachment": attachment,
                    "tags": sorted(self.ctx.getTags(ws)),
                    "sockets": len(list(self.ctx.getWebSockets())),
                    "constructions": self._constructions(),
                }
            )
        )

    async def webSocketClose(self, ws: Any, code: int, reason: str, wasClean: bool) -> None:
        self.sql.exec("INSERT INTO events (kind, detail) VALUES ('close', ?)", f"{code} {reason}")
        ws.close(code, reason)  # completes the closing handshake at once

    async def closes(self) -> Any:
        return [
            r["detail"]
            for r in _sql_rows(self.sql.exec("SELECT detail FROM events WHERE kind = 'close'"))
        ]


# -- the Worker ----------------------------------------------------------------------------------


async def _answer(work: Any) -> Any:
    try:
        value = await work
    except Exception as exc:
        return Response.json({"error": _error(exc)})
    return Response.json({"ok": _plain(value)})


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        path = urlsplit(request.url).path
        if path == "/health":
            return Response("ok")
        parts = path.strip("/").split("/")
        if parts[0] == "do" and len(parts) == 3:
            stub = self.env.PROBE_OBJECT.getByName(parts[1])
            if parts[2] == "ws":
                return await stub.fetch(request)
            body = await request.json()
            return await _answer(getattr(stub, parts[2])(*body.get("args", [])))
        body = await request.json()
        binding = self.env.PROBE_WORKFLOW
        if path == "/wf/create":
            options: dict[str, Any] = {"params": {"probe": body["probe"], **body.get("params", {})}}
            if "id" in body:
                options["id"] = body["id"]
            return await _answer(self._create(binding, options))
        if path == "/wf/status":
            return await _answer(self._status(binding, body["id"]))
        if path == "/wf/event":
            return await _answer(self._event(binding, body))
        if path == "/wf/terminate":
            return await _answer(self._terminate(binding, body["id"]))
        return Response.json({"error": "no such route"}, status=404)

    async def _create(self, binding: Any, options: Any) -> Any:
        instance = await binding.create(options)
        return instance.id

    async def _status(self, binding: Any, instance_id: str) -> Any:
        instance = await binding.get(instance_id)
        return await instance.status()

    async def _event(self, binding: Any, body: Any) -> Any:
        instance = await binding.get(body["id"])
        return await instance.send_event({"type": body["type"], "payload": body.get("payload")})

    async def _terminate(self, binding: Any, instance_id: str) -> Any:
        instance = await binding.get(instance_id)
        return await instance.terminate()
