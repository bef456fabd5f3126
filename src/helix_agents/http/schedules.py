"""``/schedules``: make, list, inspect and cancel schedules (docs/triggers.md).

A schedule belongs to its caller as a session does: it is made with the caller's user id,
another user's schedule does not exist for them (404), and a schedule on an existing session
needs that session to be the caller's. The shapes of these routes are defined here, beside
them (request bodies strictly, as ``bodies.py`` does; responses as ``schemas.py`` does), and
``/openapi.json`` takes its schemas from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ScheduleError
from ..schedules import Firing, Schedule
from .bodies import parse_body, read_json
from .context import ApiContext
from .guard import check_origin
from .responses import JsonResponse
from .schemas import dump

__all__ = [
    "CreateScheduleBody",
    "FiringInfo",
    "ScheduleDetail",
    "ScheduleInfo",
    "Schedules",
    "cancel_schedule",
    "create_schedule",
    "get_schedule",
    "list_schedules",
    "parse_at",
]

_MAX_SCHEDULES = 200


class CreateScheduleBody(BaseModel):
    """A schedule: when (exactly one of `at`, `delaySeconds`, `cron`, `everySeconds`;
    `everySeconds` may come with `at`, its first due time), what (`message`, `metadata`),
    which agent (`agent`, or the agent of `sessionId`), and the two policies."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    agent: str | None = Field(default=None, max_length=256)
    message: str = Field(max_length=100_000)
    at: str | int | None = Field(
        default=None,
        description="When: an ISO 8601 time with its offset (`2026-12-03T09:00:00Z`), or "
        "milliseconds since the epoch.",
    )
    delay_seconds: float | int | None = Field(default=None, alias="delaySeconds", ge=0)
    cron: str | None = Field(
        default=None, max_length=200, description="Five fields, UTC (`0 9 * * mon-fri`)."
    )
    every_seconds: float | int | None = Field(default=None, alias="everySeconds", ge=1)
    session_id: str | None = Field(
        default=None,
        alias="sessionId",
        description="An existing session of the caller's; absent: a new session per firing.",
    )
    metadata: dict[str, Any] | None = None
    on_busy: Literal["queue", "skip", "supersede"] = Field(
        default="queue",
        alias="onBusy",
        description="A firing while the session has an active run: wait for it to end, "
        "skip this firing, or end that run.",
    )
    misfire: Literal["run_late", "skip"] = Field(
        default="run_late",
        description="A due time that passed while the host was down: fire late, once, or "
        "(past `misfireGraceSeconds`) record it as missed.",
    )
    misfire_grace_seconds: float | int | None = Field(
        default=None, alias="misfireGraceSeconds", ge=0
    )


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class ScheduleInfo(_Response):
    """One schedule."""

    schedule_id: str = Field(alias="scheduleId")
    agent: str
    message: str
    kind: Literal["once", "cron", "interval"]
    at_ms: int | SkipJsonSchema[None] = Field(default=None, alias="atMs")
    cron: str | SkipJsonSchema[None] = None
    every_ms: int | SkipJsonSchema[None] = Field(default=None, alias="everyMs")
    session_id: str | SkipJsonSchema[None] = Field(
        default=None, alias="sessionId", description="Absent: a new session per firing."
    )
    metadata: dict[str, Any] | SkipJsonSchema[None] = None
    name: str | SkipJsonSchema[None] = Field(default=None, description="A declared job's name.")
    on_busy: Literal["queue", "skip", "supersede"] = Field(alias="onBusy")
    misfire: Literal["run_late", "skip"]
    misfire_grace_ms: int = Field(alias="misfireGraceMs")
    status: Literal["active", "done", "cancelled"]
    next_due_ms: int | SkipJsonSchema[None] = Field(
        default=None, alias="nextDueMs", description="The next due time; absent once done."
    )
    fire_count: int = Field(alias="fireCount", description="Due times claimed so far.")
    last_due_ms: int | SkipJsonSchema[None] = Field(default=None, alias="lastDueMs")
    created_at: int = Field(alias="createdAt")
    updated_at: int = Field(alias="updatedAt")


class FiringInfo(_Response):
    """What became of one due time."""

    due_ms: int = Field(alias="dueMs")
    status: Literal["claimed", "started", "skipped", "missed", "failed"] = Field(
        description="`claimed`: under way (or waiting for a busy session); `started`: the "
        "run below; `skipped`/`missed`: no run, `detail` says why; `failed`: the firing's "
        "instance ended for good before it settled, `detail` has its error."
    )
    session_id: str | SkipJsonSchema[None] = Field(default=None, alias="sessionId")
    run_id: str | SkipJsonSchema[None] = Field(default=None, alias="runId")
    detail: str | SkipJsonSchema[None] = None
    fired_at: int = Field(alias="firedAt")


class Schedules(_Response):
    """The caller's schedules, newest first."""

    schedules: list[ScheduleInfo]


class ScheduleDetail(_Response):
    """A schedule and its latest firings (newest first, at most 20)."""

    schedule: ScheduleInfo
    firings: list[FiringInfo]


def schedule_info(schedule: Schedule) -> ScheduleInfo:
    data = schedule.model_dump(exclude={"user_id"})
    return ScheduleInfo.model_validate(data)


def firing_info(firing: Firing) -> FiringInfo:
    return FiringInfo.model_validate(firing.model_dump(exclude={"schedule_id", "updated_at"}))


async def create_schedule(request: Request) -> Response:
    """Make a schedule (201 with it)."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    body = parse_body(CreateScheduleBody, await read_json(request, api.settings.max_body_bytes))
    schedule = await api.executor.schedule(
        body.agent,
        body.message,
        at=parse_at(body.at),
        delay=body.delay_seconds,
        cron=body.cron,
        every=body.every_seconds,
        session_id=body.session_id,
        metadata=body.metadata,
        user_id=user,
        on_busy=body.on_busy,
        misfire=body.misfire,
        misfire_grace=body.misfire_grace_seconds,
    )
    return JsonResponse(dump(schedule_info(schedule), exclude_none=True), status_code=201)


async def list_schedules(request: Request) -> Response:
    """The caller's schedules (``?status=active|done|cancelled``)."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    status = request.query_params.get("status")
    found = await api.executor.list_schedules(user_id=user, status=status, limit=_MAX_SCHEDULES)
    listed = Schedules(schedules=[schedule_info(s) for s in found])
    return JsonResponse(dump(listed, exclude_none=True))


async def get_schedule(request: Request) -> Response:
    """One schedule with its latest firings."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    schedule_id = request.path_params["scheduleId"]
    schedule = await api.executor.get_schedule(schedule_id, user_id=user)
    firings = await api.executor.schedule_firings(schedule_id, user_id=user)
    detail = ScheduleDetail(
        schedule=schedule_info(schedule), firings=[firing_info(f) for f in firings]
    )
    return JsonResponse(dump(detail, exclude_none=True))


async def cancel_schedule(request: Request) -> Response:
    """Cancel a schedule: no firing after this one starts (200 with the schedule)."""
    api: ApiContext = request.app.state.api
    check_origin(request, api.settings.cors_origins)
    user = await api.user(request)
    schedule = await api.executor.cancel_schedule(request.path_params["scheduleId"], user_id=user)
    return JsonResponse(dump(schedule_info(schedule), exclude_none=True))


def parse_at(value: str | int | None) -> datetime | int | None:
    """``at`` as the API takes it: an ISO 8601 time, or epoch milliseconds."""
    if value is None or isinstance(value, int):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ScheduleError(f"at {value[:60]!r} is not an ISO 8601 time") from None
