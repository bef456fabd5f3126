from __future__ import annotations

import pytest

from helix_agents.testing.d1_bridge import D1BridgeBinding
from tests.support.real_d1 import real_d1_binding


@pytest.fixture
async def bridge(request: pytest.FixtureRequest) -> D1BridgeBinding:
    """The session's real local D1, through the bridge, emptied for this test."""
    return await real_d1_binding(request)
