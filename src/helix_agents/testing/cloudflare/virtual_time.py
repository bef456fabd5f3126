"""An asyncio event loop on virtual time: when nothing is ready to run, time jumps to the
next timer instead of waiting for it.

A model that streams 10,000 tokens at 50 per second "takes" 200 seconds, and every timer
the runtime sets (the StreamWriter's flush, a long-poll's timeout, a Workflow's retry delay)
fires at its virtual due time, in order, in a few real milliseconds. ``loop.time()`` is the
virtual clock, so anything that reads it (the StreamWriter does) sees the same time the
timers do; :func:`virtual_clock_ms` turns it into epoch milliseconds for the app's clock.
(The loop's own time starts at 0: near an epoch's magnitude a float cannot hold asyncio's
nanosecond clock resolution, and timers would never come due.)

Only for code that does no real I/O (the fakes are all in-process): a socket would be polled
without waiting, and a loop with nothing scheduled at all would wait for real.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "run_virtual", "virtual_clock_ms"]

T = TypeVar("T")

#: Where virtual time starts: 2026-01-01T00:00:00Z, in seconds.
EPOCH = 1_767_225_600.0


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self, inner: selectors.BaseSelector) -> None:
        self.inner = inner
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self.inner.select(0)
        if ready:
            return ready
        if timeout is None:  # nothing scheduled: only another thread can wake the loop
            return self.inner.select(None)
        if timeout > 0 and self.loop is not None:
            self.loop.advance(timeout)
        return []

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self.inner.get_map()

    def close(self) -> None:
        self.inner.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """See the module docstring. ``time()`` starts at 0."""

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector(selectors.DefaultSelector())
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = start

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on a fresh :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def virtual_clock_ms() -> int:
    """Epoch milliseconds on the running loop's clock (virtual under :func:`run_virtual`,
    counted from :data:`EPOCH`)."""
    return int((EPOCH + asyncio.get_running_loop().time()) * 1000)
