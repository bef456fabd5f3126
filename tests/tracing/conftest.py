"""The real OTLP/HTTP receiver the tracing tests export to: one process per module, emptied
before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otlp_receiver import OTLPReceiver


@pytest.fixture(scope="module")
def _receiver_process() -> Iterator[OTLPReceiver]:
    receiver = OTLPReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def receiver(_receiver_process: OTLPReceiver) -> Iterator[OTLPReceiver]:
    _receiver_process.reset()
    yield _receiver_process
    _receiver_process.reset()
