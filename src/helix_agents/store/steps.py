"""What one agent step reads and writes, in as few database calls as possible.

On Cloudflare every call to D1 is a subrequest and every statement costs, so an agent step
(a model step and its tool steps) reads once and writes once per step:

- :meth:`StepOps.step_view`: the run's status, the session row, the interrupt flag and
  (after a crash) a message already stored at the step's sequence, in ONE statement;
- :meth:`StepOps.commit_model_step`: the model step's messages, step count, usage and, when
  the run ends, its outcome, in ONE batch that also reports whether an interrupt arrived;
- :meth:`StepOps.commit_tool_step`: a tool's result, its custom-state patch and its usage,
  in ONE batch.

Every write is guarded by the run still being the session's active run, so a run that was
aborted or superseded meanwhile writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..errors import ConflictError
from ..messages import Message
from ..ports.database import Statement
from ..state import RunStatus, SessionState
from ..usage import UsageRecord
from .messages import MessageOps, _parse
from .runs import RunOps
from .sessions import run_guard, session_from_row
from .usage import UsageOps

__all__ = ["Outcome", "StepOps", "StepView"]


class StepView(NamedTuple):
    #: The run's status, or None when the run does not exist.
    run_status: RunStatus | None
    state: SessionState | None
    interrupt_requested: bool
    #: The message already stored at the requested sequence (a crashed attempt's).
    existing: Message | None


class Outcome(NamedTuple):
    """How a step ends its run (for :meth:`StepOps.commit_model_step`)."""

    status: RunStatus
    output: Any = None
    error: str | None = None
    failure_reason: str | None = None


class StepOps(MessageOps, RunOps, UsageOps):
    async def step_view(
        self, session_id: str, run_id: str, *, sequence: int | None = None
    ) -> StepView:
        row = await self._one(
            "SELECT s.*, (SELECT status FROM __agents_runs WHERE run_id = ?) AS __run_status, "
            "(SELECT requested FROM __agents_interrupts i WHERE i.session_id = s.session_id) "
            "AS __interrupt, (SELECT message FROM __agents_messages m WHERE "
            "m.session_id = s.session_id AND m.sequence = ?) AS message "
            "FROM __agents_states s WHERE s.session_id = ?",
            [run_id, -1 if sequence is None else sequence, session_id],
        )
        if row is None:
            return StepView(None, None, False, None)
        run_status = row["__run_status"]
        return StepView(
            None if run_status is None else RunStatus(run_status),
            session_from_row(row),
            bool(row["__interrupt"]),
            None if row["message"] is None else _parse(row),
        )

    async def commit_model_step(
        self,
        session_id: str,
        run_id: str,
        messages: Sequence[tuple[int, Message]],
        *,
        step_count: int,
        usage: UsageRecord | None = None,
        outcome: Outcome | None = None,
        extra: Sequence[Statement] = (),
    ) -> bool:
        """Write a model step's effects atomically; returns whether an interrupt is now
        requested. Raises ConflictError when the run no longer holds the session.

        ``extra`` statements (a suspension, say) join the same batch, before the outcome."""
        guard, guard_params = run_guard(run_id, session_id)
        statements: list[Statement] = [
            self._insert(session_id, seq, message, run_id) for seq, message in messages
        ]
        statements += [
            Statement(
                f"UPDATE __agents_states SET step_count = ?, updated_at = ? "
                f"WHERE session_id = ? AND {guard}",
                [step_count, self.clock(), session_id, *guard_params],
            ),
            Statement(
                "UPDATE __agents_runs SET step_count = ? WHERE run_id = ? AND "
                "session_id = ? AND status = 'active'",
                [step_count, run_id, session_id],
            ),
        ]
        if usage is not None:
            statements.append(self._usage_statement(usage))
        statements += extra
        probe = Statement(
            "SELECT (SELECT status FROM __agents_runs WHERE run_id = ?) AS status, "
            "(SELECT requested FROM __agents_interrupts WHERE session_id = ?) AS interrupt",
            [run_id, session_id],
        )
        # The probe runs before the outcome so that it sees whether the run still held the
        # session when its messages went in.
        statements.append(probe)
        if outcome is not None:
            statements += self._finish_statements(
                session_id,
                run_id,
                outcome.status,
                output=outcome.output,
                error=outcome.error,
                failure_reason=outcome.failure_reason,
                step_count=step_count,
            )
        results = await self.db.batch(statements)
        row = results[statements.index(probe)][0]
        if row["status"] != RunStatus.ACTIVE.value:
            raise ConflictError(
                f"run {run_id!r} no longer holds session {session_id!r} (status {row['status']!r})"
            )
        return bool(row["interrupt"])

    async def commit_tool_step(
        self,
        session_id: str,
        run_id: str,
        sequence: int,
        message: Message,
        *,
        state_patch: Mapping[str, Any] | None = None,
        usage: UsageRecord | None = None,
        extra: Sequence[Statement] = (),
    ) -> bool:
        """A tool's result, its custom-state patch and its usage, atomically. False when the
        result was already stored (nothing else is applied then). ``extra`` statements
        join the same batch."""
        statements = [
            *self._patch_statements(session_id, sequence, state_patch or {}, run_id),
            self._insert(session_id, sequence, message, run_id),
        ]
        inserted_at = len(statements) - 1
        if usage is not None:
            statements.append(self._usage_statement(usage))
        statements += extra
        results = await self.db.batch(statements)
        if not results[inserted_at]:
            await self._check_writer(session_id, run_id)
            return False
        return True
