"""The Step and Launcher conformance suite, run against the local engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conformance.step_suite import StepSuite
from tests.engine.harness import LocalEngineHarness


class TestLocalEngine(StepSuite):
    @pytest.fixture
    async def harness(self, tmp_path: Path) -> AsyncIterator[LocalEngineHarness]:
        harness = LocalEngineHarness(tmp_path / "engine.db")
        await harness.start()
        try:
            yield harness
        finally:
            await harness.close()
