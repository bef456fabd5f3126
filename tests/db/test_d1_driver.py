"""The D1 driver over bindings shaped like the older runtime's: raw proxies, not JsDicts.

The runtime's built-in SDK hands out raw ``JsProxy`` objects (``to_py()`` converts them, and
attribute access works on them); the PyPI SDK hands out ``JsDict``. The driver reads both.
These wrappers turn the fake's answers into proxy-like objects; everything else is the fake.
"""

from __future__ import annotations

from typing import Any

from helix_agents.hosts.cloudflare.d1 import D1Database
from helix_agents.ports import ExecResult, Statement
from helix_agents.testing.d1 import FakeD1Database


class Proxy:
    """A stand-in for a Pyodide ``JsProxy`` of a JS object: attributes and ``to_py()``."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def __getattr__(self, name: str) -> Any:
        return self._value[name]

    def to_py(self) -> Any:
        return self._value


class ProxyStatement:
    def __init__(self, statement: Any) -> None:
        self.statement = statement

    def bind(self, *values: Any) -> ProxyStatement:
        return ProxyStatement(self.statement.bind(*values))

    async def all(self) -> Proxy:
        return Proxy(dict(await self.statement.all()))

    async def run(self) -> Proxy:
        return Proxy(dict(await self.statement.run()))


class ProxyBinding:
    def __init__(self, fake: FakeD1Database) -> None:
        self.fake = fake

    def prepare(self, sql: str) -> ProxyStatement:
        return ProxyStatement(self.fake.prepare(sql))

    async def batch(self, statements: list[ProxyStatement]) -> Proxy:
        results = await self.fake.batch([s.statement for s in statements])
        return Proxy([Proxy(dict(r)) for r in results])


async def test_the_driver_reads_proxies() -> None:
    with FakeD1Database() as fake:
        db = D1Database(ProxyBinding(fake))
        await db.execute("CREATE TABLE t (a, b BLOB)")
        assert await db.execute("INSERT INTO t VALUES (?, ?)", ["x", b"\x01\x02"]) == ExecResult(
            changes=1, last_row_id=1
        )
        assert await db.query("SELECT a, b FROM t") == [{"a": "x", "b": b"\x01\x02"}]
        results = await db.batch(
            [
                Statement("INSERT INTO t VALUES ('y', NULL)"),
                Statement("SELECT count(*) AS n FROM t"),
            ]
        )
        assert results == [[], [{"n": 2}]]


async def test_a_result_without_rows_or_meta() -> None:
    class Bare:
        def prepare(self, sql: str) -> Bare:
            return self

        async def all(self) -> dict[str, Any]:
            return {"success": True}

        async def run(self) -> dict[str, Any]:
            return {"success": True}

    db = D1Database(Bare())
    assert await db.query("SELECT 1") == []
    assert await db.execute("SELECT 1") == ExecResult(changes=0, last_row_id=None)


def test_the_worker_side_imports_without_sqlite3() -> None:
    # A Worker has no sqlite3 (and no js/pyodide on CPython): the D1 driver, the rules and
    # the store must not need it.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sqlite3'] = None; sys.modules['_sqlite3'] = None\n"
        "import helix_agents.hosts.cloudflare.d1, helix_agents.store, helix_agents.db.rules\n"
        "assert 'js' not in sys.modules and 'pyodide' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
