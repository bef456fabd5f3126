"""Schedules: an agent's turn started by the clock, not by a person.

A :class:`Schedule` says *when* (once at a time, once after a delay, on a cron expression,
or every interval), *what* (an agent, a message, optional metadata), *where* (an existing
session, or a new session per firing) and two policies:

- ``on_busy``, for a firing whose session has an active run: ``"queue"`` (wait until it
  ends, then start; the default), ``"skip"`` (record the firing as skipped) or
  ``"supersede"`` (end the active run and start);
- ``misfire``, for a due time that passed while the host was down: ``"run_late"`` (the
  default: it fires as soon as the host is back, once) or ``"skip"`` (a firing later than
  ``misfire_grace_ms`` after its due time is recorded as missed and does not start a run).
  Either way several due times missed in one outage collapse into that one firing, and the
  schedule continues with its first due time after the outage.

This module is the data and the pure time arithmetic (:func:`next_due`,
:func:`build_schedule`); the store keeps schedules in ``__helix_schedules``
(:mod:`helix_agents.store.schedules`), and one durable workflow instance per due time
fires them (:mod:`helix_agents.core.schedule_firing`). See ``docs/triggers.md``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from ._base import Record
from .cron import parse_cron
from .errors import ScheduleError

__all__ = [
    "BusyPolicy",
    "CronJob",
    "Firing",
    "MisfirePolicy",
    "Schedule",
    "ScheduleKind",
    "ScheduleStatus",
    "build_schedule",
    "declared_schedule_id",
    "firing_instance_id",
    "firing_message_id",
    "firing_session_id",
    "new_schedule_id",
    "next_due",
]

ScheduleKind = Literal["once", "cron", "interval"]
ScheduleStatus = Literal["active", "done", "cancelled"]
BusyPolicy = Literal["queue", "skip", "supersede"]
MisfirePolicy = Literal["run_late", "skip"]
#: ``failed``: the firing's instance ended for good (errored, terminated) before it settled;
#: the sweep recorded it with the instance's error (docs/triggers.md).
FiringStatus = Literal["claimed", "started", "skipped", "missed", "failed"]

BUSY_POLICIES: tuple[str, ...] = ("queue", "skip", "supersede")
MISFIRE_POLICIES: tuple[str, ...] = ("run_late", "skip")
#: The shortest interval: a schedule is not a busy loop.
MIN_INTERVAL_MS = 1_000
#: How late a firing may be under ``misfire="skip"`` unless the schedule says otherwise.
DEFAULT_MISFIRE_GRACE_MS = 60_000
#: A declared job's name: it makes the schedule's id (``cron-{name}``).
_NAME_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,39}$")
_MESSAGE_MAX = 100_000
#: The last millisecond of year 9999: no due time lies beyond (nor fits a date).
MAX_TIME_MS = 253_402_300_799_999


class Schedule(Record):
    """One schedule, as stored and as the API shows it."""

    schedule_id: str
    agent: str
    message: str
    kind: ScheduleKind
    #: ``once``: the due time (epoch ms).
    at_ms: int | None = None
    #: ``cron``: five fields, UTC.
    cron: str | None = None
    #: ``interval``: milliseconds between due times (the first one ``every_ms`` after the
    #: schedule is made, unless ``at_ms`` says when).
    every_ms: int | None = None
    #: None: each firing starts a session of its own.
    session_id: str | None = None
    metadata: dict[str, Any] | None = None
    user_id: str | None = None
    #: A declared job's name (``CronJob``); None for schedules made at run time.
    name: str | None = None
    on_busy: BusyPolicy = "queue"
    misfire: MisfirePolicy = "run_late"
    misfire_grace_ms: int = DEFAULT_MISFIRE_GRACE_MS
    status: ScheduleStatus = "active"
    #: The due time the schedule waits for next (None once it is done or cancelled).
    next_due_ms: int | None = None
    #: How many due times were claimed (started, skipped, missed or failed), and the last.
    fire_count: int = 0
    last_due_ms: int | None = None
    created_at: int = 0
    updated_at: int = 0


class Firing(Record):
    """What became of one due time of a schedule."""

    schedule_id: str
    due_ms: int
    status: FiringStatus
    session_id: str | None = None
    run_id: str | None = None
    detail: str | None = None
    fired_at: int
    updated_at: int


class CronJob(Record):
    """A schedule declared in code (``LocalHost(schedules=[...])``,
    ``CloudflareApp(schedules=[...])``): made when the host starts, under the id
    ``cron-{name}``, and made again only when its declaration changes."""

    name: str
    cron: str
    agent: str
    message: str
    session_id: str | None = None
    metadata: dict[str, Any] | None = None
    on_busy: BusyPolicy = "queue"
    misfire: MisfirePolicy = "run_late"


def new_schedule_id() -> str:
    """A fresh random schedule id (outside steps only: it is not deterministic)."""
    return "sch_" + uuid.uuid4().hex[:24]


def declared_schedule_id(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ScheduleError(
            f"a job's name must match {_NAME_RE.pattern} (letters, digits, _ and -; at most "
            f"40 characters), not {name!r}"
        )
    return f"cron-{name}"


def firing_instance_id(schedule_id: str, due_ms: int) -> str:
    """The workflow instance that fires ``schedule_id`` at ``due_ms`` (write-once: a due
    time cannot get two instances)."""
    return f"{schedule_id}--f{due_ms}"


def firing_session_id(schedule: Schedule, due_ms: int) -> str:
    """The session a firing runs in: the schedule's, or one of its own per due time
    (deterministic, so a firing re-run after a crash finds the session it started)."""
    return schedule.session_id or f"{schedule.schedule_id}-{due_ms}"


def firing_message_id(schedule_id: str, due_ms: int) -> str:
    """The id of the user message a firing sends: the key that makes its start idempotent
    (the store finds a turn by its user message's id)."""
    return f"schedule:{schedule_id}:{due_ms}"


def next_due(schedule: Schedule, after_ms: int) -> int | None:
    """The schedule's first due time strictly after ``after_ms``; None when there is none
    (a one-shot schedule whose time has come)."""
    if schedule.kind == "once":
        assert schedule.at_ms is not None
        return schedule.at_ms if schedule.at_ms > after_ms else None
    if schedule.kind == "cron":
        assert schedule.cron is not None
        return parse_cron(schedule.cron).next_after(after_ms)
    assert schedule.every_ms is not None
    # Every interval counted from the anchor (the first due time), so a late firing does
    # not shift the ones after it.
    anchor = schedule.at_ms if schedule.at_ms is not None else schedule.created_at
    if after_ms < anchor:
        return anchor
    periods = (after_ms - anchor) // schedule.every_ms + 1
    return anchor + periods * schedule.every_ms


def build_schedule(
    *,
    agent: str,
    message: str,
    now_ms: int,
    at_ms: int | None = None,
    delay_ms: int | None = None,
    cron: str | None = None,
    every_ms: int | None = None,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    on_busy: str = "queue",
    misfire: str = "run_late",
    misfire_grace_ms: int | None = None,
    schedule_id: str | None = None,
    name: str | None = None,
) -> Schedule:
    """A new, validated schedule with its first due time (ScheduleError says what is
    wrong). Exactly one of ``at_ms``, ``delay_ms``, ``cron`` or ``every_ms``; ``every_ms``
    may come with ``at_ms`` (its first due time)."""
    from .ids import validate_session_id

    if not isinstance(message, str) or not message.strip():
        raise ScheduleError("a schedule needs a non-empty message")
    if len(message) > _MESSAGE_MAX:
        raise ScheduleError(f"the message is over {_MESSAGE_MAX} characters")
    if on_busy not in BUSY_POLICIES:
        raise ScheduleError(f"on_busy must be one of {', '.join(BUSY_POLICIES)}, not {on_busy!r}")
    if misfire not in MISFIRE_POLICIES:
        raise ScheduleError(
            f"misfire must be one of {', '.join(MISFIRE_POLICIES)}, not {misfire!r}"
        )
    grace = DEFAULT_MISFIRE_GRACE_MS if misfire_grace_ms is None else misfire_grace_ms
    if not _is_int(grace) or grace < 0:
        raise ScheduleError("misfire_grace_ms must be a non-negative integer")
    if session_id is not None:
        validate_session_id(session_id)
    given = {
        "at": at_ms is not None,
        "delay": delay_ms is not None,
        "cron": cron is not None,
        "every": every_ms is not None,
    }
    kinds = [k for k, v in given.items() if v]
    if kinds == ["at", "every"]:
        kinds = ["every"]
    if len(kinds) != 1:
        raise ScheduleError(
            "say when, once: one of at, delay, cron or every (every may come with at)"
            + (f"; got {', '.join(kinds)}" if kinds else "")
        )
    for value, what in ((at_ms, "at"), (delay_ms, "delay"), (every_ms, "every")):
        if value is not None and _is_int(value) and not -MAX_TIME_MS <= value <= MAX_TIME_MS:
            raise ScheduleError(f"{what} is out of range (at most the year 9999)")
    kind: ScheduleKind
    if kinds == ["delay"]:
        if not _is_int(delay_ms) or delay_ms < 0:  # type: ignore[operator]
            raise ScheduleError("delay must be a non-negative number of milliseconds")
        at_ms, kind = now_ms + int(delay_ms), "once"  # type: ignore[arg-type]
    elif kinds == ["at"]:
        kind = "once"
    elif kinds == ["cron"]:
        parse_cron(str(cron))
        kind = "cron"
    else:
        kind = "interval"
        if not _is_int(every_ms) or every_ms < MIN_INTERVAL_MS:  # type: ignore[operator]
            raise ScheduleError(f"every must be an integer of at least {MIN_INTERVAL_MS} ms")
    if at_ms is not None:
        if not _is_int(at_ms) or at_ms < 0:
            raise ScheduleError("at must be a time in epoch milliseconds")
        if kind == "once" and at_ms < now_ms - DEFAULT_MISFIRE_GRACE_MS and not given["delay"]:
            raise ScheduleError("at is in the past")
    if name is not None:
        schedule_id = declared_schedule_id(name)
    schedule = Schedule(
        schedule_id=schedule_id or new_schedule_id(),
        agent=agent,
        message=message,
        kind=kind,
        at_ms=at_ms,
        cron=cron.strip() if cron is not None else None,
        every_ms=int(every_ms) if every_ms is not None else None,
        session_id=session_id,
        metadata=dict(metadata) if metadata is not None else None,
        user_id=user_id,
        name=name,
        on_busy=on_busy,
        misfire=misfire,
        misfire_grace_ms=int(grace),
        created_at=now_ms,
        updated_at=now_ms,
    )
    if kind == "interval" and at_ms is None:
        schedule.at_ms = now_ms + int(every_ms)  # type: ignore[arg-type]
    # A one-shot fires at its time (a moment ago included); an interval whose first due
    # time has passed starts at its next point on the grid; cron at its next match.
    first = schedule.at_ms if kind == "once" else next_due(schedule, now_ms - 1)
    if first is None or first > MAX_TIME_MS:
        raise ScheduleError("the first due time is past the year 9999")
    schedule.next_due_ms = first
    return schedule


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
