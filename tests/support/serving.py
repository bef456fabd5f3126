"""What the tests' local servers (the OpenAI-compatible one, the OTLP receiver) share: a
``with`` block that starts and stops one, and the shape of a per-test fixture over a server
that outlives the test.

    @pytest.fixture(scope="module")
    def _process() -> Iterator[OTLPReceiver]:
        with OTLPReceiver() as receiver:
            yield receiver

    @pytest.fixture
    def receiver(_process: OTLPReceiver) -> Iterator[OTLPReceiver]:
        yield from _process.emptied()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

__all__ = ["LocalServer"]


class LocalServer:
    """A server on 127.0.0.1 for tests: subclasses define start, stop and reset."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what it recorded and what it was told to answer."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def emptied(self) -> Iterator[Self]:
        """For a per-test fixture: the server, emptied before the test and after it."""
        self.reset()
        yield self
        self.reset()
