"""The Step and Launcher conformance suite on the Cloudflare host's adapters over the fake
Workflows engine (the same suite the local engine passes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.cloudflare.harness import WorkflowsHarness
from tests.conformance.step_suite import StepSuite


class TestWorkflowsStep(StepSuite):
    @pytest.fixture
    async def harness(self) -> AsyncIterator[WorkflowsHarness]:
        harness = WorkflowsHarness()
        try:
            yield harness
        finally:
            await harness.close()
