"""Runs: one row of ``__agents_runs`` per instance (a turn, or a resume of one).

A session has at most one ``active`` run: the run that holds it (docs/invariants.md invariant 6).
Starting a run is a single batch whose every statement carries the same condition — the
session exists, no run of it is active, the run id is new — so either all of it applies (the
run row, the session's status and stream, the cleared flags, the user's messages) or none of
it does, whatever runs concurrently. With ``supersede=True`` the batch first ends the active
run, so the new one takes the session in the same atomic step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..errors import ConflictError, SessionNotFoundError, StoreError
from ..ids import validate_instance_id
from ..messages import Message
from ..ports.database import Param, Row, Statement
from ..state import RunRecord, RunStatus
from ._base import StoreBase
from ._codec import check_value

__all__ = ["RunOps", "StartedRun", "run_from_row"]

_STARTABLE = (
    "EXISTS (SELECT 1 FROM __agents_states WHERE session_id = ?) "
    "AND NOT EXISTS (SELECT 1 FROM __agents_runs WHERE session_id = ? AND status = 'active') "
    "AND NOT EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ?)"
)


class StartedRun(NamedTuple):
    """The run that now holds the session, and the runs that ``supersede`` ended."""

    run: RunRecord
    superseded: list[RunRecord]


def run_from_row(row: Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        session_id=row["session_id"],
        turn=int(row["turn"]),
        status=RunStatus(row["status"]),
        step_count=int(row["step_count"] or 0),
        started_at=int(row["started_at"]),
        completed_at=None if row["completed_at"] is None else int(row["completed_at"]),
    )


class RunOps(StoreBase):
    async def start_run(
        self,
        session_id: str,
        run_id: str,
        turn: int,
        *,
        stream_id: str | None = None,
        messages: Iterable[tuple[int, Message]] = (),
        supersede: bool = False,
        superseded_status: RunStatus = RunStatus.ABORTED,
    ) -> StartedRun:
        """Make ``run_id`` the session's active run, atomically (see the module docstring).

        In the same batch: the session becomes ``active`` (on ``stream_id`` if given), its
        interrupt and abort flags are cleared, and ``messages`` (the user's input) are
        appended. Raises :class:`ConflictError` when another run is active (unless
        ``supersede``, which ends it with ``superseded_status``) or when ``run_id`` already
        ended; :class:`SessionNotFoundError` without a session. Starting the same run again
        while it is active returns it unchanged (a step re-run after a crash).
        """
        validate_instance_id(run_id)
        if superseded_status == RunStatus.ACTIVE:
            raise StoreError("a superseded run cannot stay active")
        now = self.clock()
        cond: list[Param] = [session_id, session_id, run_id]
        statements: list[Statement] = []
        if supersede:
            statements.append(
                Statement(
                    "UPDATE __agents_runs SET status = ?, completed_at = ? "
                    "WHERE session_id = ? AND status = 'active' "
                    "AND NOT EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ?) RETURNING *",
                    [superseded_status.value, now, session_id, run_id],
                )
            )
        statements += [
            Statement(
                "UPDATE __agents_states SET status = 'active', stream_id = COALESCE(?, stream_id), "
                "aborted = 0, abort_reason = NULL, error = NULL, failure_reason = NULL, "
                f"updated_at = ? WHERE session_id = ? AND {_STARTABLE}",
                [stream_id, now, session_id, *cond],
            ),
            Statement(
                f"DELETE FROM __agents_interrupts WHERE session_id = ? AND {_STARTABLE}",
                [session_id, *cond],
            ),
        ]
        for sequence, message in messages:
            text = check_value(message.to_json(), f"message {sequence} of {session_id!r}")
            statements.append(
                Statement(
                    "INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, "
                    f"created_at) SELECT ?, ?, ?, ? WHERE {_STARTABLE}",
                    [session_id, sequence, text, now, *cond],
                )
            )
        statements += [
            Statement(
                "INSERT INTO __agents_runs (run_id, session_id, turn, status, step_count, "
                f"started_at) SELECT ?, ?, ?, 'active', 0, ? WHERE {_STARTABLE} RETURNING *",
                [run_id, session_id, turn, now, *cond],
            ),
            Statement(
                "SELECT r.*, (SELECT 1 FROM __agents_states WHERE session_id = ?) AS found, "
                "(SELECT run_id FROM __agents_runs WHERE session_id = ? AND status = 'active' "
                "LIMIT 1) AS active FROM (SELECT 1) LEFT JOIN __agents_runs r ON r.run_id = ?",
                [session_id, session_id, run_id],
            ),
        ]
        results = await self.db.batch(statements)
        superseded = [run_from_row(row) for row in results[0]] if supersede else []
        if results[-2]:
            return StartedRun(run_from_row(results[-2][0]), superseded)
        probe = results[-1][0]
        if not probe["found"]:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        if probe["run_id"] is not None:
            existing = run_from_row(probe)
            if existing.session_id == session_id and existing.status == RunStatus.ACTIVE:
                return StartedRun(existing, [])
            raise ConflictError(
                f"run {run_id!r} already exists (session {existing.session_id!r}, "
                f"status {existing.status.value!r}): run ids are written once"
            )
        raise ConflictError(f"session {session_id!r} already has an active run {probe['active']!r}")

    async def begin_run(
        self,
        session_id: str,
        run_id: str,
        turn: int,
        *,
        stream_id: str | None = None,
        messages: Iterable[tuple[int, Message]] = (),
        supersede: bool = False,
    ) -> RunRecord | None:
        """:meth:`start_run` for callers that only need the superseded run (or None)."""
        started = await self.start_run(
            session_id, run_id, turn, stream_id=stream_id, messages=messages, supersede=supersede
        )
        return started.superseded[0] if started.superseded else None

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = await self._one("SELECT * FROM __agents_runs WHERE run_id = ?", [run_id])
        return None if row is None else run_from_row(row)

    async def active_run(self, session_id: str) -> RunRecord | None:
        """The run that holds the session, if any."""
        row = await self._one(
            "SELECT * FROM __agents_runs WHERE session_id = ? AND status = 'active' LIMIT 1",
            [session_id],
        )
        return None if row is None else run_from_row(row)

    async def latest_run(self, session_id: str) -> RunRecord | None:
        """The session's most recent run (highest turn, latest resume), whatever its status."""
        row = await self._one(
            "SELECT * FROM __agents_runs WHERE session_id = ? "
            "ORDER BY turn DESC, started_at DESC, rowid DESC LIMIT 1",
            [session_id],
        )
        return None if row is None else run_from_row(row)

    async def list_runs(
        self, session_id: str, *, limit: int | None = None, newest_first: bool = False
    ) -> list[RunRecord]:
        """The session's runs, oldest first (``newest_first``: the latest ``limit``, latest
        first)."""
        order = (
            "turn DESC, started_at DESC, rowid DESC" if newest_first else "turn, started_at, rowid"
        )
        sql = f"SELECT * FROM __agents_runs WHERE session_id = ? ORDER BY {order}"
        params: list[Param] = [session_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [run_from_row(row) for row in await self.db.query(sql, params)]

    async def list_active_runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Every active run of every session (a restarting host looks for lost ones)."""
        sql = "SELECT * FROM __agents_runs WHERE status = 'active' ORDER BY started_at, rowid"
        params: Sequence[Param] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = [limit]
        return [run_from_row(row) for row in await self.db.query(sql, params)]
