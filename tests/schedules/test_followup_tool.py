"""``schedule_toolkit``: an agent schedules its own follow-up turn, once, on the local host."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from helix_agents.hosts.local import LocalHost
from helix_agents.messages import UserMessage
from helix_agents.toolkits.schedule import followup_schedule_id
from tests.schedules.agents import reminder

pytestmark = pytest.mark.timeout(60)


async def test_an_agent_schedules_its_own_followup(tmp_path: Path) -> None:
    async with LocalHost([reminder()], tmp_path, sweep_interval=None) as host:
        ex = host.executor
        first = await ex.execute("reminder", "remind me", session_id="r1", user_id="ann")
        run = await first.result(timeout=10)
        assert run.status.value == "completed"
        [schedule] = await ex.list_schedules()
        assert schedule.session_id == "r1"
        assert schedule.user_id == "ann"  # the session's owner
        assert schedule.message == "time to check"
        assert schedule.metadata is not None
        call_id = schedule.metadata["scheduledBy"]["toolCallId"]
        assert schedule.metadata == {"scheduledBy": {"runId": first.run_id, "toolCallId": call_id}}
        assert schedule.schedule_id == followup_schedule_id("r1", call_id)

        deadline = time.monotonic() + 15
        while True:
            firings = await ex.schedule_firings(schedule.schedule_id)
            if firings and firings[0].status == "started":
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        handle = await ex.get_handle("r1")
        assert handle is not None
        await handle.result(timeout=10)
        users = [m.content for m in await handle.messages() if isinstance(m, UserMessage)]
        assert users == ["remind me", "time to check"]
        assert "got: time to check" in str((await handle.messages())[-1].content)

        # A re-run of the tool's step (a crash) makes no second schedule.
        scheduler = host.executor._schedules  # the same operations the tool uses
        same = await scheduler.create(
            None,
            "time to check",
            delay=5,
            session_id="r1",
            schedule_id=schedule.schedule_id,
        )
        assert same.schedule_id == schedule.schedule_id
        assert len(await ex.list_schedules()) == 1


async def test_a_refused_followup_is_told_to_the_model(tmp_path: Path) -> None:
    async with LocalHost([reminder()], tmp_path, sweep_interval=None) as host:
        handle = await host.executor.execute("reminder", "bad", session_id="r2")
        await handle.result(timeout=10)
        text = str((await handle.messages())[-1].content)
        assert "between 1 and 2592000 seconds" in text
        assert await host.executor.list_schedules() == []
