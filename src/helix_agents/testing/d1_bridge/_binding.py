"""``D1BridgeBinding``: a D1 binding, as Python sees it in a Worker, backed by a real local D1.

The surface is the one workers-runtime-sdk gives a Python Worker: ``prepare(sql)`` returns a
statement, ``bind(*values)`` a new bound statement, and the statement's ``all()``, ``run()``,
``first(column)`` and ``raw()`` are coroutines; ``batch(statements)`` and ``exec(sql)`` too.
Results are dicts shaped as D1 makes them (``{success, meta, results}``; ``exec`` gives
``{count, duration}``), with attribute access like the SDK's ``JsDict``. D1's errors arrive
as :class:`D1JsError` with D1's own message, the way a ``JsException`` carries it.

One difference a caller can notice: D1 validates bound values in ``bind()``, synchronously;
here the values travel with the query, so a ``D1_TYPE_ERROR`` surfaces when the statement
runs. Everything else (conversions, limits, errors, batch atomicity) is D1's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ._codec import decode_result, encode_value

__all__ = ["D1BridgeBinding", "D1BridgeError", "D1BridgeStatement", "D1JsError"]


class D1JsError(Exception):
    """An error that D1 raised in workerd, carried back verbatim.

    ``str()`` is ``"<name>: <message>"``, as for Pyodide's ``JsException``; ``message`` is
    D1's message (e.g. ``"D1_ERROR: too many SQL variables at offset 207: SQLITE_ERROR"``),
    ``cause`` the message of its ``cause`` when it has one.
    """

    def __init__(self, name: str, message: str, cause: str | None = None) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.cause = cause


class D1BridgeError(RuntimeError):
    """The bridge itself failed (not running, unreachable, or sent something it rejects).

    Never an error of D1: those are :class:`D1JsError`.
    """


class D1BridgeStatement:
    """A prepared statement; ``bind`` returns a new one, as D1's does."""

    __slots__ = ("_binding", "_params", "_sql")

    def __init__(self, binding: D1BridgeBinding, sql: str, params: Sequence[Any] = ()) -> None:
        self._binding = binding
        self._sql = sql
        self._params = [encode_value(value) for value in params]

    @property
    def sql(self) -> str:
        return self._sql

    def bind(self, *values: Any) -> D1BridgeStatement:
        return D1BridgeStatement(self._binding, self._sql, values)

    def _spec(self) -> dict[str, Any]:
        return {"sql": self._sql, "params": self._params}

    async def all(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._binding._call({"op": "all", **self._spec()})
        return result

    async def run(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._binding._call({"op": "run", **self._spec()})
        return result

    async def first(self, column: str | None = None) -> Any:
        return await self._binding._call({"op": "first", "column": column, **self._spec()})

    async def raw(
        self, options: Mapping[str, Any] | None = None, *, columnNames: bool = False
    ) -> list[list[Any]]:
        """Rows as lists; with ``columnNames`` (keyword or ``{"columnNames": True}``) the
        first list holds the column names."""
        wanted = columnNames or bool((options or {}).get("columnNames", False))
        rows: list[list[Any]] = await self._binding._call(
            {"op": "raw", "columnNames": wanted, **self._spec()}
        )
        return rows


class D1BridgeBinding:
    """The D1 binding of the bridge worker at ``base_url`` (see the module docstring).

    Each call opens its own short-lived HTTP client unless ``client`` is given: the binding
    then works from any event loop (pytest gives each test its own) and leaves nothing open.
    """

    def __init__(
        self, base_url: str, *, client: httpx.AsyncClient | None = None, timeout: float = 60.0
    ) -> None:
        self._url = base_url.rstrip("/") + "/"
        self._client = client
        self._timeout = timeout

    @property
    def url(self) -> str:
        return self._url

    def prepare(self, sql: str) -> D1BridgeStatement:
        return D1BridgeStatement(self, sql)

    async def batch(self, statements: Sequence[D1BridgeStatement]) -> list[dict[str, Any]]:
        """Run the statements as one D1 batch: atomically, in order."""
        specs = []
        for statement in statements:
            if not isinstance(statement, D1BridgeStatement):
                raise TypeError("batch() takes statements made by this binding's prepare()")
            specs.append(statement._spec())
        results: list[dict[str, Any]] = await self._call({"op": "batch", "statements": specs})
        return results

    async def exec(self, sql: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call({"op": "exec", "sql": sql})
        return result

    async def reset(self) -> list[str]:
        """Drop every table and view a test made (bridge-only; not part of D1's API)."""
        result = await self._call({"op": "reset"})
        dropped: list[str] = result["dropped"]
        return dropped

    async def ping(self) -> bool:
        """True when the bridge answers and its D1 runs a query (bridge-only)."""
        return bool(await self._call({"op": "ping"}) == 1)

    async def _call(self, body: dict[str, Any]) -> Any:
        try:
            if self._client is not None:
                response = await self._client.post(self._url, json=body, timeout=self._timeout)
            else:
                transport = httpx.AsyncHTTPTransport(verify=False)
                async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
                    response = await client.post(self._url, json=body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise D1BridgeError(f"the D1 bridge at {self._url} is unreachable: {exc!r}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise D1BridgeError(
                f"the D1 bridge answered HTTP {response.status_code} without a JSON object: "
                f"{response.text[:500]!r}"
            )
        if payload.get("ok") is True:
            return decode_result(payload.get("result"))
        error = payload.get("error")
        if isinstance(error, dict):
            cause = error.get("cause")
            raise D1JsError(
                str(error.get("name", "Error")),
                str(error.get("message", "")),
                None if cause is None else str(cause),
            )
        raise D1BridgeError(
            f"the D1 bridge refused the request (HTTP {response.status_code}): "
            f"{payload.get('bridge_error', payload)}"
        )
