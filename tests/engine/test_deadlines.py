"""Deadlines: many one-shot timeouts behind one event-loop timer (hosts/local/deadlines.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from helix_agents.hosts.local.deadlines import Deadline, Deadlines, call_by


async def test_deadlines_fire_in_time_and_cancelled_ones_never() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    start = loop.time()
    fired: dict[str, float] = {}

    def note(name: str) -> None:
        fired[name] = loop.time() - start

    deadlines.after(0.06, lambda: note("late"))
    deadlines.after(0.02, lambda: note("early"))  # earlier than the loop timer: moves it
    cancelled = deadlines.after(0.04, lambda: note("cancelled"))
    cancelled.cancel()
    assert len(deadlines) == 2
    await asyncio.sleep(0.03)
    assert set(fired) == {"early"}
    await asyncio.sleep(0.06)
    assert set(fired) == {"early", "late"}
    # Not before their time, to the loop's resolution: Pyodide's loop, on the host's
    # millisecond timers, runs a timer up to a couple of milliseconds early.
    assert fired["early"] >= 0.015
    assert fired["late"] >= 0.055
    assert len(deadlines) == 0


async def test_a_callback_that_raises_is_reported_and_the_others_run() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    reported: list[BaseException | None] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context.get("exception")))
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    deadlines.after(0.01, boom)
    deadlines.after(0.01, lambda: ran.append("other"))
    await asyncio.sleep(0.05)
    assert ran == ["other"]
    assert len(reported) == 1
    assert isinstance(reported[0], ValueError)


async def test_a_callback_can_cancel_one_due_with_it() -> None:
    # Two deadlines due together, each cancelling the other: whichever runs first, the
    # other must not run (as with the loop's own timers).
    deadlines = Deadlines()
    ran: list[str] = []
    armed: dict[str, Deadline] = {}

    def run(name: str, other: str) -> None:
        ran.append(name)
        armed[other].cancel()

    armed["a"] = deadlines.after(0.01, lambda: run("a", "b"))
    armed["b"] = deadlines.after(0.01, lambda: run("b", "a"))
    await asyncio.sleep(0.05)
    assert len(ran) == 1


def test_a_new_event_loop_starts_afresh() -> None:
    deadlines = Deadlines()
    ran: list[int] = []

    async def arm(n: int, wait: float) -> None:
        deadlines.after(0.01, lambda: ran.append(n))
        await asyncio.sleep(wait)

    asyncio.run(arm(1, 0.0))  # the loop ends before its deadline
    asyncio.run(arm(2, 0.05))
    assert ran == [2]


@pytest.mark.parametrize("count", [1, 50])
async def test_many_pending_fire_once_each(count: int) -> None:
    deadlines = Deadlines()
    ran: list[int] = []

    def note(i: int) -> Callable[[], None]:
        return lambda: ran.append(i)

    for i in range(count):
        deadlines.after(0.001 * (i % 5), note(i))
    await asyncio.sleep(0.05)
    assert sorted(ran) == list(range(count))


async def test_call_by_runs_a_time_already_past() -> None:
    # Pyodide's loop (run by the Pyodide tier) refuses call_at of a time past; call_by is
    # how the local host re-arms a timer whose due time may pass while it does so.
    loop = asyncio.get_running_loop()
    ran = asyncio.Event()
    call_by(loop, loop.time() - 1.0, ran.set)
    await asyncio.wait_for(ran.wait(), 5)
    started = loop.time()
    ran.clear()
    call_by(loop, started + 0.02, ran.set)
    await asyncio.wait_for(ran.wait(), 5)
    assert loop.time() - started >= 0.015  # not before its time (to the loop's resolution)
