"""Schedules on the local host: a turn started by the clock, once per due time.

Real SQLite, the real engine, a deterministic model; the times are a second or two out, so
the tests wait for real."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.errors import (
    ScheduleError,
    ScheduleNotFoundError,
    SessionNotFoundError,
    UnknownAgentError,
)
from helix_agents.hosts.local import LocalHost
from helix_agents.messages import UserMessage
from helix_agents.schedules import CronJob, Schedule
from helix_agents.testing import FunctionModel

pytestmark = pytest.mark.timeout(60)


def echo(name: str = "echo", *, gate: asyncio.Event | None = None) -> Agent:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if gate is not None:
            await gate.wait()
        last = [m for m in messages if isinstance(m, UserMessage)][-1]
        yield f"heard: {last.content}"

    return Agent(name=name, model=FunctionModel(stream_function=stream))


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def started_firings(host: LocalHost, schedule: Schedule) -> list[Any]:
    firings = await host.executor.schedule_firings(schedule.schedule_id)
    return [f for f in firings if f.status != "claimed"]


async def test_a_delayed_schedule_fires_once_in_a_new_session(tmp_path: Path) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        before = int(time.time() * 1000)
        schedule = await host.executor.schedule(
            "echo", "good morning", delay=0.5, metadata={"source": "test"}
        )
        assert schedule.kind == "once"
        assert schedule.status == "active"
        assert before + 500 <= (schedule.next_due_ms or 0) <= before + 2000
        firings = await until(lambda: started_firings(host, schedule))
        assert len(firings) == 1
        assert firings[0].status == "started"
        firing = firings[0]
        assert firing.fired_at >= schedule.next_due_ms
        handle = await host.executor.get_handle(firing.session_id)
        assert handle is not None
        assert handle.run_id == firing.run_id
        run = await handle.result(timeout=10)
        assert run.status.value == "completed"
        messages = await handle.messages()
        assert isinstance(messages[0], UserMessage)
        assert messages[0].content == "good morning"
        assert messages[0].metadata == {"source": "test"}
        assert "heard: good morning" in str(messages[-1].content)
        done = await host.executor.get_schedule(schedule.schedule_id)
        assert done.status == "done"
        assert done.next_due_ms is None
        assert done.fire_count == 1
        await asyncio.sleep(0.5)
        assert len(await host.executor.schedule_firings(schedule.schedule_id)) == 1


async def test_an_interval_schedule_on_an_existing_session(tmp_path: Path) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        first = await host.executor.execute("echo", "hello", session_id="s-every")
        await first.result(timeout=10)
        schedule = await host.executor.schedule(None, "tick", every=1, session_id="s-every")
        assert schedule.agent == "echo"
        assert schedule.kind == "interval"

        async def three() -> bool:
            return len(await started_firings(host, schedule)) >= 3

        await until(three, timeout=20)
        cancelled = await host.executor.cancel_schedule(schedule.schedule_id)
        assert cancelled.status == "cancelled"
        assert cancelled.next_due_ms is None
        firings = await started_firings(host, schedule)
        dues = sorted(f.due_ms for f in firings)
        assert all(b - a == 1000 for a, b in itertools.pairwise(dues))
        assert all(f.status == "started" and f.session_id == "s-every" for f in firings)
        await asyncio.sleep(1.5)
        after = await started_firings(host, schedule)
        assert len(after) <= len(firings) + 1  # one may have been under way at the cancel
        handle = await host.executor.get_handle("s-every")
        assert handle is not None
        await handle.result(timeout=10)
        users = [m for m in await handle.messages() if isinstance(m, UserMessage)]
        assert [m.content for m in users] == ["hello"] + ["tick"] * len(after)


async def test_busy_policies(tmp_path: Path) -> None:
    gate = asyncio.Event()
    async with LocalHost([echo("slow", gate=gate)], tmp_path, sweep_interval=None) as host:
        busy = await host.executor.execute("slow", "hold on", session_id="s-busy")
        skip = await host.executor.schedule(
            None, "skip me", delay=0.2, session_id="s-busy", on_busy="skip"
        )
        # misfire="skip" judges the wake-up only: waiting for the busy session is no misfire.
        queue = await host.executor.schedule(
            None, "queue me", delay=0.3, session_id="s-busy", misfire="skip", misfire_grace=0.2
        )
        skipped = await until(lambda: started_firings(host, skip))
        assert skipped[0].status == "skipped"
        assert "active run" in (skipped[0].detail or "")
        await asyncio.sleep(0.8)
        assert await started_firings(host, queue) == []  # waits for the run to end
        gate.set()
        await busy.result(timeout=10)
        queued = await until(lambda: started_firings(host, queue), timeout=20)
        assert queued[0].status == "started"
        handle = await host.executor.get_handle("s-busy")
        assert handle is not None
        await handle.result(timeout=10)
        users = [m.content for m in await handle.messages() if isinstance(m, UserMessage)]
        assert users == ["hold on", "queue me"]

        gate.clear()
        again = await host.executor.execute("slow", "long one", session_id="s-busy")
        sup = await host.executor.schedule(
            None, "take over", delay=0.2, session_id="s-busy", on_busy="supersede"
        )
        taken = await until(lambda: started_firings(host, sup))
        assert taken[0].status == "started"
        old = await host.executor.store.get_run(again.run_id)
        assert old is not None
        assert old.status.value == "aborted"
        gate.set()


async def test_refusals(tmp_path: Path) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        ex = host.executor
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "x")  # no time
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "x", delay=1, cron="* * * * *")
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "x", cron="61 * * * *")
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "x", every=0.01)
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "", delay=1)
        with pytest.raises(ScheduleError):
            await ex.schedule("echo", "x", delay=1, on_busy="later")  # type: ignore[arg-type]
        with pytest.raises(UnknownAgentError):
            await ex.schedule("nobody", "x", delay=1)
        with pytest.raises(SessionNotFoundError):
            await ex.schedule(None, "x", delay=1, session_id="missing")
        with pytest.raises(ScheduleNotFoundError):
            await ex.get_schedule("sch_missing")
        mine = await ex.schedule("echo", "x", delay=60, user_id="alice")
        with pytest.raises(ScheduleNotFoundError):
            await ex.get_schedule(mine.schedule_id, user_id="bob")
        with pytest.raises(ScheduleNotFoundError):
            await ex.cancel_schedule(mine.schedule_id, user_id="bob")
        assert [s.schedule_id for s in await ex.list_schedules(user_id="bob")] == []
        assert [s.schedule_id for s in await ex.list_schedules(user_id="alice")] == [
            mine.schedule_id
        ]
        assert (await ex.cancel_schedule(mine.schedule_id, user_id="alice")).status == "cancelled"


async def test_a_schedule_survives_a_restart_and_fires_late_once(tmp_path: Path) -> None:
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        late = await host.executor.schedule("echo", "while you were out", delay=0.5)
        missed = await host.executor.schedule(
            "echo", "only on time", delay=0.5, misfire="skip", misfire_grace=0.2
        )
    await asyncio.sleep(1.5)  # the host is down past both due times
    async with LocalHost([echo()], tmp_path, sweep_interval=None) as host:
        fired = await until(lambda: started_firings(host, late))
        assert fired[0].status == "started"
        skipped = await until(lambda: started_firings(host, missed))
        assert skipped[0].status == "missed"
        assert skipped[0].run_id is None
        await asyncio.sleep(0.5)
        assert len(await host.executor.schedule_firings(late.schedule_id)) == 1


async def test_declared_cron_jobs_are_made_once(tmp_path: Path) -> None:
    jobs = [CronJob(name="nightly", cron="0 3 * * *", agent="echo", message="report")]
    async with LocalHost([echo()], tmp_path, sweep_interval=None, schedules=jobs) as host:
        made = await host.executor.get_schedule("cron-nightly")
        assert made.kind == "cron"
        assert made.name == "nightly"
        assert await host.executor.declare_schedules(jobs) == []
    changed = [jobs[0].model_copy(update={"message": "the report"})]
    async with LocalHost([echo()], tmp_path, sweep_interval=None, schedules=changed) as host:
        again = await host.executor.get_schedule("cron-nightly")
        assert again.message == "the report"
        assert again.next_due_ms == made.next_due_ms
        assert len(await host.executor.list_schedules()) == 1
