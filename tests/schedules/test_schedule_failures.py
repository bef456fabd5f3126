"""A firing whose instance ends for good does not stop its schedule (issue 14).

Instance ids are write-once (``{scheduleId}--f{dueMs}``), so a due time whose instance
errored or was terminated can never fire. The sweep records that due time as a ``failed``
firing, with the instance's error, and creates the instance of the next due time, which
then fires exactly once. Real SQLite and the real local engine; the instances end for real
(terminated through the launcher, or a step raising a NonRetryableError)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents.core import schedule_firing
from helix_agents.errors import NonRetryableError
from helix_agents.hosts.local import LocalHost
from helix_agents.messages import UserMessage
from helix_agents.schedules import Firing, Schedule, firing_instance_id

from .test_local_schedules import echo, until

pytestmark = pytest.mark.timeout(60)


async def firings_of(host: LocalHost, schedule: Schedule) -> dict[int, Firing]:
    return {f.due_ms: f for f in await host.executor.schedule_firings(schedule.schedule_id)}


async def wait_past(due_ms: int, extra: float = 0.3) -> None:
    await asyncio.sleep(max(0.0, due_ms / 1000 - time.time()) + extra)


async def fires_once_after(
    host: LocalHost, schedule: Schedule, failed_due: int, *, was: str = "failed"
) -> Firing:
    """The due time after ``failed_due`` fires (started), once, and nothing else did."""

    async def next_started() -> Firing | None:
        found = await firings_of(host, schedule)
        later = [f for d, f in found.items() if d > failed_due and f.status == "started"]
        return later[0] if later else None

    started: Firing = await until(next_started, timeout=20)
    await host.executor.cancel_schedule(schedule.schedule_id)
    await asyncio.sleep(0.3)
    found = await firings_of(host, schedule)
    later = sorted(d for d in found if d > failed_due)
    assert later[0] == started.due_ms
    assert (started.due_ms - failed_due) % (schedule.every_ms or 1) == 0
    # One firing per due time, one turn per started firing: the failed due time is not
    # fired again later.
    assert found[failed_due].status == was
    handle = await host.executor.get_handle(started.session_id or "")
    assert handle is not None
    await handle.result(timeout=10)
    users = [m for m in await handle.messages() if isinstance(m, UserMessage)]
    assert [m.content for m in users] == [schedule.message]
    return started


async def test_a_terminated_firing_is_recorded_failed_and_the_next_due_time_fires(
    tmp_path: Path,
) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        schedule = await host.executor.schedule("echo", "tick", every=2)
        due = schedule.next_due_ms
        assert due is not None
        await host.executor.launcher.terminate(firing_instance_id(schedule.schedule_id, due))
        await wait_past(due)
        stuck = await host.executor.get_schedule(schedule.schedule_id)
        assert stuck.next_due_ms == due  # nothing fired: before the fix, stuck for good
        assert await firings_of(host, schedule) == {}

        swept = await host.executor.sweep()
        after = await host.executor.get_schedule(schedule.schedule_id)
        assert after.next_due_ms is not None
        assert after.next_due_ms > due
        assert swept["schedules"] == [firing_instance_id(schedule.schedule_id, after.next_due_ms)]
        failed = (await firings_of(host, schedule))[due]
        assert failed.status == "failed"
        assert failed.run_id is None
        assert "terminated" in (failed.detail or "")
        assert after.fire_count == 1
        assert after.last_due_ms == due
        # A second sweep finds nothing to do: the failure is recorded once.
        assert (await host.executor.sweep())["schedules"] == []
        assert (await firings_of(host, schedule))[due] == failed

        await fires_once_after(host, schedule, due)


async def test_an_errored_firing_records_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken: set[int] = set()
    real_fire = schedule_firing._Firer.fire

    async def fire(self: Any, ctx: Any, **kw: Any) -> dict[str, Any]:
        if self.due in broken:
            raise NonRetryableError("the store said no")
        return await real_fire(self, ctx, **kw)

    monkeypatch.setattr(schedule_firing._Firer, "fire", fire)
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        schedule = await host.executor.schedule("echo", "tock", every=2)
        due = schedule.next_due_ms
        assert due is not None
        broken.add(due)
        instance = firing_instance_id(schedule.schedule_id, due)
        await until(
            lambda: _state(host, instance, "errored"),
            timeout=max(5.0, due / 1000 - time.time() + 5),
        )
        await host.executor.sweep()
        failed = (await firings_of(host, schedule))[due]
        assert failed.status == "failed"
        assert "errored" in (failed.detail or "")
        assert "NonRetryableError: the store said no" in (failed.detail or "")
        await fires_once_after(host, schedule, due)


async def test_a_firing_that_ended_after_its_claim_is_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance claimed its due time (the schedule moved on), then ended: the sweep
    settles the claimed firing, as ``started`` if its turn did start, and creates the next
    due time's instance, which that instance's last step would have made."""
    broken: set[int] = set()
    real_settle = schedule_firing._Firer._settle

    async def settle(self: Any, status: str, **kw: Any) -> dict[str, Any]:
        if status == "started" and self.due in broken:
            raise NonRetryableError("crashed after the start")
        return await real_settle(self, status, **kw)

    monkeypatch.setattr(schedule_firing._Firer, "_settle", settle)
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        schedule = await host.executor.schedule("echo", "tack", every=2)
        first_due = schedule.next_due_ms
        assert first_due is not None
        broken.add(first_due)
        instance = firing_instance_id(schedule.schedule_id, first_due)
        await until(lambda: _state(host, instance, "errored"), timeout=10)
        claimed = (await firings_of(host, schedule))[first_due]
        assert claimed.status == "claimed"
        moved = await host.executor.get_schedule(schedule.schedule_id)
        assert moved.next_due_ms is not None
        next_instance = firing_instance_id(schedule.schedule_id, moved.next_due_ms)
        assert (await host.executor.launcher.status(next_instance)).status == "unknown"

        swept = await host.executor.sweep()
        assert swept["schedules"] == [next_instance]  # before its due time, not after
        settled = (await firings_of(host, schedule))[first_due]
        assert settled.status == "started"
        assert settled.run_id is not None
        assert settled.session_id is not None
        handle = await host.executor.get_handle(settled.session_id)
        assert handle is not None
        assert handle.run_id == settled.run_id
        await fires_once_after(host, schedule, first_due, was="started")


async def test_a_queued_firing_terminated_while_it_waits(tmp_path: Path) -> None:
    gate = asyncio.Event()
    async with LocalHost([echo("slow", gate=gate)], tmp_path, sweep_interval=None) as host:
        busy = await host.executor.execute("slow", "hold on", session_id="s-q")
        schedule = await host.executor.schedule(None, "when free", every=2, session_id="s-q")
        due = schedule.next_due_ms
        assert due is not None

        async def claimed() -> bool:
            return (await firings_of(host, schedule)).get(due) is not None

        await until(claimed, timeout=10)
        await host.executor.launcher.terminate(firing_instance_id(schedule.schedule_id, due))
        await host.executor.sweep()
        failed = (await firings_of(host, schedule))[due]
        assert failed.status == "failed"
        assert "terminated" in (failed.detail or "")
        gate.set()
        await busy.result(timeout=10)

        async def next_started() -> list[Firing]:
            found = await firings_of(host, schedule)
            return [f for d, f in found.items() if d > due and f.status == "started"]

        started = await until(next_started, timeout=20)
        await host.executor.cancel_schedule(schedule.schedule_id)
        await asyncio.sleep(0.3)
        handle = await host.executor.get_handle("s-q")
        assert handle is not None
        await handle.result(timeout=10)
        users = [m.content for m in await handle.messages() if isinstance(m, UserMessage)]
        fired = [f for f in (await firings_of(host, schedule)).values() if f.status == "started"]
        assert len(started) >= 1
        assert users == ["hold on"] + ["when free"] * len(fired)


async def test_an_older_queued_firing_whose_instance_ended_is_settled(tmp_path: Path) -> None:
    """Two due times of one schedule wait behind a busy session (queued, ``claimed``); the
    older one's instance is terminated while the later one waits. The sweep records the
    older one ``failed`` with the reason, though it is not the schedule's latest firing
    (before, only each schedule's latest firing was looked at: the older one stayed
    ``claimed`` for good), and leaves the later one waiting, which then fires."""
    gate = asyncio.Event()
    async with LocalHost([echo("slow", gate=gate)], tmp_path, sweep_interval=None) as host:
        busy = await host.executor.execute("slow", "hold on", session_id="s-old")
        schedule = await host.executor.schedule(None, "when free", every=2, session_id="s-old")
        sid, first = schedule.schedule_id, schedule.next_due_ms
        assert first is not None

        def claimed(due: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                firing = (await firings_of(host, schedule)).get(due)
                return firing is not None and firing.status == "claimed"

            return check

        await until(claimed(first), timeout=10)
        # The first firing waits for the session; the schedule moved on. Its next due
        # time's instance is made by the sweep once that due time is overdue (the first
        # instance's last step has not run yet).
        second = (await host.executor.get_schedule(sid)).next_due_ms
        assert second is not None
        await wait_past(second)
        assert (await host.executor.sweep())["schedules"] == [firing_instance_id(sid, second)]
        await until(claimed(second), timeout=10)
        assert (await host.executor.get_schedule(sid)).last_due_ms == second

        await host.executor.launcher.terminate(firing_instance_id(sid, first))
        swept = await host.executor.sweep()
        found = await firings_of(host, schedule)
        assert found[first].status == "failed"
        assert found[first].run_id is None
        assert "terminated" in (found[first].detail or "")
        assert found[second].status == "claimed"  # its instance still waits: left alone
        assert swept["schedules"] == []  # the later firing's instance makes the next one
        # A second sweep changes nothing: the failure is recorded once.
        await host.executor.sweep()
        assert (await firings_of(host, schedule))[first] == found[first]

        gate.set()
        await busy.result(timeout=10)

        async def second_started() -> Firing | None:
            firing = (await firings_of(host, schedule)).get(second)
            return firing if firing is not None and firing.status == "started" else None

        started = await until(second_started, timeout=20)
        await host.executor.cancel_schedule(sid)
        await asyncio.sleep(0.3)
        handle = await host.executor.get_handle("s-old")
        assert handle is not None
        await handle.result(timeout=10)
        users = [m.content for m in await handle.messages() if isinstance(m, UserMessage)]
        fired = [f for f in (await firings_of(host, schedule)).values() if f.status == "started"]
        assert started in fired
        assert users == ["hold on"] + ["when free"] * len(fired)


async def test_a_restarted_host_records_the_failure_and_fires_on(tmp_path: Path) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        schedule = await host.executor.schedule("echo", "after the restart", every=2)
        due = schedule.next_due_ms
        assert due is not None
        await host.executor.launcher.terminate(firing_instance_id(schedule.schedule_id, due))
    await wait_past(due)  # down past the due time; the start's sweep finds the failure
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        failed = (await firings_of(host, schedule))[due]
        assert failed.status == "failed"
        assert "terminated" in (failed.detail or "")
        await fires_once_after(host, schedule, due)


async def _state(host: LocalHost, instance_id: str, state: str) -> bool:
    return (await host.executor.launcher.status(instance_id)).status == state
