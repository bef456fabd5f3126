"""Pending tool calls and suspensions: the writes of the human-in-the-loop protocol.

A run that stops at a human boundary leaves two things in its session row: the calls it
waits for (``pending_client_tool_calls``, V7) and the suspension itself
(``suspension_context``, V9). Decisions and client results are written into the pending
list by whoever submits them, outside any run, so those writes are compare-and-swap on the
column's text: a submission applies only to the list its validation read, and two
concurrent submissions can never both win or overwrite each other (D1 has no transactions
beyond a batch, and a batch cannot branch on what it read).

A run writes its own suspension (and clears a settled one) in its step's one commit
(:mod:`.steps`).
"""

from __future__ import annotations

from typing import NamedTuple

from ..state import SUSPENDED_STATUSES, PendingToolCall, SessionState, SuspensionContext
from ._base import StoreBase
from ._codec import dump_json
from .sessions import session_from_row

__all__ = ["PendingView", "SuspensionOps"]

_HELD = (
    "EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ? AND session_id = ? AND status = 'active')"
)
_SUSPENDED = tuple(sorted(s.value for s in SUSPENDED_STATUSES))


class PendingView(NamedTuple):
    """A session as a submission validates it, with the raw text it will compare against."""

    state: SessionState
    #: ``pending_client_tool_calls`` exactly as stored (None for NULL).
    raw_pending: str | None
    #: ``suspension_context`` exactly as stored.
    raw_context: str | None


def _pending_json(calls: list[PendingToolCall], session_id: str) -> str:
    return dump_json(
        [call.to_dict() for call in calls], f"pending_client_tool_calls of session {session_id!r}"
    )


class SuspensionOps(StoreBase):
    # -- submissions (outside any run) -----------------------------------------------------

    async def pending_view(self, session_id: str) -> PendingView | None:
        row = await self._one("SELECT * FROM __agents_states WHERE session_id = ?", [session_id])
        if row is None:
            return None
        return PendingView(
            session_from_row(row), row["pending_client_tool_calls"], row["suspension_context"]
        )

    async def swap_pending(
        self, session_id: str, expected: str | None, calls: list[PendingToolCall]
    ) -> bool:
        """Replace the pending calls if they are still exactly ``expected``; False (nothing
        written) when someone changed them since they were read."""
        rows = await self.db.query(
            "UPDATE __agents_states SET pending_client_tool_calls = ?, updated_at = ? "
            "WHERE session_id = ? AND pending_client_tool_calls IS ? RETURNING session_id",
            [_pending_json(calls, session_id), self.clock(), session_id, expected],
        )
        return bool(rows)

    async def swap_suspension(
        self, session_id: str, expected: str, context: SuspensionContext | None
    ) -> bool:
        """Replace (or, with None, clear) the suspension if it is still exactly
        ``expected``. The expiry sweep marks and clears suspensions this way, so it can
        never touch a suspension written after it looked."""
        text = None if context is None else context.to_json()
        rows = await self.db.query(
            "UPDATE __agents_states SET suspension_context = ?, expires_at = ?, updated_at = ? "
            "WHERE session_id = ? AND suspension_context IS ? RETURNING session_id",
            [
                text,
                None if context is None else context.expires_at,
                self.clock(),
                session_id,
                expected,
            ],
        )
        return bool(rows)

    # -- finding work ----------------------------------------------------------------------

    async def suspended_sessions(
        self, *, limit: int = 100, ready_only: bool = False
    ) -> list[SessionState]:
        """Sessions whose run is suspended, oldest first (a restarting host checks whether
        one of them is ready to resume but was never resumed). With ``ready_only``, only
        those with no pending call left undecided (and those awaiting children, whose
        readiness depends on the children), so that sessions waiting on humans do not
        crowd out the ones that are ready."""
        marks = ", ".join("?" for _ in _SUSPENDED)
        where = f"status IN ({marks})"
        if ready_only:
            where += (
                " AND (status = 'suspended_awaiting_children' OR NOT EXISTS (SELECT 1 FROM "
                "json_each(COALESCE(pending_client_tool_calls, '[]')) j WHERE "
                "json_extract(j.value, '$.decision') IS NULL AND "
                "json_extract(j.value, '$.resultStatus') IS NULL) OR "
                "json_extract(suspension_context, '$.detail.expired') IS NOT NULL)"
            )
        rows = await self.db.query(
            f"SELECT * FROM __agents_states WHERE {where} ORDER BY updated_at, session_id LIMIT ?",
            [*_SUSPENDED, limit],
        )
        return [session_from_row(row) for row in rows]

    async def has_tool_result(self, session_id: str, tool_call_id: str) -> bool:
        """Whether the session holds a result for ``tool_call_id`` (a submission checks that
        the call it settles has none yet, without reading the history)."""
        row = await self._one(
            "SELECT 1 AS found FROM __agents_messages WHERE session_id = ? AND "
            "json_extract(message, '$.role') = 'tool' AND "
            "json_extract(message, '$.toolCallId') = ? LIMIT 1",
            [session_id, tool_call_id],
        )
        return row is not None

    async def turn_started_by(self, session_id: str, tool_call_id: str) -> bool:
        """Whether a message of ``session_id`` was sent by the parent's call
        ``tool_call_id`` (a companion's turn, so that a retried step does not send twice)."""
        row = await self._one(
            "SELECT 1 AS found FROM __agents_messages WHERE session_id = ? AND "
            "json_extract(message, '$.metadata.parentToolCallId') = ? LIMIT 1",
            [session_id, tool_call_id],
        )
        return row is not None
