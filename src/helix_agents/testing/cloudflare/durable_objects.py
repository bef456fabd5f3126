"""A fake of SQLite-backed Durable Objects: namespace, stubs, state, storage, alarms and
hibernatable WebSockets.

:class:`FakeDurableObjectNamespace` is what ``env.<BINDING>`` is. ``getByName(name)`` (or
``get(idFromName(name))``) gives a stub; calling a public method on it is an RPC: the
arguments and the result cross as the SDK converts them (:mod:`.jsvalues`), the object is
constructed on first use (``cls(ctx, env)``), and an exception comes back as a
``JsException`` carrying the Python traceback. ``stub.fetch(...)`` calls the object's
``fetch``; a ``fetch`` with ``Upgrade: websocket`` that the object answers ``101`` gives the
caller the client end of a socket (``response.js_object.webSocket``): a Worker calls its
``accept()`` and reads it through ``message`` and ``close`` events (:mod:`.websockets`). Each call counts in :attr:`~FakeDurableObjectNamespace.calls` and is a
subrequest of the caller's invocation (:mod:`.invocations`); every call, WebSocket event and
alarm runs as an invocation of the object's own.

An object's *storage* outlives its Python instance: :meth:`~FakeDurableObjectNamespace.evict`
drops the instance (calls in flight fail as they do when an object is reset), and the next
call or WebSocket event constructs a fresh one over the same SQLite database, alarm and
sockets: hibernation keeps accepted WebSockets connected. :meth:`~FakeDurableObjectNamespace.reset`
is a replacement of the instance (a deploy): its WebSockets are disconnected too (their
peers see close code 1006), and clients must reconnect. Storage follows workerd's rules where the runtime depends on them:
``sql.exec`` refuses ``BEGIN``/``SAVEPOINT``/``COMMIT``/``ROLLBACK``/``RELEASE`` (use
``transactionSync``), at most 100 bound parameters, cursors with ``toArray()`` and
``one()``; ``transactionSync(fn)`` rolls back when ``fn`` raises. Alarms fire when a test
calls :meth:`~FakeDurableObjectNamespace.run_alarms`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...db.rules import MAX_SAFE_INTEGER
from ...db.sqltext import first_keyword, split_statements
from ..d1 import _sqlite_message
from .invocations import Invocation, count_subrequest, start_in
from .jsvalues import JsArray, JsDict, JsException, from_rpc, js_error, python_error, to_rpc
from .websockets import FakeWebSocket, WebSocketRequestResponsePair, _Host

__all__ = [
    "FakeDurableObjectId",
    "FakeDurableObjectNamespace",
    "FakeDurableObjectState",
    "FakeDurableObjectStorage",
    "FakeSqlStorage",
]

_TRANSACTION_WORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_TRANSACTION_MESSAGE = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)
_RESET_MESSAGE = "Durable Object reset because its code was updated."
_BIGINT_MESSAGE = "Cannot convert a BigInt value to a number"
_MAX_PARAMS = 100
_MAX_TAGS = 10


class FakeDurableObjectId:
    def __init__(self, name: str) -> None:
        self.name = name
        self._hex = hashlib.sha256(name.encode()).hexdigest()

    def toString(self) -> str:
        return self._hex

    def equals(self, other: Any) -> bool:
        return isinstance(other, FakeDurableObjectId) and other._hex == self._hex


def _js_string(value: Any) -> str:
    """``String(value)`` of what a Python value becomes in JS."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(_js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _binding(value: Any) -> Any:
    """A bound value as workerd's SQL API takes the JS value Pyodide made of it: every
    number is a double (bound as a REAL), an int beyond 2**53 - 1 a BigInt (refused),
    anything else but a string, null or bytes its JS string (``true``, ``1,2``,
    ``[object Object]``)."""
    if value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, bool):
        return _js_string(value)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise js_error("TypeError", _BIGINT_MESSAGE)
        return float(value)
    if isinstance(value, float):
        return value
    return _js_string(value)


def _read(value: Any) -> Any:
    """A stored value as it reaches Python through JS: a whole, safe double is an int."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    return value


class FakeSqlCursor:
    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]], written: int) -> None:
        self.columnNames = JsArray(columns)
        self._rows = [JsDict(zip(columns, (_read(v) for v in row), strict=True)) for row in rows]
        self.rowsRead = len(rows)
        self.rowsWritten = written

    def toArray(self) -> JsArray:
        rows, self._rows = self._rows, []
        return JsArray(rows)

    def one(self) -> JsDict:
        if len(self._rows) != 1:
            got = "no results" if not self._rows else "multiple results"
            raise js_error("Error", f"Expected exactly one result from SQL query, but got {got}.")
        return self._rows.pop()

    def raw(self) -> JsArray:
        rows, self._rows = self._rows, []
        return JsArray(JsArray(row.values()) for row in rows)

    def __iter__(self) -> Any:
        rows, self._rows = self._rows, []
        return iter(rows)


class FakeSqlStorage:
    """``ctx.storage.sql`` over one SQLite connection (the object's database)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._depth = 0
        self.statements = 0

    @property
    def databaseSize(self) -> int:
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)

    def exec(self, query: str, *bindings: Any) -> FakeSqlCursor:
        # Tokenising is the slow part: only a text with a ';' can hold several statements.
        statements = (split_statements(query) if ";" in query else None) or [query]
        if any(first_keyword(sql) in _TRANSACTION_WORDS for sql in statements):
            raise js_error("Error", _TRANSACTION_MESSAGE)
        if len(bindings) > _MAX_PARAMS:
            raise js_error("Error", "too many SQL variables: SQLITE_ERROR")
        values = tuple(_binding(v) for v in bindings)
        self.statements += 1
        try:
            # Several statements run in order, the bindings go to the last one, and the
            # cursor is the last one's (as workerd does).
            for sql in statements[:-1]:
                self._conn.execute(sql)
            cursor = self._conn.execute(statements[-1], values)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            rows = cursor.fetchall() if cursor.description else []
            written = 0 if cursor.description else max(cursor.rowcount, 0)
        except sqlite3.Error as exc:
            raise js_error("Error", _sqlite_message(exc)) from None
        return FakeSqlCursor(columns, rows, written)

    def _transaction(self, fn: Callable[[], Any]) -> Any:
        name = f"tx{self._depth}"
        self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            result = fn()
        except BaseException:
            self._depth -= 1
            self._conn.execute(f"ROLLBACK TO {name}")
            self._conn.execute(f"RELEASE {name}")
            # The exception crosses into JS and back within the isolate: Pyodide hands the
            # very same Python exception back.
            raise
        self._depth -= 1
        self._conn.execute(f"RELEASE {name}")
        return result


class FakeDurableObjectStorage:
    """``ctx.storage``: SQL, the synchronous transaction, key-value and the alarm."""

    def __init__(self, record: _ObjectRecord) -> None:
        self._record = record
        self.sql = FakeSqlStorage(record.conn)

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        return self.sql._transaction(fn)

    async def transaction(self, fn: Callable[[Any], Any]) -> Any:
        result = fn(self)
        return await result if inspect.isawaitable(result) else result

    async def get(self, key: Any) -> Any:
        if isinstance(key, list):
            return JsDict({k: self._record.kv[k] for k in key if k in self._record.kv})
        return self._record.kv.get(key)

    async def put(self, key: Any, value: Any = None) -> None:
        if isinstance(key, dict):
            self._record.kv.update(key)
        else:
            self._record.kv[key] = value

    async def delete(self, key: Any) -> Any:
        keys = key if isinstance(key, list) else [key]
        found = [k for k in keys if self._record.kv.pop(k, None) is not None]
        return len(found) if isinstance(key, list) else bool(found)

    async def deleteAll(self) -> None:
        self._record.kv.clear()
        tables = self._record.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
        for (table,) in tables:
            self._record.conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        self._record.alarm = None

    async def setAlarm(self, when: Any) -> None:
        if isinstance(when, datetime):
            when = when.timestamp() * 1000
        self._record.alarm = float(when)

    async def getAlarm(self) -> float | None:
        alarm = self._record.alarm
        # A JS number: a whole one reaches Python as an int.
        return int(alarm) if alarm is not None and alarm.is_integer() else alarm

    async def deleteAlarm(self) -> None:
        self._record.alarm = None


@dataclass
class _ObjectRecord:
    """What outlives an object's Python instance: storage, alarm, sockets."""

    name: str
    conn: sqlite3.Connection
    kv: dict[Any, Any] = field(default_factory=dict)
    alarm: float | None = None
    sockets: list[tuple[FakeWebSocket, list[str]]] = field(default_factory=list)
    auto_response: WebSocketRequestResponsePair | None = None
    instance: Any = None
    state: FakeDurableObjectState | None = None
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    constructions: int = 0


class FakeDurableObjectState(_Host):
    """``ctx`` as a Durable Object's constructor receives it (through the SDK)."""

    def __init__(self, namespace: FakeDurableObjectNamespace, record: _ObjectRecord) -> None:
        self._namespace = namespace
        self._record = record
        self.id = FakeDurableObjectId(record.name)
        self.storage = FakeDurableObjectStorage(record)

    # -- hibernatable WebSockets ---------------------------------------------------------

    def acceptWebSocket(self, ws: FakeWebSocket, tags: Any = None) -> None:
        if tags is not None and not isinstance(tags, JsArray):
            raise js_error(
                "TypeError",
                "Failed to execute 'acceptWebSocket': parameter 2 is not a JS array (pass "
                "to_js([...]))",
            )
        tag_list = [str(t) for t in (tags or [])]
        if len(tag_list) > _MAX_TAGS or any(len(t) > 256 for t in tag_list):
            raise js_error("Error", "a WebSocket takes at most 10 tags of 256 characters")
        if ws.host is not None or ws.accepted:
            raise js_error("TypeError", "The WebSocket has already been accepted.")
        ws.host = self
        self._record.sockets.append((ws, tag_list))

    def getWebSockets(self, tag: str | None = None) -> JsArray:
        return JsArray(
            ws
            for ws, tags in self._record.sockets
            if ws.readyState == 1 and (tag is None or tag in tags)
        )

    def getTags(self, ws: FakeWebSocket) -> JsArray:
        for candidate, tags in self._record.sockets:
            if candidate is ws:
                return JsArray(tags)
        raise js_error("TypeError", "the WebSocket was not accepted by this object")

    def setWebSocketAutoResponse(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        self._record.auto_response = pair

    def getWebSocketAutoResponse(self) -> WebSocketRequestResponsePair | None:
        return self._record.auto_response

    def auto_response(self) -> WebSocketRequestResponsePair | None:
        return self._record.auto_response

    async def deliver_message(self, ws: FakeWebSocket, message: Any) -> None:
        await self._namespace._event(self._record.name, "webSocketMessage", ws, message)

    async def deliver_close(self, ws: FakeWebSocket, code: int, reason: str) -> None:
        try:
            await self._namespace._event(
                self._record.name, "webSocketClose", ws, code, reason, True
            )
        finally:
            ws.readyState = 3  # the runtime answers the close if the handler did not
            self._record.sockets = [(w, t) for w, t in self._record.sockets if w is not ws]

    # -- the rest of ctx -----------------------------------------------------------------

    def waitUntil(self, awaitable: Any) -> None:
        self._namespace._background.add(asyncio.ensure_future(awaitable))

    async def blockConcurrencyWhile(self, fn: Callable[[], Any]) -> Any:
        result = fn()
        return await result if inspect.isawaitable(result) else result


class FakeDurableObjectStub:
    """A stub: public methods are RPC calls; ``fetch`` calls the object's ``fetch``."""

    def __init__(self, namespace: FakeDurableObjectNamespace, name: str) -> None:
        self._namespace = namespace
        self.name = name
        self.id = FakeDurableObjectId(name)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(*args: Any) -> Any:
            return await self._namespace._rpc(self.name, method, args)

        return call

    async def fetch(self, resource: Any, **options: Any) -> Any:
        from .shim import workers_module

        Request = workers_module().Request
        request = resource if isinstance(resource, Request) else Request(resource, **options)
        refusal = self._namespace._refuse_upgrades
        if refusal is not None and (request.headers.get("upgrade") or "").lower() == "websocket":
            count_subrequest("durable_object")
            self._namespace.calls[self.name] = self._namespace.calls.get(self.name, 0) + 1
            raise js_error("Error", refusal)
        return await self._namespace._rpc(self.name, "fetch", (request,), raw=True)


class FakeDurableObjectNamespace:
    """``env.<BINDING>`` for a Durable Object class (see the module docstring)."""

    def __init__(self, cls: Any = None, env: Any = None) -> None:
        self._cls = cls
        self._env = env
        self._records: dict[str, _ObjectRecord] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._outage: str | None = None
        self._refuse_upgrades: str | None = None
        #: RPC calls per object name (each one a subrequest of its caller).
        self.calls: dict[str, int] = {}

    def bind(self, cls: Any, env: Any) -> None:
        self._cls, self._env = cls, env

    # -- the binding's API ---------------------------------------------------------------

    def getByName(self, name: str) -> FakeDurableObjectStub:
        return FakeDurableObjectStub(self, str(name))

    def idFromName(self, name: str) -> FakeDurableObjectId:
        return FakeDurableObjectId(str(name))

    def get(self, object_id: FakeDurableObjectId) -> FakeDurableObjectStub:
        return FakeDurableObjectStub(self, object_id.name)

    # -- what tests drive ----------------------------------------------------------------

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def names(self) -> list[str]:
        return list(self._records)

    def instance(self, name: str) -> Any:
        """The live Python instance of object ``name`` (None when evicted)."""
        record = self._records.get(name)
        return None if record is None else record.instance

    def constructions(self, name: str) -> int:
        record = self._records.get(name)
        return 0 if record is None else record.constructions

    def in_flight(self, name: str) -> int:
        """Calls of object ``name`` still running (a parked long poll among them): while
        there is one, the platform cannot hibernate the object."""
        record = self._records.get(name)
        return 0 if record is None else len(record.in_flight)

    def sockets(self, name: str) -> list[FakeWebSocket]:
        record = self._records.get(name)
        return [] if record is None else [ws for ws, _ in record.sockets if ws.readyState == 1]

    def alarm(self, name: str) -> float | None:
        record = self._records.get(name)
        return None if record is None else record.alarm

    def sql(self, name: str) -> sqlite3.Connection:
        return self._records[name].conn

    async def evict(self, name: str | None = None) -> None:
        """Drop the Python instance of ``name`` (or of every object), as hibernation or a
        reset does: calls in flight fail with the reset error; storage, alarm and
        accepted WebSockets stay."""
        for record in [self._records[name]] if name is not None else list(self._records.values()):
            record.instance = None
            record.state = None
            tasks = list(record.in_flight)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def outage(self, message: str = "Network connection lost.") -> None:
        """Every object becomes unreachable: calls in flight and every later call fail with
        ``message`` (until :meth:`recover`), and open WebSockets are disconnected."""
        self._outage = message
        await self.reset()

    def recover(self) -> None:
        self._outage = None

    async def reset(self, name: str | None = None) -> None:
        """Replace the instance of ``name`` (or of every object), as a deploy does: calls in
        flight fail, and its WebSockets are disconnected (the other ends see close code
        1006, with no close frame); storage and alarm stay."""
        records = [self._records[name]] if name is not None else list(self._records.values())
        await self.evict(name)
        for record in records:
            sockets, record.sockets = record.sockets, []
            for ws, _ in sockets:
                ws._drop(1006, "")

    def refuse_websockets(self, message: str | None = "Network connection lost.") -> None:
        """From now on a ``stub.fetch`` with ``Upgrade: websocket`` fails with ``message``
        (None: upgrades work again), as when the object cannot be reached for one."""
        self._refuse_upgrades = message

    async def run_alarms(self, now: float) -> list[str]:
        """Fire every alarm due at ``now`` (ms); the names of the objects woken."""
        fired = []
        for record in list(self._records.values()):
            if record.alarm is not None and record.alarm <= now:
                record.alarm = None
                await self._event(record.name, "alarm")
                fired.append(record.name)
        return fired

    # -- internals -----------------------------------------------------------------------

    def _record(self, name: str) -> _ObjectRecord:
        record = self._records.get(name)
        if record is None:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            record = self._records[name] = _ObjectRecord(name, conn)
        return record

    def _instance(self, name: str) -> Any:
        record = self._record(name)
        if record.instance is None:
            if self._cls is None:
                raise RuntimeError("no Durable Object class is bound to this namespace")
            state = FakeDurableObjectState(self, record)
            for ws, _ in record.sockets:
                ws.host = state
            record.state = state
            record.constructions += 1
            try:
                record.instance = self._cls(state, self._env)
            except BaseException as exc:
                raise python_error(exc) from None
        return record.instance

    async def _rpc(self, name: str, method: str, args: tuple[Any, ...], raw: bool = False) -> Any:
        count_subrequest("durable_object")
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._outage is not None:
            raise js_error("Error", self._outage)
        if not raw:
            args = tuple(from_rpc(to_rpc(a)) for a in args)
        instance = self._instance(name)
        function = getattr(type(instance), method, None)
        if not callable(function) or method.startswith("_"):
            raise js_error("TypeError", f"Method {method} does not exist")
        record = self._records[name]
        task = start_in(Invocation("durable_object", f"{name}.{method}"), function(instance, *args))
        record.in_flight.add(task)
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and record.instance is not instance:
                raise js_error("Error", self._outage or _RESET_MESSAGE) from None
            raise
        except JsException:
            raise
        except BaseException as exc:
            raise python_error(exc) from None
        finally:
            record.in_flight.discard(task)
        return result if raw else from_rpc(to_rpc(result))

    async def _event(self, name: str, handler: str, *args: Any) -> None:
        """A WebSocket event or an alarm: wakes the object if needed; a handler that the
        class does not define is skipped (its arguments are dropped if it takes fewer)."""
        instance = self._instance(name)
        function = getattr(type(instance), handler, None)
        if function is None:
            return
        params = list(inspect.signature(function).parameters.values())[1:]
        if not any(p.kind == p.VAR_POSITIONAL for p in params):
            args = args[: len(params)]

        async def handle() -> None:
            result = function(instance, *args)
            if inspect.isawaitable(result):
                await result

        await start_in(Invocation("durable_object", f"{name}.{handler}"), handle())
