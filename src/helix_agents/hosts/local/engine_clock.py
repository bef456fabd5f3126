"""Time for the local engine: a wall clock for durable deadlines, and timers.

Deadlines (a sleep's end, a retry's due time, a wait's timeout) are stored as wall-clock
milliseconds, because they must mean the same thing after a restart. Waiting for them
uses the event loop's timers, never a polling loop. Timeouts (an attempt's, a wait's), which
almost always end cancelled, share one loop timer (:mod:`.deadlines`).

Tests inject a fake clock and a fake ``sleep``; every timer of the engine (per-attempt
timeouts included) then runs on that fake time, so no test needs to wait for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ...clock import now_ms
from .deadlines import Deadline, Deadlines

__all__ = ["Clock", "SleepFn", "Timer", "Timers"]

Clock = Callable[[], float]
SleepFn = Callable[[float], Awaitable[None]]


class Timer:
    """A one-shot callback; ``fired`` says whether it ran."""

    __slots__ = ("_handle", "_task", "fired")

    def __init__(self) -> None:
        self.fired = False
        self._handle: Deadline | None = None
        self._task: asyncio.Future[None] | None = None

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._task is not None:
            self._task.cancel()


class Timers:
    """``clock`` (ms since the epoch) and ``sleep`` (seconds), real unless injected."""

    def __init__(self, clock: Clock | None = None, sleep: SleepFn | None = None) -> None:
        self.clock: Clock = clock or now_ms
        self._sleep = sleep
        #: The real timers' one loop timer: each attempt of each step arms a timeout.
        self._deadlines = Deadlines()

    def now(self) -> int:
        return int(self.clock())

    async def sleep_ms(self, ms: float) -> None:
        if ms <= 0:
            return
        if self._sleep is None:
            await asyncio.sleep(ms / 1000.0)
        else:
            await self._sleep(ms / 1000.0)

    async def sleep_until(self, deadline_ms: float) -> None:
        """Sleep until the clock reads ``deadline_ms`` (at once if it is past)."""
        await self.sleep_ms(deadline_ms - self.clock())

    def call_later(self, ms: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()

        def fire() -> None:
            timer.fired = True
            callback()

        if self._sleep is None:
            timer._handle = self._deadlines.after(max(ms, 0.0) / 1000.0, fire)
        else:
            task = asyncio.ensure_future(self.sleep_ms(ms))

            def done(t: asyncio.Future[None]) -> None:
                if not t.cancelled() and t.exception() is None:
                    fire()

            task.add_done_callback(done)
            timer._task = task
        return timer
