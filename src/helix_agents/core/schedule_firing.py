"""Firing a schedule: one durable workflow instance per due time, on either host.

The instance ``{schedule_id}--f{due_ms}`` runs on the agent workflow (the payload tells it
apart from a turn): the local engine runs it locally, Cloudflare Workflows on a Worker, so
the durable wait is the platform's own (a Workflows sleep; the engine's journaled sleep).
Its steps::

    schedule/plan          the clock when the instance first ran (makes the sleeps replayable)
    schedule/sleep-N       durable sleeps until the due time (each at most Workflows' longest)
    schedule/fire[-K]      claim the due time and start the turn (K: a queued retry)
    schedule/wait-K        a queued firing's wait while the session is busy
    schedule/next          create the instance of the schedule's next due time

Why a firing happens once: instance ids are write-once, so a due time has one instance;
its claim is a guarded batch (:meth:`~helix_agents.store.schedules.ScheduleStore.claim`)
that finds an earlier attempt's claim instead of claiming again; the turn's user message
carries the id ``schedule:{id}:{due}``, and a fire step re-run after a crash looks it up
before it starts anything (and launches the run's instance if the crash came between the
run's record and its instance). Why it is never silently skipped: the instance survives
restarts (the engine resumes it; Workflows keeps it), and a firing that does not start a
run records why (``skipped``, ``missed``) in its firing row. An instance that ends for good
(errored, terminated) before it records its firing is found by the sweep
(:meth:`~helix_agents.core.schedule_ops.ScheduleOps.recover`), which records the due time as
``failed`` and creates the next due time's instance.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConflictError,
    HelixError,
    InstanceExistsError,
    SessionNotFoundError,
    UnknownAgentError,
)
from ..ids import run_instance_id
from ..messages import UserMessage
from ..ports.step import Step, StepContext
from ..schedules import (
    Schedule,
    firing_instance_id,
    firing_message_id,
    firing_session_id,
    next_due,
)
from ..store.schedules import ScheduleStore
from ..workflow_rules import MAX_SLEEP_MS
from .starter import RunStarter

if TYPE_CHECKING:
    from ..ports.launcher import Launcher
    from .deps import RunDeps

__all__ = [
    "FIRING_KEY",
    "firing_payload",
    "is_firing_payload",
    "launch_firing",
    "run_schedule_firing",
]

#: The payload key that marks an agent-workflow instance as a schedule's firing.
FIRING_KEY = "scheduleFiring"
#: A queued firing asks again after these waits (ms), the last one repeated.
QUEUE_WAITS_MS = (1_000, 2_000, 5_000, 10_000, 30_000, 60_000)
#: How many times a queued firing asks before it gives up (about two hours of waits).
QUEUE_ATTEMPTS = 130


def firing_payload(schedule_id: str, due_ms: int) -> dict[str, Any]:
    return {FIRING_KEY: {"scheduleId": schedule_id, "dueMs": due_ms}}


def is_firing_payload(payload: Any) -> bool:
    return isinstance(payload, dict) and FIRING_KEY in payload


async def launch_firing(launcher: Launcher, schedule_id: str, due_ms: int) -> str:
    """Create the instance of one due time; an instance that exists already is kept."""
    instance_id = firing_instance_id(schedule_id, due_ms)
    try:
        await launcher.create(instance_id, firing_payload(schedule_id, due_ms))
    except InstanceExistsError:
        pass
    return instance_id


async def run_schedule_firing(payload: dict[str, Any], step: Step, deps: RunDeps) -> dict[str, Any]:
    """The instance of one due time (see the module docstring)."""
    spec = payload[FIRING_KEY]
    schedule_id, due = str(spec["scheduleId"]), int(spec["dueMs"])
    firer = _Firer(deps, schedule_id, due)

    async def plan(_: StepContext) -> int:
        return int(deps.clock())

    started = int(await step.do("schedule/plan", plan))
    remaining, n = due - started, 0
    while remaining > 0:
        chunk = min(remaining, int(MAX_SLEEP_MS))
        await step.sleep(f"schedule/sleep-{n}", chunk)
        remaining -= chunk
        n += 1
    attempt = 0
    while True:
        name = "schedule/fire" if attempt == 0 else f"schedule/fire-{attempt}"
        last = attempt + 1 >= QUEUE_ATTEMPTS
        fire = functools.partial(firer.fire, last=last, first=attempt == 0)
        outcome: dict[str, Any] = await step.do(name, fire)
        if not outcome.get("busy"):
            break
        wait = QUEUE_WAITS_MS[min(attempt, len(QUEUE_WAITS_MS) - 1)]
        await step.sleep(f"schedule/wait-{attempt}", wait)
        attempt += 1
    outcome["next"] = await step.do("schedule/next", firer.launch_next)
    return outcome


class _Firer:
    def __init__(self, deps: RunDeps, schedule_id: str, due: int) -> None:
        self.deps = deps
        self.schedule_id = schedule_id
        self.due = due
        self.schedules = ScheduleStore(deps.store.db, clock=deps.clock)

    async def fire(self, _: StepContext, *, last: bool, first: bool = True) -> dict[str, Any]:
        """Claim the due time (or find the claim) and start its turn, once."""
        schedule = await self.schedules.get(self.schedule_id)
        if schedule is None:
            return {"status": "gone"}
        firing = await self.schedules.get_firing(self.schedule_id, self.due)
        if firing is None:
            if schedule.status != "active" or schedule.next_due_ms != self.due:
                return {"status": "not-due", "scheduleStatus": schedule.status}
            # Due times missed during an outage collapse into this one firing: the
            # schedule continues with its first due time after now.
            after = max(self.due, int(self.deps.clock()))
            firing = await self.schedules.claim(schedule, self.due, next_due(schedule, after))
            if firing is None:
                return {"status": "not-due"}
        if firing.status != "claimed":
            return {"status": firing.status, "runId": firing.run_id}
        return await self._start(schedule, last, first)

    async def _start(self, schedule: Schedule, last: bool, first: bool) -> dict[str, Any]:
        deps, due = self.deps, self.due
        starter = RunStarter.from_deps(deps)
        session_id = firing_session_id(schedule, due)
        message_id = firing_message_id(schedule.schedule_id, due)
        found = await deps.store.find_user_message(session_id, message_id)
        if found is not None and found[1].turn is not None:
            # An earlier attempt started the turn (and crashed before it recorded so):
            # make sure the run's instance exists, and record it.
            run_id = run_instance_id(session_id, found[1].turn)
            await self._ensure_launched(starter, run_id)
            return await self._settle("started", session_id=session_id, run_id=run_id)
        # The misfire policy judges the wake-up (the first attempt): a firing that then
        # waited for a busy session is late by the queue policy, not by an outage.
        late = int(deps.clock()) - due
        if first and schedule.misfire == "skip" and late > schedule.misfire_grace_ms:
            return await self._settle(
                "missed", detail=f"{late} ms late, past the misfire grace of the schedule"
            )
        if schedule.status == "cancelled":
            return await self._settle("skipped", detail="the schedule was cancelled")
        try:
            agent = deps.registry.get(schedule.agent)
            params = await starter.start_turn(
                agent,
                [UserMessage(content=schedule.message, id=message_id, metadata=schedule.metadata)],
                session_id=session_id,
                user_id=schedule.user_id,
                supersede=schedule.on_busy == "supersede",
                metadata=schedule.metadata,
            )
        except ConflictError as exc:
            busy = await deps.store.active_run(session_id) is not None
            if busy and schedule.on_busy == "queue" and not last:
                return {"busy": True}
            why = "the session had an active run" if busy else str(exc)
            return await self._settle("skipped", session_id=session_id, detail=why)
        except (SessionNotFoundError, UnknownAgentError) as exc:
            return await self._settle("skipped", session_id=session_id, detail=str(exc))
        await starter.launch(params)
        return await self._settle("started", session_id=session_id, run_id=params.run_id)

    async def _ensure_launched(self, starter: RunStarter, run_id: str) -> None:
        run = await self.deps.store.get_run(run_id)
        if run is None or run.status.value != "active":
            return
        if (await starter.launcher.status(run_id)).status == "unknown":
            await starter.relaunch(run)

    async def _settle(
        self,
        status: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> dict[str, Any]:
        await self.schedules.settle_firing(
            self.schedule_id,
            self.due,
            status,
            session_id=session_id,
            run_id=run_id,
            detail=detail,
        )
        out: dict[str, Any] = {"status": status}
        if session_id is not None:
            out["sessionId"] = session_id
        if run_id is not None:
            out["runId"] = run_id
        if detail is not None:
            out["detail"] = detail
        return out

    async def launch_next(self, _: StepContext) -> int | None:
        """Create the instance of the schedule's next due time, if it has one."""
        schedule = await self.schedules.get(self.schedule_id)
        if schedule is None or schedule.status != "active" or schedule.next_due_ms is None:
            return None
        if schedule.next_due_ms == self.due:
            return None  # not claimed by this instance (cancelled and re-made, say)
        launcher = self.deps.launcher
        if launcher is None:  # pragma: no cover - both hosts give one
            raise HelixError("firing a schedule needs RunDeps.launcher")
        await launch_firing(launcher, self.schedule_id, schedule.next_due_ms)
        return schedule.next_due_ms
