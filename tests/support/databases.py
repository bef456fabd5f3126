"""Open a Database of each kind for the ``database`` / ``d1_database`` fixtures.

- ``"sqlite"``: the local host's driver on a file in the test's ``tmp_path``;
- ``"d1-fake"``: the Cloudflare host's D1 driver over the fake D1 binding;
- ``"d1-real"``: the same driver over a real local D1 (workerd via the bridge worker), from
  ``tests.support.real_d1``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helix_agents.ports import Database

__all__ = ["open_database"]


async def open_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if kind == "sqlite":
        from helix_agents.db.sqlite import SQLiteDatabase

        return SQLiteDatabase(tmp_path / "helix.sqlite")
    if kind == "d1-fake":
        from helix_agents.hosts.cloudflare.d1 import D1Database
        from helix_agents.testing.d1 import FakeD1Database

        fake = FakeD1Database(tmp_path / "fake-d1.sqlite")
        request.addfinalizer(fake.close)
        return D1Database(fake)
    if kind == "d1-real":
        try:
            from tests.support.real_d1 import open_real_d1
        except ModuleNotFoundError as exc:  # pragma: no cover - until the bridge lands
            if exc.name != "tests.support.real_d1":
                raise
            pytest.skip("the real local D1 bridge (tests/support/real_d1.py) is not there yet")
        return await open_real_d1(request)
    raise ValueError(f"unknown database kind {kind!r}")
