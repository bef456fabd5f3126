"""What the executor does with schedules: make, read, cancel, recover, declare.

A schedule is made in two writes: its row (with its first due time), then the workflow
instance of that due time (:mod:`.schedule_firing`). A crash between them leaves an active
schedule with no instance; :meth:`ScheduleOps.recover` (the hosts' periodic sweep, and a local
host's start) creates the instance of every overdue schedule that has none, so the due time
fires late rather than never. The same sweep keeps a schedule firing when an instance ends
for good (errored, terminated) before it fired or settled its due time: that due time is
recorded as a ``failed`` firing (with the instance's error) and the next due time's instance
is created, so a failure is on record and the schedule goes on. Every firing still
``claimed`` whose instance ended is settled so, not only a schedule's latest (an older one
queued for a busy session is as stuck), at most ``limit`` of them checked a sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, ScheduleError, ScheduleNotFoundError
from ..ids import run_instance_id, validate_session_id
from ..schedules import (
    CronJob,
    Firing,
    Schedule,
    build_schedule,
    firing_instance_id,
    firing_message_id,
    firing_session_id,
    next_due,
)
from ..store.schedules import ScheduleStore
from .schedule_firing import launch_firing
from .starter import check_owner

if TYPE_CHECKING:
    from ..agent import Agent, AgentRegistry
    from ..ports.launcher import InstanceStatus, Launcher
    from ..store import StateStore

__all__ = ["ScheduleOps", "check_jobs", "to_ms", "to_seconds_ms"]

_log = logging.getLogger(__name__)

#: Instance states after which an instance will not fire any more.
_GONE = frozenset({"errored", "terminated", "complete"})


def to_ms(at: datetime | int | float | None) -> int | None:
    """A due time: a timezone-aware datetime, or epoch milliseconds."""
    if at is None:
        return None
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ScheduleError("at must be timezone-aware (a naive datetime is ambiguous)")
        return int(at.timestamp() * 1000)
    if isinstance(at, bool) or not isinstance(at, int | float) or not _finite(at):
        raise ScheduleError(f"at must be a datetime or epoch milliseconds, not {at!r}")
    return int(at)


def to_seconds_ms(value: timedelta | int | float | None, what: str) -> int | None:
    """A delay or interval: a timedelta, or seconds."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise ScheduleError(f"{what} must be seconds or a timedelta, not {value!r}")
    if abs(value) > 1e13:  # past the year 9999 either way: refused by build_schedule
        raise ScheduleError(f"{what} is out of range")
    return int(value * 1000)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


@dataclass
class ScheduleOps:
    registry: AgentRegistry
    store: StateStore
    launcher: Launcher
    clock: Callable[[], int]

    @property
    def schedules(self) -> ScheduleStore:
        return ScheduleStore(self.store.db, clock=self.clock)

    async def create(
        self,
        agent: Agent | str | None,
        message: str,
        *,
        at: datetime | int | float | None = None,
        delay: timedelta | int | float | None = None,
        cron: str | None = None,
        every: timedelta | int | float | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        on_busy: str = "queue",
        misfire: str = "run_late",
        misfire_grace: timedelta | int | float | None = None,
        schedule_id: str | None = None,
    ) -> Schedule:
        """Make a schedule and the instance of its first due time. On an existing session
        the schedule belongs to the session's owner. With ``schedule_id`` (a tool's, derived
        from its call) an existing schedule of that id is returned instead: a step re-run
        after a crash makes nothing twice."""
        name = agent if isinstance(agent, str) or agent is None else agent.name
        if schedule_id is not None:
            existing = await self.schedules.get(schedule_id)
            if existing is not None:
                return existing
        if session_id is not None:
            state = await self.store.load_session(validate_session_id(session_id))
            if state is None:
                from ..errors import SessionNotFoundError

                raise SessionNotFoundError(f"session {session_id!r} not found")
            check_owner(state, user_id)
            user_id = state.user_id if state.user_id is not None else user_id
            if name is not None and name != state.agent_type:
                raise ScheduleError(
                    f"session {session_id!r} belongs to agent {state.agent_type!r}, not {name!r}"
                )
            name = state.agent_type
        if name is None:
            raise ScheduleError("say which agent runs: an agent, or an existing session")
        self.registry.get(name)  # UnknownAgentError for a name the registry lacks
        schedule = build_schedule(
            agent=name,
            message=message,
            now_ms=int(self.clock()),
            at_ms=to_ms(at),
            delay_ms=to_seconds_ms(delay, "delay"),
            cron=cron,
            every_ms=to_seconds_ms(every, "every"),
            session_id=session_id,
            metadata=metadata,
            user_id=user_id,
            on_busy=on_busy,
            misfire=misfire,
            misfire_grace_ms=to_seconds_ms(misfire_grace, "misfire_grace"),
            schedule_id=schedule_id,
        )
        try:
            await self.schedules.create(schedule)
        except ConflictError:
            if schedule_id is None:
                raise
            found = await self.schedules.get(schedule_id)
            if found is None:  # pragma: no cover - cancelled rows are kept
                raise
            return found
        assert schedule.next_due_ms is not None
        await launch_firing(self.launcher, schedule.schedule_id, schedule.next_due_ms)
        return schedule

    async def get(self, schedule_id: str, *, user_id: str | None = None) -> Schedule:
        schedule = await self.schedules.get(schedule_id) if _plausible(schedule_id) else None
        if schedule is None or not _may_see(schedule, user_id):
            raise ScheduleNotFoundError(f"schedule {schedule_id!r} not found")
        return schedule

    async def list_for(
        self, *, user_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Schedule]:
        if status is not None and status not in ("active", "done", "cancelled"):
            raise ScheduleError(f"status must be active, done or cancelled, not {status!r}")
        return await self.schedules.list_schedules(user_id=user_id, status=status, limit=limit)

    async def firings(
        self, schedule_id: str, *, user_id: str | None = None, limit: int = 20
    ) -> list[Firing]:
        await self.get(schedule_id, user_id=user_id)
        return await self.schedules.list_firings(schedule_id, limit=limit)

    async def cancel(self, schedule_id: str, *, user_id: str | None = None) -> Schedule:
        """Cancel an active schedule (a done or cancelled one is returned as it is). A
        firing already under way finishes; no later one starts."""
        schedule = await self.get(schedule_id, user_id=user_id)
        if await self.schedules.cancel(schedule_id) and schedule.next_due_ms is not None:
            # Its waiting instance would find the schedule cancelled and do nothing; ending
            # it now only saves the wake-up.
            try:
                await self.launcher.terminate(firing_instance_id(schedule_id, schedule.next_due_ms))
            except Exception:
                pass
        return await self.get(schedule_id, user_id=user_id)

    async def recover(self, now: int | None = None, *, limit: int = 100) -> list[str]:
        """Keep every schedule firing (see the module): create the missing instance of each
        overdue schedule, record a due time whose instance ended without firing it as
        ``failed``, and settle every claimed firing whose instance ended before it did (at
        most ``limit`` claimed firings checked a sweep, oldest first). Returns the instances
        created."""
        now = int(self.clock()) if now is None else now
        launched: list[str] = []
        for schedule in await self.schedules.overdue(now, limit=limit):
            due = schedule.next_due_ms
            assert due is not None
            instance_id = firing_instance_id(schedule.schedule_id, due)
            found = await self.launcher.status(instance_id)
            if found.status == "unknown":
                await launch_firing(self.launcher, schedule.schedule_id, due)
                launched.append(instance_id)
            elif found.status in _GONE:
                # The id is write-once: this due time can never fire now. Record it as
                # failed and move the schedule on (the claim's guard: once, whoever sweeps).
                why = _ended(found)
                following = next_due(schedule, max(due, now))
                firing = await self.schedules.claim(
                    schedule, due, following, status="failed", detail=why
                )
                if firing is not None and firing.status == "failed":
                    _log.error(
                        "schedule %s: due time %s failed: %s", schedule.schedule_id, due, why
                    )
                launched += await self._launch_next(schedule.schedule_id, due)
        # Every claimed firing, oldest first and at most ``limit`` a sweep: an older queued
        # firing whose instance ended is as stuck as a schedule's latest one.
        for firing in await self.schedules.claimed_firings(limit=limit):
            launched += await self._settle_stalled(firing)
        return launched

    async def _settle_stalled(self, firing: Firing) -> list[str]:
        """A claimed firing whose instance ended before it recorded what became of its due
        time: ``started`` if its turn did start (the message id finds it), else ``failed``;
        then, for the schedule's latest firing, the schedule's next instance, which that
        instance's last step would have made. (An older firing's next due time was claimed
        already: the later firing's instance, or this sweep, makes the instance after it.)"""
        sid, due = firing.schedule_id, firing.due_ms
        found = await self.launcher.status(firing_instance_id(sid, due))
        if found.status not in _GONE:
            return []
        schedule = await self.schedules.get(sid)
        if schedule is None:
            return []
        session_id = firing_session_id(schedule, due)
        turn = await self.store.find_user_message(session_id, firing_message_id(sid, due))
        if turn is not None and turn[1].turn is not None:
            run_id = run_instance_id(session_id, turn[1].turn)
            await self.schedules.settle_firing(
                sid, due, "started", session_id=session_id, run_id=run_id
            )
        else:
            why = _ended(found)
            _log.error("schedule %s: due time %s failed: %s", sid, due, why)
            await self.schedules.settle_firing(sid, due, "failed", detail=why)
        if schedule.last_due_ms != due:
            return []
        return await self._launch_next(sid, due)

    async def _launch_next(self, schedule_id: str, due: int) -> list[str]:
        """The instance of the schedule's due time after ``due`` (write-once: kept if it
        exists)."""
        schedule = await self.schedules.get(schedule_id)
        if schedule is None or schedule.status != "active" or schedule.next_due_ms is None:
            return []
        if schedule.next_due_ms == due:
            return []
        instance_id = firing_instance_id(schedule_id, schedule.next_due_ms)
        if (await self.launcher.status(instance_id)).status != "unknown":
            return []
        await launch_firing(self.launcher, schedule_id, schedule.next_due_ms)
        return [instance_id]

    async def declare(self, jobs: Sequence[CronJob]) -> list[str]:
        """Make the schedules declared in code: each job once, under ``cron-{name}``; a job
        whose declaration changed is made again (its waiting firing finds a different due
        time, or the same one, and fires once either way)."""
        made: list[str] = []
        for job in jobs:
            self.registry.get(job.agent)
            wanted = build_schedule(
                agent=job.agent,
                message=job.message,
                now_ms=int(self.clock()),
                cron=job.cron,
                session_id=job.session_id,
                metadata=job.metadata,
                on_busy=job.on_busy,
                misfire=job.misfire,
                name=job.name,
            )
            current = await self.schedules.get(wanted.schedule_id)
            if current is not None and current.status == "active" and _same_job(current, wanted):
                continue
            await self.schedules.replace(wanted)
            assert wanted.next_due_ms is not None
            await launch_firing(self.launcher, wanted.schedule_id, wanted.next_due_ms)
            made.append(wanted.schedule_id)
        return made


def check_jobs(registry: AgentRegistry, jobs: Sequence[CronJob]) -> list[CronJob]:
    """Cron jobs declared in code, checked when the host is built (no I/O, no clock): each
    names a registered agent, a valid name (unique) and a cron expression that parses."""
    seen: set[str] = set()
    for job in jobs:
        if not isinstance(job, CronJob):
            raise ScheduleError(f"not a CronJob: {job!r}")
        registry.get(job.agent)
        built = build_schedule(
            agent=job.agent, message=job.message, now_ms=0, cron=job.cron, name=job.name
        )
        if built.schedule_id in seen:
            raise ScheduleError(f"two cron jobs are named {job.name!r}")
        seen.add(built.schedule_id)
    return list(jobs)


def _ended(found: InstanceStatus) -> str:
    """Why a firing failed: its instance's end, with the instance's error if it has one."""
    error = found.error or {}
    message = ": ".join(v for v in (error.get("name"), error.get("message")) if v)
    why = f"the firing's instance ended ({found.status}) before it fired"
    return f"{why}: {message}"[:2000] if message else why


def _same_job(a: Schedule, b: Schedule) -> bool:
    keys = ("agent", "message", "cron", "session_id", "metadata", "on_busy", "misfire")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _may_see(schedule: Schedule, user_id: str | None) -> bool:
    return user_id is None or schedule.user_id is None or schedule.user_id == user_id


def _plausible(schedule_id: str) -> bool:
    return isinstance(schedule_id, str) and 0 < len(schedule_id) <= 64
