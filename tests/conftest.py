"""Fixtures shared across the suite (``make_host`` and ``make_server`` come from
tests/support/fixtures.py).

``database`` runs a test against every Database driver: sqlite3, the D1 driver over the fake
D1 binding, and the D1 driver over a real local D1 (workerd, through the bridge worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from helix_agents.ports import Database
from helix_agents.testing import forbid_model_requests
from tests.support.fixtures import make_host, make_server

#: ``d1-real`` carries the ``d1`` marker, so ``-m "not d1"`` leaves out every test that would
#: start the real local D1 (the ids stay ``[d1-real]``).
_D1_REAL = pytest.param("d1-real", marks=pytest.mark.d1, id="d1-real")
DATABASE_KINDS = ["sqlite", "d1-fake", _D1_REAL]
D1_KINDS = ["d1-fake", _D1_REAL]


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


@pytest.fixture(autouse=True)
def _no_real_model_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test reaches a real LLM: the real adapters refuse to send a request
    (ModelRequestsForbiddenError) unless the test is marked ``model_requests`` (it talks to a
    local server or a fake binding)."""
    if request.node.get_closest_marker("model_requests") is not None:
        yield
        return
    with forbid_model_requests():
        yield


__all__ = ["make_host", "make_server"]  # re-exported: pytest finds fixtures by name here
