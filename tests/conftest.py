"""Fixtures shared across the suite.

``database`` runs a test against every Database driver: sqlite3, the D1 driver over the fake
D1 binding, and the D1 driver over a real local D1 (workerd, through the bridge worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helix_agents.ports import Database

DATABASE_KINDS = ["sqlite", "d1-fake", "d1-real"]
D1_KINDS = ["d1-fake", "d1-real"]


@pytest.fixture(params=DATABASE_KINDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    from tests.support.databases import open_database

    db = await open_database(request.param, tmp_path, request)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(params=D1_KINDS)
async def d1_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    from tests.support.databases import open_database

    db = await open_database(request.param, tmp_path, request)
    try:
        yield db
    finally:
        await db.close()
