"""Schedules and their firings in ``__helix_schedules`` / ``__helix_schedule_firings``.

A separate part from :class:`~helix_agents.store.StateStore` (schedules are not session
state): ``ScheduleStore(db, clock=...)`` over the same Database port, on SQLite and D1.

The one write that matters is :meth:`ScheduleStore.claim`: a due time is claimed by one
batch whose two statements carry the same guard (the schedule is active and waits for that
due time): the firing's row is inserted and the schedule moved on to its next due time, both
or neither. Two firers of one due time cannot both claim it, and a firer re-run after a
crash finds its own claim (the firing row) instead of claiming again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import ConflictError, DatabaseError
from ..ports.database import Param, Row, Statement
from ..schedules import Firing, Schedule
from ._base import StoreBase

__all__ = ["ScheduleStore"]

_COLUMNS = (
    "schedule_id, name, user_id, agent_type, session_id, message, metadata, kind, at_ms, "
    "cron, every_ms, on_busy, misfire, misfire_grace_ms, status, next_due, fire_count, "
    "last_due, created_at, updated_at"
)
_GUARD = "schedule_id = ? AND status = 'active' AND next_due = ?"


class ScheduleStore(StoreBase):
    """Schedules and firings (see the module docstring)."""

    # -- schedules ---------------------------------------------------------------------------

    async def create(self, schedule: Schedule) -> Schedule:
        """Insert ``schedule``; ConflictError if its id is taken."""
        try:
            await self.db.execute(
                f"INSERT INTO __helix_schedules ({_COLUMNS}) VALUES ({', '.join('?' * 20)})",
                _values(schedule),
            )
        except DatabaseError as exc:
            if "UNIQUE" in str(exc) or "constraint" in str(exc).lower():
                raise ConflictError(f"schedule {schedule.schedule_id!r} exists") from exc
            raise
        return schedule

    async def replace(self, schedule: Schedule) -> None:
        """Write ``schedule`` over the row of its id (a declared job whose declaration
        changed), or insert it."""
        await self.db.execute(
            f"INSERT OR REPLACE INTO __helix_schedules ({_COLUMNS}) VALUES ({', '.join('?' * 20)})",
            _values(schedule),
        )

    async def get(self, schedule_id: str) -> Schedule | None:
        row = await self._one(
            f"SELECT {_COLUMNS} FROM __helix_schedules WHERE schedule_id = ?", [schedule_id]
        )
        return None if row is None else _schedule(row)

    async def list_schedules(
        self,
        *,
        user_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Schedule]:
        """Newest first; with ``user_id``, those the user may see: theirs and the anonymous
        ones (the sessions' rule)."""
        where: list[str] = []
        params: list[Param] = []
        if user_id is not None:
            where.append("(user_id = ? OR user_id IS NULL)")
            params.append(user_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self.db.query(
            f"SELECT {_COLUMNS} FROM __helix_schedules {clause}"
            "ORDER BY created_at DESC, schedule_id LIMIT ?",
            [*params, limit],
        )
        return [_schedule(r) for r in rows]

    async def cancel(self, schedule_id: str) -> bool:
        """Stop an active schedule for good; False if it was not active."""
        result = await self.db.execute(
            "UPDATE __helix_schedules SET status = 'cancelled', next_due = NULL, "
            "updated_at = ? WHERE schedule_id = ? AND status = 'active'",
            [self.clock(), schedule_id],
        )
        return result.changes > 0

    async def overdue(self, now: int, *, limit: int = 100) -> list[Schedule]:
        """Active schedules whose due time has passed (their firing should be under way)."""
        rows = await self.db.query(
            f"SELECT {_COLUMNS} FROM __helix_schedules WHERE status = 'active' AND "
            "next_due <= ? ORDER BY next_due LIMIT ?",
            [now, limit],
        )
        return [_schedule(r) for r in rows]

    # -- firings -----------------------------------------------------------------------------

    async def claim(
        self,
        schedule: Schedule,
        due_ms: int,
        next_due: int | None,
        *,
        status: str = "claimed",
        detail: str | None = None,
    ) -> Firing | None:
        """Claim ``due_ms`` of ``schedule`` and move it on to ``next_due`` (None: done).

        Returns the firing of that due time: the one claimed now, or the one an earlier
        attempt claimed; None when the due time is not the schedule's (cancelled, or
        another due time). The sweep claims a due time whose instance ended without firing
        it with ``status="failed"`` and the ``detail`` of why, under the same guard."""
        now = self.clock()
        schedule_status = "active" if next_due is not None else "done"
        rows = await self._batch(
            [
                Statement(
                    "INSERT OR IGNORE INTO __helix_schedule_firings (schedule_id, due_ms, "
                    "status, detail, fired_at, updated_at) SELECT ?, ?, ?, ?, ?, ? FROM "
                    f"__helix_schedules WHERE {_GUARD}",
                    [
                        schedule.schedule_id,
                        due_ms,
                        status,
                        detail,
                        now,
                        now,
                        schedule.schedule_id,
                        due_ms,
                    ],
                ),
                Statement(
                    "UPDATE __helix_schedules SET next_due = ?, status = ?, "
                    "fire_count = fire_count + 1, last_due = ?, updated_at = ? "
                    f"WHERE {_GUARD}",
                    [next_due, schedule_status, due_ms, now, schedule.schedule_id, due_ms],
                ),
                Statement(
                    f"SELECT {_FIRING_COLUMNS} FROM __helix_schedule_firings "
                    "WHERE schedule_id = ? AND due_ms = ?",
                    [schedule.schedule_id, due_ms],
                ),
            ]
        )
        found = rows[-1]
        return _firing(found[0]) if found else None

    async def claimed_firings(self, *, limit: int = 100) -> list[Firing]:
        """Firings still ``claimed`` (under way, or queued for a busy session), oldest due
        time first, at most ``limit``: what the sweep checks for an instance that ended
        before it settled its firing. Every claimed firing, not only each schedule's latest
        (an older queued one whose instance ended is stuck as much as the latest). Read
        through the partial index of the claimed rows (migration 0006), so the sweep never
        scans the whole firing history."""
        rows = await self.db.query(
            f"SELECT {_FIRING_COLUMNS} FROM __helix_schedule_firings "
            "WHERE status = 'claimed' ORDER BY due_ms, schedule_id LIMIT ?",
            [limit],
        )
        return [_firing(r) for r in rows]

    async def get_firing(self, schedule_id: str, due_ms: int) -> Firing | None:
        row = await self._one(
            f"SELECT {_FIRING_COLUMNS} FROM __helix_schedule_firings "
            "WHERE schedule_id = ? AND due_ms = ?",
            [schedule_id, due_ms],
        )
        return None if row is None else _firing(row)

    async def settle_firing(
        self,
        schedule_id: str,
        due_ms: int,
        status: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record what became of a claimed firing (started, skipped, missed or failed)."""
        await self.db.execute(
            "UPDATE __helix_schedule_firings SET status = ?, session_id = ?, run_id = ?, "
            "detail = ?, updated_at = ? WHERE schedule_id = ? AND due_ms = ?",
            [status, session_id, run_id, detail, self.clock(), schedule_id, due_ms],
        )

    async def list_firings(self, schedule_id: str, *, limit: int = 20) -> list[Firing]:
        """The latest firings first."""
        rows = await self.db.query(
            f"SELECT {_FIRING_COLUMNS} FROM __helix_schedule_firings WHERE schedule_id = ? "
            "ORDER BY due_ms DESC LIMIT ?",
            [schedule_id, limit],
        )
        return [_firing(r) for r in rows]


_FIRING_COLUMNS = "schedule_id, due_ms, status, session_id, run_id, detail, fired_at, updated_at"


def _values(s: Schedule) -> Sequence[Param]:
    return [
        s.schedule_id,
        s.name,
        s.user_id,
        s.agent,
        s.session_id,
        s.message,
        None if s.metadata is None else json.dumps(s.metadata, separators=(",", ":")),
        s.kind,
        s.at_ms,
        s.cron,
        s.every_ms,
        s.on_busy,
        s.misfire,
        s.misfire_grace_ms,
        s.status,
        s.next_due_ms,
        s.fire_count,
        s.last_due_ms,
        s.created_at,
        s.updated_at,
    ]


def _schedule(row: Row) -> Schedule:
    data: dict[str, Any] = {
        "schedule_id": row["schedule_id"],
        "name": row["name"],
        "user_id": row["user_id"],
        "agent": row["agent_type"],
        "session_id": row["session_id"],
        "message": row["message"],
        "metadata": None if row["metadata"] is None else json.loads(str(row["metadata"])),
        "kind": row["kind"],
        "at_ms": row["at_ms"],
        "cron": row["cron"],
        "every_ms": row["every_ms"],
        "on_busy": row["on_busy"],
        "misfire": row["misfire"],
        "misfire_grace_ms": row["misfire_grace_ms"],
        "status": row["status"],
        "next_due_ms": row["next_due"],
        "fire_count": row["fire_count"],
        "last_due_ms": row["last_due"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    return Schedule.model_validate(data)


def _firing(row: Row) -> Firing:
    return Firing.model_validate({k: row[k] for k in _FIRING_COLUMNS.split(", ")})
