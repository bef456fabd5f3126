"""Steering a session from outside its run: interrupt, abort, and suspensions.

Interrupt and abort are requests that the run reads inside its steps (docs/invariants.md invariant
4): an interrupt is a row of ``__agents_interrupts`` (soft, resumable; the run clears it
when it stops), an abort the V9 columns ``aborted``/``abort_reason`` (final). A suspension
is the V9 ``suspension_context`` JSON, whose ``$.expiresAt`` the partial index
``idx_agents_states_suspension_expires`` serves to the cleanup of abandoned suspensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..errors import ConflictError, SessionNotFoundError
from ..ports.database import Param, Statement
from ..state import SUSPENDED_STATUSES, PendingToolCall, RunRecord, SuspensionContext
from ._base import StoreBase
from ._codec import check_value, dump_json
from .runs import run_from_row

__all__ = ["ControlFlags", "ControlOps", "InterruptRequest", "SuspendedSession"]

#: Runs that an abort ends: the active one, and those a resume could still continue.
_ABORTABLE = ("active", "interrupted", *sorted(s.value for s in SUSPENDED_STATUSES))
#: Runs that may write a suspension: the one suspending, or one already suspended.
_SUSPENDING = ("active", *sorted(s.value for s in SUSPENDED_STATUSES))


@dataclass(frozen=True, slots=True)
class InterruptRequest:
    reason: str | None
    requested_at: int


@dataclass(frozen=True, slots=True)
class ControlFlags:
    """Both flags of a session, read in one query (a step reads them once)."""

    interrupt: InterruptRequest | None = None
    aborted: bool = False
    abort_reason: str | None = None


class SuspendedSession(NamedTuple):
    session_id: str
    context: SuspensionContext


class ControlOps(StoreBase):
    # -- interrupt -------------------------------------------------------------------------

    async def request_interrupt(self, session_id: str, reason: str | None = None) -> None:
        """Ask the session's run to stop at its next safe point (resumable)."""
        rows = await self.db.query(
            "INSERT INTO __agents_interrupts (session_id, requested, reason, requested_at) "
            "SELECT ?, 1, ?, ? WHERE EXISTS (SELECT 1 FROM __agents_states WHERE session_id = ?) "
            "ON CONFLICT (session_id) DO UPDATE SET requested = 1, reason = excluded.reason, "
            "requested_at = excluded.requested_at RETURNING session_id",
            [session_id, reason, self.clock(), session_id],
        )
        if not rows:
            raise SessionNotFoundError(f"session {session_id!r} not found")

    async def interrupt_requested(self, session_id: str) -> bool:
        return await self.get_interrupt(session_id) is not None

    async def get_interrupt(self, session_id: str) -> InterruptRequest | None:
        row = await self._one(
            "SELECT reason, requested_at FROM __agents_interrupts "
            "WHERE session_id = ? AND requested = 1",
            [session_id],
        )
        if row is None:
            return None
        return InterruptRequest(row["reason"], int(row["requested_at"]))

    async def clear_interrupt(self, session_id: str) -> bool:
        """Forget the request; False when there was none."""
        rows = await self.db.query(
            "DELETE FROM __agents_interrupts WHERE session_id = ? RETURNING session_id",
            [session_id],
        )
        return bool(rows)

    # -- abort -----------------------------------------------------------------------------

    async def abort(
        self, session_id: str, run_id: str | None = None, reason: str | None = None
    ) -> RunRecord | None:
        """End the session for good: set ``aborted``, end its active (or resumable) run as
        ``aborted`` — only ``run_id`` if given — and drop its suspension, atomically.

        Returns the run that was ended, if one was. Raises :class:`SessionNotFoundError`.
        """
        now = self.clock()
        run_filter = "" if run_id is None else " AND run_id = ?"
        statuses = ", ".join("?" for _ in _ABORTABLE)
        results = await self.db.batch(
            [
                Statement(
                    "UPDATE __agents_states SET aborted = 1, abort_reason = ?, "
                    "status = 'aborted', suspension_context = NULL, expires_at = NULL, "
                    "updated_at = ? WHERE session_id = ? RETURNING session_id",
                    [reason, now, session_id],
                ),
                Statement("DELETE FROM __agents_interrupts WHERE session_id = ?", [session_id]),
                Statement(
                    "UPDATE __agents_runs SET status = 'aborted', completed_at = ? "
                    f"WHERE session_id = ? AND status IN ({statuses}){run_filter} RETURNING *",
                    [now, session_id, *_ABORTABLE, *([] if run_id is None else [run_id])],
                ),
            ]
        )
        if not results[0]:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        ended = [run_from_row(row) for row in results[2]]
        return ended[0] if ended else None

    async def abort_requested(self, session_id: str) -> bool:
        return (await self.get_control(session_id)).aborted

    async def get_control(self, session_id: str) -> ControlFlags:
        """The interrupt request and the abort flag together, in one query."""
        row = await self._one(
            "SELECT s.aborted, s.abort_reason, i.requested, i.reason, i.requested_at "
            "FROM __agents_states s LEFT JOIN __agents_interrupts i "
            "ON i.session_id = s.session_id WHERE s.session_id = ?",
            [session_id],
        )
        if row is None:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        interrupt = (
            InterruptRequest(row["reason"], int(row["requested_at"])) if row["requested"] else None
        )
        return ControlFlags(interrupt, bool(row["aborted"]), row["abort_reason"])

    # -- suspension ------------------------------------------------------------------------

    async def set_suspension(
        self,
        session_id: str,
        context: SuspensionContext,
        *,
        pending_tool_calls: list[PendingToolCall] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Persist a suspension (its status becomes the session's) and, if given, the tool
        calls it waits for. With ``run_id``, only while that run is active or suspended."""
        what = f"session {session_id!r}"
        sets = "suspension_context = ?, expires_at = ?, status = ?, updated_at = ?"
        params: list[Param] = [
            check_value(context.to_json(), f"suspension_context of {what}"),
            context.expires_at,
            context.status.value,
            self.clock(),
        ]
        if pending_tool_calls is not None:
            sets += ", pending_client_tool_calls = ?"
            params.append(
                dump_json(
                    [call.to_dict() for call in pending_tool_calls],
                    f"pending_client_tool_calls of {what}",
                )
            )
        await self._guarded_update(session_id, sets, params, run_id)

    async def clear_suspension(self, session_id: str, *, run_id: str | None = None) -> None:
        """Drop the session's suspension (a resume took it over, or it expired)."""
        await self._guarded_update(
            session_id,
            "suspension_context = NULL, expires_at = NULL, updated_at = ?",
            [self.clock()],
            run_id,
        )

    async def expired_suspensions(
        self, now: int | None = None, *, limit: int = 100
    ) -> list[SuspendedSession]:
        """Suspensions whose ``expiresAt`` is at or before ``now``, soonest first.

        The query is written to use the partial index on ``$.expiresAt``.
        """
        rows = await self.db.query(
            "SELECT session_id, suspension_context FROM __agents_states "
            "WHERE suspension_context IS NOT NULL "
            "AND json_extract(suspension_context, '$.expiresAt') <= ? "
            "ORDER BY json_extract(suspension_context, '$.expiresAt') LIMIT ?",
            [self.clock() if now is None else now, limit],
        )
        return [
            SuspendedSession(
                row["session_id"], SuspensionContext.from_json(row["suspension_context"])
            )
            for row in rows
        ]

    async def _guarded_update(
        self, session_id: str, sets: str, params: list[Param], run_id: str | None
    ) -> None:
        guard = ""
        guard_params: list[Param] = []
        if run_id is not None:
            statuses = ", ".join("?" for _ in _SUSPENDING)
            guard = (
                " AND EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ? AND session_id = ? "
                f"AND status IN ({statuses}))"
            )
            guard_params = [run_id, session_id, *_SUSPENDING]
        rows = await self.db.query(
            f"UPDATE __agents_states SET {sets} WHERE session_id = ?{guard} RETURNING session_id",
            [*params, session_id, *guard_params],
        )
        if rows:
            return
        if await self._one(
            "SELECT 1 AS found FROM __agents_states WHERE session_id = ?", [session_id]
        ):
            raise ConflictError(f"run {run_id!r} does not hold session {session_id!r}")
        raise SessionNotFoundError(f"session {session_id!r} not found")
