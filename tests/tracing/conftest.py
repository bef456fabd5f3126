"""The real OTLP/HTTP receiver the tracing tests export to: one process per module, emptied
before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otlp_receiver import OTLPReceiver


@pytest.fixture(scope="module")
def _receiver_process() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(_receiver_process: OTLPReceiver) -> Iterator[OTLPReceiver]:
    yield from _receiver_process.emptied()
