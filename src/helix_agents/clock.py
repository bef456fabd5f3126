"""The one wall clock: milliseconds since the epoch, for everything that is kept.

Timestamps in the store, the chunk log's ``created_at``/``updated_at`` and TTL, the local
engine's deadlines (a sleep's end, a retry's due time, a wait's timeout) and the fake
Workflows engine all read :func:`now_ms` unless a component was handed a clock of its own.
Durable times must mean the same after a restart, so this is the wall clock, never a
monotonic one (those stay for in-process pacing only: waits, budgets, timeouts of a call).

Tests move every component that uses the default at once with :func:`use_clock`; nothing
here reads the time at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ClockMs", "now_ms", "use_clock", "wall_clock_ms"]

#: A clock: milliseconds since the epoch.
ClockMs = Callable[[], float]

#: The clock in force; None is the system's. Module state on purpose: a task started
#: before a test sets the clock must see it too, which a context variable would not give.
_source: ClockMs | None = None


def now_ms() -> float:
    """The time in milliseconds since the epoch (fractions kept, for timers)."""
    source = _source
    return float(source()) if source is not None else time.time() * 1000.0


def wall_clock_ms() -> int:
    """The time in whole milliseconds since the epoch: what is stored."""
    return int(now_ms())


@contextmanager
def use_clock(clock: ClockMs) -> Iterator[None]:
    """Make ``clock`` the default clock of every component, until the block ends."""
    global _source
    previous, _source = _source, clock
    try:
        yield
    finally:
        _source = previous
