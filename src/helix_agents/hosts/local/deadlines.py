"""Many one-shot timeouts behind one event-loop timer.

The local host arms a timeout for things that almost always end first: every attempt of a
step (10 minutes by default), every parked read of a stream, every wait for a stop. With
``loop.call_later`` each costs a timer pushed on the loop's heap and a cancel that leaves it
there until it comes due (asyncio only drops cancelled timers when they reach the top, or
when they outnumber the live ones), several per agent step, and every later push and pop
compares against them.

:class:`Deadlines` keeps its timeouts in a set and one loop timer set for the earliest. A
cancel is a set removal. The loop timer is moved only for a deadline earlier than the one
it is set for; when it fires it runs what is due and sets itself for the earliest left (a
scan of what is pending: keep one :class:`Deadlines` per kind of timeout, so that a scan
is over few). Callbacks run from that one timer, in no particular order among those due
together; one that raises is reported to the loop's exception handler, as a timer's would
be, and the others still run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadline", "Deadlines", "call_by"]


def call_by(
    loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], object]
) -> asyncio.TimerHandle:
    """``loop.call_at(when, callback)`` that accepts a ``when`` already past (run soon).

    Pyodide's loop turns ``call_at`` into ``call_later(when - its own time())`` and refuses
    a negative delay: a ``when`` checked to be in the future a moment earlier can be past by
    then. The refusal is raised inside the timer callback that was re-arming itself, where
    the loop's exception handler swallows it and the timer is simply never set again.
    """
    return loop.call_later(max(when - loop.time(), 0.0), callback)


class Deadline:
    """One pending timeout of a :class:`Deadlines` (cancel it when it is not needed)."""

    __slots__ = ("_owner", "callback", "cancelled", "when")

    def __init__(self, owner: Deadlines, when: float, callback: Callable[[], object]) -> None:
        self._owner = owner
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self._owner._pending.discard(self)


class Deadlines:
    """Timeouts on the running loop's clock (see the module docstring)."""

    def __init__(self) -> None:
        self._pending: set[Deadline] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: When the loop timer is set for (meaningful while _timer is set).
        self._timer_at = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    def after(self, seconds: float, callback: Callable[[], object]) -> Deadline:
        """Call ``callback`` in ``seconds`` (on the running loop) unless cancelled first."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new loop (a test's next asyncio.run): what the old one had pending can no
            # longer run there.
            self._pending.clear()
            self._loop, self._timer = loop, None
        deadline = Deadline(self, loop.time() + max(seconds, 0.0), callback)
        self._pending.add(deadline)
        if self._timer is None or deadline.when < self._timer_at:
            self._set(loop, deadline.when)
        return deadline

    def _set(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = call_by(loop, when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer = None
        loop = self._loop
        if loop is None:  # pragma: no cover - the timer is only set with a loop
            return
        # Due: what was set for no later than this timer (the loop runs a timer when its
        # time has come, to the clock's resolution).
        at = max(self._timer_at, loop.time())
        due = [d for d in self._pending if d.when <= at]
        for deadline in due:
            self._pending.discard(deadline)
        if self._pending:
            self._set(loop, min(d.when for d in self._pending))
        for deadline in due:
            if deadline.cancelled:  # by a callback run before it
                continue
            try:
                deadline.callback()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                loop.call_exception_handler(
                    {"message": "Exception in a deadline callback", "exception": exc}
                )
