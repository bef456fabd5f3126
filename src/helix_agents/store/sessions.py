"""Sessions: one row of ``__agents_states`` each.

Writes are guarded by the session's active run (docs/invariants.md invariant 6): a run writes only
while it is the session's active run, and a writer outside any run (the HTTP layer, a cron
job) writes only while no run is active. The guard is part of the ``UPDATE`` itself, so two
writers can never both believe they own the session, whatever the interleaving.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import ConflictError, SessionNotFoundError
from ..ids import validate_session_id
from ..ports.database import Param, Row, Statement
from ..state import PendingToolCall, RunStatus, SessionState, SuspensionContext
from ._base import StoreBase
from ._codec import check_row, check_value, dump_json, load_json

__all__ = [
    "STATE_COLUMNS",
    "SessionHead",
    "SessionOps",
    "run_guard",
    "session_from_row",
    "session_to_values",
]

STATE_COLUMNS = (
    "session_id",
    "agent_type",
    "stream_id",
    "status",
    "step_count",
    "custom_state",
    "output",
    "error",
    "failure_reason",
    "parent_session_id",
    "aborted",
    "abort_reason",
    "user_id",
    "tags",
    "metadata",
    "pending_client_tool_calls",
    "completed_client_tool_calls",
    "suspension_context",
    "expires_at",
    "created_at",
    "updated_at",
)
_INSERT = (
    f"INSERT OR IGNORE INTO __agents_states ({', '.join(STATE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in STATE_COLUMNS)}) RETURNING session_id"
)
_UPDATED = [c for c in STATE_COLUMNS if c not in ("session_id", "created_at")]
#: The text of a session's first message when a user sent it, else '': a correlated
#: subquery on the messages' ``(session_id, sequence)`` key, so a listing reads every
#: session's opening in its one statement instead of one read per session.
_OPENING = (
    "coalesce((SELECT CASE WHEN json_extract(m.message, '$.role') = 'user' "
    "THEN json_extract(m.message, '$.content') END FROM __agents_messages m "
    "WHERE m.session_id = s.session_id ORDER BY m.sequence LIMIT 1), '') AS opening"
)


class SessionHead(NamedTuple):
    """A listed session and its opening: the text of its first message when a user sent
    it, else ``''`` (what a sessions list shows as the session's title)."""

    state: SessionState
    opening: str


def run_guard(run_id: str | None, session_id: str) -> tuple[str, list[Param]]:
    """The SQL condition (and its parameters) for "this writer holds the session":
    ``run_id`` is its active run, or, with no ``run_id``, no run is active."""
    if run_id is None:
        return (
            "NOT EXISTS (SELECT 1 FROM __agents_runs WHERE session_id = ? AND status = 'active')",
            [session_id],
        )
    return (
        "EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ? AND session_id = ? "
        "AND status = 'active')",
        [run_id, session_id],
    )


def session_to_values(state: SessionState) -> dict[str, Param]:
    """The row of a session: JSON columns encoded and size-checked."""
    what = f"session {state.session_id!r}"
    values: dict[str, Param] = {
        "session_id": state.session_id,
        "agent_type": state.agent_type,
        "stream_id": state.stream_id,
        "status": RunStatus(state.status).value,
        "step_count": state.step_count,
        "custom_state": dump_json(state.custom_state, f"custom_state of {what}"),
        "output": None if state.output is None else dump_json(state.output, f"output of {what}"),
        "error": None if state.error is None else check_value(state.error, f"error of {what}"),
        "failure_reason": state.failure_reason,
        "parent_session_id": state.parent_session_id,
        "aborted": state.aborted,
        "abort_reason": state.abort_reason,
        "user_id": state.user_id,
        "tags": dump_json(state.tags, f"tags of {what}"),
        "metadata": dump_json(state.metadata, f"metadata of {what}"),
        "pending_client_tool_calls": dump_json(
            [call.to_dict() for call in state.pending_client_tool_calls],
            f"pending_client_tool_calls of {what}",
        ),
        "completed_client_tool_calls": dump_json(
            state.completed_client_tool_calls, f"completed_client_tool_calls of {what}"
        ),
        "suspension_context": None
        if state.suspension_context is None
        else check_value(state.suspension_context.to_json(), f"suspension_context of {what}"),
        "expires_at": state.expires_at,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
    }
    check_row(values.values(), f"the state row of {what}")
    return values


def session_from_row(row: Row) -> SessionState:
    suspension = row["suspension_context"]
    return SessionState(
        session_id=row["session_id"],
        agent_type=row["agent_type"],
        stream_id=row["stream_id"],
        status=RunStatus(row["status"]),
        step_count=int(row["step_count"] or 0),
        custom_state=load_json(row["custom_state"], {}),
        output=load_json(row["output"]),
        error=row["error"],
        failure_reason=row["failure_reason"],
        parent_session_id=row["parent_session_id"],
        aborted=bool(row["aborted"]),
        abort_reason=row["abort_reason"],
        user_id=row["user_id"],
        tags=load_json(row["tags"], []),
        metadata=load_json(row["metadata"], {}),
        pending_client_tool_calls=[
            PendingToolCall.from_dict(call)
            for call in load_json(row["pending_client_tool_calls"], [])
        ],
        completed_client_tool_calls=load_json(row["completed_client_tool_calls"], []),
        suspension_context=None if suspension is None else SuspensionContext.from_json(suspension),
        expires_at=None if row["expires_at"] is None else int(row["expires_at"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


class SessionOps(StoreBase):
    async def create_session(self, state: SessionState) -> SessionState:
        """Insert a new session; :class:`ConflictError` if the id is taken.

        ``created_at``/``updated_at`` left at 0 are set from the clock.
        """
        validate_session_id(state.session_id)
        now = self.clock()
        state = state.model_copy(
            update={
                "created_at": state.created_at or now,
                "updated_at": state.updated_at or state.created_at or now,
            }
        )
        values = session_to_values(state)
        rows = await self.db.query(_INSERT, [values[c] for c in STATE_COLUMNS])
        if not rows:
            raise ConflictError(f"session {state.session_id!r} already exists")
        return state

    async def load_session(self, session_id: str) -> SessionState | None:
        row = await self._one("SELECT * FROM __agents_states WHERE session_id = ?", [session_id])
        return None if row is None else session_from_row(row)

    async def require_session(self, session_id: str) -> SessionState:
        """:meth:`load_session`, or :class:`SessionNotFoundError`."""
        state = await self.load_session(session_id)
        if state is None:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        return state

    async def save_session(self, state: SessionState, *, run_id: str | None) -> SessionState:
        """Write the whole row, if this writer holds the session (see the module docstring).

        ``run_id`` is the writing run; ``None`` for a writer outside any run, which may write
        only while no run is active. Raises :class:`ConflictError` when the writer does not
        hold the session, :class:`SessionNotFoundError` when there is none.
        """
        state = state.model_copy(update={"updated_at": self.clock()})
        values = session_to_values(state)
        guard, guard_params = run_guard(run_id, state.session_id)
        sql = (
            f"UPDATE __agents_states SET {', '.join(f'{c} = ?' for c in _UPDATED)} "
            f"WHERE session_id = ? AND {guard} RETURNING session_id"
        )
        params = [values[c] for c in _UPDATED] + [state.session_id, *guard_params]
        if not await self.db.query(sql, params):
            await self._raise_not_held(state.session_id, run_id)
        return state

    async def set_step_count(self, session_id: str, run_id: str, step_count: int) -> bool:
        """Record a run's progress on the run and its session. False (and nothing written)
        when ``run_id`` is no longer the session's active run."""
        guard, guard_params = run_guard(run_id, session_id)
        rows = await self.db.batch(
            [
                Statement(
                    f"UPDATE __agents_states SET step_count = ?, updated_at = ? "
                    f"WHERE session_id = ? AND {guard}",
                    [step_count, self.clock(), session_id, *guard_params],
                ),
                Statement(
                    "UPDATE __agents_runs SET step_count = ? WHERE run_id = ? AND "
                    "session_id = ? AND status = 'active' RETURNING run_id",
                    [step_count, run_id, session_id],
                ),
            ]
        )
        return bool(rows[1])

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        parent_session_id: str | None = None,
        limit: int = 100,
    ) -> list[SessionState]:
        """Sessions, most recently updated first."""
        where, params = _listing_filter(user_id, parent_session_id)
        rows = await self.db.query(
            f"SELECT s.* FROM __agents_states s {where}"
            "ORDER BY s.updated_at DESC, s.session_id LIMIT ?",
            [*params, limit],
        )
        return [session_from_row(row) for row in rows]

    async def list_session_heads(
        self,
        *,
        user_id: str | None = None,
        parent_session_id: str | None = None,
        limit: int = 100,
    ) -> list[SessionHead]:
        """:meth:`list_sessions` (same filters, order and limit), each session with its
        opening (:class:`SessionHead`), in one statement however many sessions there are."""
        where, params = _listing_filter(user_id, parent_session_id)
        rows = await self.db.query(
            f"SELECT s.*, {_OPENING} FROM __agents_states s {where}"
            "ORDER BY s.updated_at DESC, s.session_id LIMIT ?",
            [*params, limit],
        )
        return [SessionHead(session_from_row(row), _text(row["opening"])) for row in rows]

    async def _raise_not_held(self, session_id: str, run_id: str | None) -> Any:
        row = await self._one(
            "SELECT (SELECT 1 FROM __agents_states WHERE session_id = ?) AS found, "
            "(SELECT run_id FROM __agents_runs WHERE session_id = ? AND status = 'active' "
            "LIMIT 1) AS active",
            [session_id, session_id],
        )
        if row is None or not row["found"]:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        active = row["active"]
        if run_id is None:
            raise ConflictError(f"session {session_id!r} is held by its active run {active!r}")
        raise ConflictError(
            f"run {run_id!r} does not hold session {session_id!r} (its active run is {active!r})"
        )


def _listing_filter(user_id: str | None, parent_session_id: str | None) -> tuple[str, list[Param]]:
    """The WHERE clause (with a trailing space, or empty) of a sessions listing."""
    where: list[str] = []
    params: list[Param] = []
    if user_id is not None:
        where.append("s.user_id = ?")
        params.append(user_id)
    if parent_session_id is not None:
        where.append("s.parent_session_id = ?")
        params.append(parent_session_id)
    return (f"WHERE {' AND '.join(where)} " if where else ""), params


def _text(value: Any) -> str:
    """A JSON string read back by ``json_extract`` is SQL text; anything else (content that
    is not a string, which this runtime never writes) is shown as its text."""
    return value if isinstance(value, str) else "" if value is None else str(value)
