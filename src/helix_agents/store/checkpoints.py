"""Checkpoints of a session: listed, rewound to, forked from (docs/checkpoints.md).

The rows are written by the trigger of migration ``0004_checkpoints.sql``, inside the
statement that first stores each user or assistant message; this module only reads them
and moves sessions between them. Rewinding and replacing the state are writes outside any
run: guarded, like every such write, by "no run is active" (the guard is part of each
statement of the batch, so a run that starts meanwhile sees either all of it or none).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import CheckpointNotFoundError, ConflictError
from ..ids import validate_session_id
from ..ports.database import Param, Row, Statement
from ..state import Checkpoint, RunStatus, SessionState
from ..usage import Usage
from ._codec import dump_json, load_json
from .sessions import SessionOps, run_guard

__all__ = ["CheckpointOps"]

#: A run in one of these stops mattering once its session is rewound: it is marked aborted,
#: so that nothing resumes it over the messages it no longer has.
_LEFT_BEHIND = ("interrupted", "suspended_client_tool", "suspended_step_partial")


def _checkpoint(row: Row) -> Checkpoint:
    return Checkpoint(
        session_id=row["session_id"],
        sequence=int(row["sequence"]),
        step=int(row["step"]),
        kind=row["kind"],
        state=load_json(row["custom_state"], {}),
        usage=Usage.model_validate(load_json(row["usage"], {})),
        created_at=int(row["created_at"]),
    )


class CheckpointOps(SessionOps):
    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """The session's checkpoints, oldest first, and, while no run is active, its current
        end (kind ``head``). :class:`SessionNotFoundError` without the session."""
        state = await self.require_session(session_id)
        rows = await self.db.query(
            "SELECT * FROM __agents_checkpoints WHERE session_id = ? ORDER BY sequence",
            [session_id],
        )
        found = [_checkpoint(row) for row in rows]
        head = await self._head(state, found[-1] if found else None)
        if head is None:
            return found
        # A fork's copy of its origin's checkpoint at the fork point is its end: the head.
        return [*(c for c in found if c.sequence < head.sequence), head]

    async def get_checkpoint(self, session_id: str, sequence: int) -> Checkpoint:
        """One checkpoint (the ``head`` included); :class:`CheckpointNotFoundError`."""
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise CheckpointNotFoundError(f"a checkpoint is a message sequence, not {sequence!r}")
        found = next(
            (c for c in await self.list_checkpoints(session_id) if c.sequence == sequence), None
        )
        if found is None:
            raise CheckpointNotFoundError(
                f"session {session_id!r} has no checkpoint at sequence {sequence}"
            )
        return found

    async def set_custom_state(self, session_id: str, value: dict[str, Any]) -> SessionState:
        """Replace the session's state (a human's edit), only while no run is active
        (:class:`ConflictError` otherwise)."""
        guard, params = run_guard(None, session_id)
        text = dump_json(value, f"custom_state of session {session_id!r}")
        rows = await self.db.query(
            f"UPDATE __agents_states SET custom_state = ?, updated_at = ? "
            f"WHERE session_id = ? AND {guard} RETURNING session_id",
            [text, self.clock(), session_id, *params],
        )
        if not rows:
            await self._raise_not_held(session_id, None)
        return await self.require_session(session_id)

    async def rewind(self, session_id: str, sequence: int) -> SessionState:
        """Take the session back to its checkpoint at ``sequence``: the messages from there
        on are deleted (and the stored summaries that cover any of them), the state is the
        checkpoint's, a suspension or interrupt left behind is forgotten. Only while no run is active (:class:`ConflictError`)."""
        checkpoint = await self.get_checkpoint(session_id, sequence)
        state = await self.require_session(session_id)
        _check_movable(state)
        guard, guard_params = run_guard(None, session_id)
        now = self.clock()
        text = dump_json(checkpoint.state, f"custom_state of session {session_id!r}")
        marks = ", ".join("?" for _ in _LEFT_BEHIND)
        results = await self.db.batch(
            [
                Statement(
                    "UPDATE __agents_states SET custom_state = ?, status = ?, output = NULL, "
                    "error = NULL, failure_reason = NULL, pending_client_tool_calls = NULL, "
                    "completed_client_tool_calls = NULL, suspension_context = NULL, "
                    f"expires_at = NULL, updated_at = ? WHERE session_id = ? AND {guard} "
                    "RETURNING session_id",
                    [text, RunStatus.COMPLETED.value, now, session_id, *guard_params],
                ),
                # The stored summaries that cover a message about to go (before it does).
                Statement(
                    "DELETE FROM __helix_summaries WHERE session_id = ? AND covered > "
                    "(SELECT COUNT(*) FROM __agents_messages WHERE session_id = ? "
                    f"AND sequence < ?) AND {guard}",
                    [session_id, session_id, sequence, *guard_params],
                ),
                Statement(
                    "DELETE FROM __agents_messages WHERE session_id = ? AND sequence >= ? "
                    f"AND {guard}",
                    [session_id, sequence, *guard_params],
                ),
                Statement(
                    "DELETE FROM __agents_checkpoints WHERE session_id = ? AND sequence >= ? "
                    f"AND {guard}",
                    [session_id, sequence, *guard_params],
                ),
                Statement(
                    "UPDATE __agents_runs SET status = 'aborted', completed_at = ? "
                    f"WHERE session_id = ? AND status IN ({marks})",
                    [now, session_id, *_LEFT_BEHIND],
                ),
                Statement("DELETE FROM __agents_interrupts WHERE session_id = ?", [session_id]),
            ]
        )
        if not results[0]:
            await self._raise_not_held(session_id, None)
        return await self.require_session(session_id)

    async def fork(
        self, session_id: str, sequence: int, new_session_id: str, *, user_id: str | None = None
    ) -> SessionState:
        """A new session ``new_session_id`` (a branch) holding the messages before the
        checkpoint at ``sequence``, its state and the checkpoints before it; its metadata's
        ``forkedFrom`` names the origin. The origin is not changed. Forking the ``head``
        needs the origin idle (:class:`ConflictError`); an earlier checkpoint does not."""
        validate_session_id(new_session_id)
        checkpoint = await self.get_checkpoint(session_id, sequence)
        origin = await self.require_session(session_id)
        if checkpoint.kind == "head":
            _check_movable(origin)
        now = self.clock()
        forked_from = json.dumps({"sessionId": session_id, "checkpoint": sequence})
        params: list[Param] = [
            new_session_id,
            new_session_id,
            RunStatus.COMPLETED.value,
            dump_json(checkpoint.state, f"custom_state of session {new_session_id!r}"),
            user_id,
            forked_from,
            now,
            now,
            session_id,
        ]
        results = await self.db.batch(
            [
                Statement(
                    "INSERT OR IGNORE INTO __agents_states (session_id, agent_type, stream_id, "
                    "status, step_count, custom_state, user_id, tags, metadata, created_at, "
                    "updated_at) SELECT ?, agent_type, ?, ?, 0, ?, COALESCE(?, user_id), tags, "
                    "json_set(COALESCE(metadata, '{}'), '$.forkedFrom', json(?)), ?, ? "
                    "FROM __agents_states WHERE session_id = ? RETURNING session_id",
                    params,
                ),
                # The trigger records a checkpoint for each copied message, from the new
                # session's state; the origin's checkpoints replace them just below.
                Statement(
                    "INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, "
                    "created_at) SELECT ?, sequence, message, created_at FROM __agents_messages "
                    "WHERE session_id = ? AND sequence < ? ORDER BY sequence",
                    [new_session_id, session_id, sequence],
                ),
                # The origin's checkpoints up to the fork point, that one included: the
                # base of the branch's next one (the trigger's; see 0004_checkpoints.sql).
                Statement(
                    "INSERT OR REPLACE INTO __agents_checkpoints (session_id, sequence, step, "
                    "kind, custom_state, usage, usage_mark, created_at) SELECT ?, sequence, "
                    "step, kind, custom_state, usage, usage_mark, created_at "
                    "FROM __agents_checkpoints WHERE session_id = ? AND sequence <= ?",
                    [new_session_id, session_id, sequence],
                ),
                *self._head_row(new_session_id, session_id, checkpoint, now),
            ]
        )
        if not results[0]:
            raise ConflictError(f"session {new_session_id!r} already exists")
        return await self.require_session(new_session_id)

    async def _head(self, state: SessionState, last: Checkpoint | None) -> Checkpoint | None:
        """The session's end as a checkpoint (``last`` is its last stored one), or None
        while a run is active."""
        row = await self._one(
            "SELECT (SELECT max(sequence) FROM __agents_messages WHERE session_id = ?) AS last, "
            "EXISTS (SELECT 1 FROM __agents_runs WHERE session_id = ? AND status = 'active') "
            "AS busy",
            [state.session_id, state.session_id],
        )
        if row is None or row["busy"]:
            return None
        end = 0 if row["last"] is None else int(row["last"]) + 1
        if last is not None and last.sequence > end:  # pragma: no cover - rows past the end
            last = None
        step = 0
        if last is not None:
            # A row at the end itself (a fork's copy of its fork point) counts as the end.
            step = last.step + (1 if last.kind == "step" and last.sequence < end else 0)
        return Checkpoint(
            session_id=state.session_id,
            sequence=end,
            step=step,
            kind="head",
            state=dict(state.custom_state),
            usage=await self._usage_since(state.session_id, last),
            created_at=state.updated_at,
        )

    def _head_row(
        self, new_session_id: str, origin: str, checkpoint: Checkpoint, now: int
    ) -> list[Statement]:
        """A fork of the origin's end stores that end as a row of the branch (kind
        ``head``): no stored checkpoint holds the counters up to it."""
        if checkpoint.kind != "head":
            return []
        counters = {
            "inputTokens": checkpoint.usage.input_tokens,
            "outputTokens": checkpoint.usage.output_tokens,
            "totalTokens": checkpoint.usage.total_tokens,
            "requests": checkpoint.usage.requests,
            "toolCalls": checkpoint.usage.tool_calls,
        }
        return [
            Statement(
                "INSERT OR REPLACE INTO __agents_checkpoints (session_id, sequence, step, kind, "
                "custom_state, usage, usage_mark, created_at) VALUES (?, ?, ?, 'head', ?, ?, "
                "(SELECT COALESCE(max(rowid), 0) FROM __agents_usage WHERE session_id = ?), ?)",
                [
                    new_session_id,
                    checkpoint.sequence,
                    checkpoint.step,
                    dump_json(checkpoint.state, f"custom_state of session {new_session_id!r}"),
                    json.dumps(counters),
                    origin,
                    now,
                ],
            )
        ]

    async def _usage_since(self, session_id: str, last: Checkpoint | None) -> Usage:
        """The session's usage now, as its checkpoints count it: the last one's counters
        plus the usage rows written since (a fork's carry its origin's up to the fork)."""
        counters = ", ".join(f"COALESCE(SUM({c}), 0) AS {c}" for c in _COUNTERS)
        row = await self._one(
            f"SELECT {counters} FROM __agents_usage WHERE session_id = ? AND rowid > "
            "COALESCE((SELECT usage_mark FROM __agents_checkpoints WHERE session_id = ? "
            "AND sequence = ?), 0)",
            [session_id, session_id, -1 if last is None else last.sequence],
        )
        since = Usage(**{c: int(row[c]) for c in _COUNTERS}) if row is not None else Usage()
        return since if last is None else last.usage + since


_COUNTERS = ("input_tokens", "output_tokens", "total_tokens", "requests", "tool_calls")


def _check_movable(state: SessionState) -> None:
    if state.status == RunStatus.SUSPENDED_AWAITING_CHILDREN:
        raise ConflictError(
            f"session {state.session_id!r} waits on sub-agents: abort it before moving it "
            "to a checkpoint"
        )
