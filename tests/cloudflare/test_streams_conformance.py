"""The StreamManager conformance suite on the Cloudflare host: DOStreamManager over the
StreamManager Durable Object (the same suite the local manager passes)."""

from __future__ import annotations

import pytest

from tests.cloudflare.harness import DurableObjectStreamsHarness
from tests.conformance.streams_suite import StreamManagerSuite


class TestDurableObjectStreams(StreamManagerSuite):
    @pytest.fixture(params=["live", "evicted"])
    def harness(self, request: pytest.FixtureRequest) -> DurableObjectStreamsHarness:
        return DurableObjectStreamsHarness(evict=request.param == "evicted")
