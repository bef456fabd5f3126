"""The store conformance suite runs on every Database kind (see ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from helix_agents.ports import Database
from helix_agents.store import StateStore, migrate
from tests.store._helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(database: Database, clock: FakeClock) -> StateStore:
    await migrate(database)
    return StateStore(database, clock=clock)
