"""Sub-session references: one row of ``__agents_sub_session_refs`` per child session.

A child is started by a tool call of its parent (``parent_tool_call_id``): an ephemeral
sub-agent, or a persistent companion that keeps its session (``mode``/``name``, V4). Adding a
reference is idempotent by its key ``(session_id, sub_session_id)``. A remote child's
``remote_json`` changes only by compare-and-swap on its ``version`` (``swap_remote_json``).
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..ports.database import Param, Row
from ..state import SubSessionRef
from ._base import StoreBase
from ._codec import dump_json, load_json

__all__ = ["DONE_STATUSES", "SubSessionOps", "ref_from_row"]

#: A child in one of these statuses is done: its ``completed_at`` is set when it gets there.
DONE_STATUSES = frozenset({"completed", "failed", "aborted", "cancelled", "terminated"})
_COLUMNS = (
    "session_id",
    "sub_session_id",
    "agent_type",
    "parent_tool_call_id",
    "status",
    "mode",
    "name",
    "remote_json",
    "started_at",
    "completed_at",
)


def ref_from_row(row: Row) -> SubSessionRef:
    return SubSessionRef(
        session_id=row["session_id"],
        sub_session_id=row["sub_session_id"],
        agent_type=row["agent_type"],
        parent_tool_call_id=row["parent_tool_call_id"],
        status=row["status"],
        mode=row["mode"] or "ephemeral",
        name=row["name"],
        remote_json=load_json(row["remote_json"]),
        started_at=int(row["started_at"]),
        completed_at=None if row["completed_at"] is None else int(row["completed_at"]),
    )


class SubSessionOps(StoreBase):
    async def add_sub_session(self, ref: SubSessionRef) -> bool:
        """Record a child of ``ref.session_id``; False when it was already recorded."""
        if ref.session_id == ref.sub_session_id:
            raise StoreError(f"session {ref.session_id!r} cannot be its own sub-session")
        remote = (
            None
            if ref.remote_json is None
            else dump_json(ref.remote_json, f"remote_json of sub-session {ref.sub_session_id!r}")
        )
        values: list[Param] = [
            ref.session_id,
            ref.sub_session_id,
            ref.agent_type,
            ref.parent_tool_call_id,
            ref.status,
            ref.mode,
            ref.name,
            remote,
            ref.started_at or self.clock(),
            ref.completed_at,
        ]
        rows = await self.db.query(
            f"INSERT OR IGNORE INTO __agents_sub_session_refs ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)}) RETURNING sub_session_id",
            values,
        )
        return bool(rows)

    async def update_sub_session(
        self,
        session_id: str,
        sub_session_id: str,
        status: str,
        *,
        completed_at: int | None = None,
    ) -> SubSessionRef | None:
        """Set a child's status (``completed_at`` is stamped when it is done)."""
        if completed_at is None and status in DONE_STATUSES:
            completed_at = self.clock()
        rows = await self.db.query(
            "UPDATE __agents_sub_session_refs SET status = ?, "
            "completed_at = COALESCE(?, completed_at) "
            "WHERE session_id = ? AND sub_session_id = ? RETURNING *",
            [status, completed_at, session_id, sub_session_id],
        )
        return ref_from_row(rows[0]) if rows else None

    async def swap_remote_json(
        self,
        session_id: str,
        sub_session_id: str,
        remote_json: dict[str, Any],
        *,
        status: str | None = None,
    ) -> bool:
        """Replace a remote child's ``remote_json`` (and set ``status``) if nobody changed it
        since it was read: a compare-and-swap on its ``version`` (0 when absent), which the
        new value must carry one higher. False when the reference changed meanwhile."""
        version = remote_json.get("version")
        if not isinstance(version, int) or version < 1:
            raise StoreError("a swapped remote_json needs a positive integer 'version'")
        text = dump_json(remote_json, f"remote_json of sub-session {sub_session_id!r}")
        rows = await self.db.query(
            "UPDATE __agents_sub_session_refs SET remote_json = ?, "
            "status = COALESCE(?, status) WHERE session_id = ? AND sub_session_id = ? "
            "AND remote_json IS NOT NULL "
            "AND COALESCE(json_extract(remote_json, '$.version'), 0) = ? "
            "RETURNING sub_session_id",
            [text, status, session_id, sub_session_id, version - 1],
        )
        return bool(rows)

    async def get_sub_session(self, session_id: str, sub_session_id: str) -> SubSessionRef | None:
        row = await self._one(
            "SELECT * FROM __agents_sub_session_refs WHERE session_id = ? AND sub_session_id = ?",
            [session_id, sub_session_id],
        )
        return None if row is None else ref_from_row(row)

    async def list_sub_sessions(
        self, session_id: str, *, mode: str | None = None, status: str | None = None
    ) -> list[SubSessionRef]:
        """The direct children of a session, in the order they started."""
        sql = "SELECT * FROM __agents_sub_session_refs WHERE session_id = ?"
        params: list[Param] = [session_id]
        if mode is not None:
            sql += " AND mode = ?"
            params.append(mode)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = await self.db.query(sql + " ORDER BY started_at, rowid", params)
        return [ref_from_row(row) for row in rows]

    async def find_sub_session_by_name(self, session_id: str, name: str) -> SubSessionRef | None:
        """A persistent companion by its name (the latest, if the name was reused)."""
        row = await self._one(
            "SELECT * FROM __agents_sub_session_refs WHERE session_id = ? AND name = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT 1",
            [session_id, name],
        )
        return None if row is None else ref_from_row(row)

    async def find_parent(self, sub_session_id: str) -> SubSessionRef | None:
        """The reference that makes ``sub_session_id`` a child (None for a root session)."""
        row = await self._one(
            "SELECT * FROM __agents_sub_session_refs WHERE sub_session_id = ? "
            "ORDER BY started_at, rowid LIMIT 1",
            [sub_session_id],
        )
        return None if row is None else ref_from_row(row)
