"""What one agent step reads and writes, in as few D1 statements as possible.

On Cloudflare every D1 call is a subrequest and every statement counts against the queries
of an invocation, so an agent step (a model step and its tool steps) costs:

- :meth:`StepOps.step_view`: ONE statement that reads the run's status, the session row,
  the interrupt flag, (after a crash) a message already stored at the step's sequence and,
  on an instance's first step, the history the model needs;
- :meth:`StepOps.commit_model_step`: ONE statement that writes the model step's messages,
  its usage, the step count and, when the run ends or suspends here, its outcome;
- :meth:`StepOps.commit_tool_step`: ONE statement that writes a tool's result and its usage
  (a tool that changes the custom state adds the patch's UPDATE to the same batch).

A commit is a row inserted into the view ``__agents_step_commits``, whose ``INSTEAD OF``
trigger (migration ``0002_step_commits.sql``) applies it to the tables in one transaction,
after checking that the run still holds the session: a run that was aborted or superseded
meanwhile writes nothing and gets :class:`~helix_agents.errors.ConflictError`.
:meth:`StepOps.finish_run` ends a run through the same view, so the SQL of a run's end
exists once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..db.rules import MAX_VALUE_BYTES, utf8_size
from ..errors import ConflictError, DatabaseError, StoreError
from ..messages import Message, message_adapter
from ..ports.database import Param, Statement
from ..state import PendingToolCall, RunRecord, RunStatus, SessionState, SuspensionContext
from ..usage import UsageRecord
from ._codec import check_value, dump_json
from .messages import MessageOps, _parse, check_sequence, window_start
from .runs import RunOps, run_from_row
from .sessions import session_from_row
from .suspensions import _pending_json
from .usage import UsageOps

__all__ = ["Outcome", "StepOps", "StepView", "Suspension"]

#: The trigger's message when the writer no longer holds the session.
NOT_HELD = "helix: run does not hold the session"

#: History larger than this (bytes of message JSON) is read with a query of its own: the
#: view's one column must stay well under D1's 2 MB per value, escaping included.
_HISTORY_INLINE_BYTES = 800_000

#: Room left in the commit's ``messages`` value for the array's own JSON.
_MESSAGES_VALUE_BYTES = MAX_VALUE_BYTES - 4096

_COMMIT_COLUMNS = (
    "session_id",
    "run_id",
    "messages",
    "step_count",
    "usage_record",
    "suspension_context",
    "suspension_expires_at",
    "pending_calls",
    "settle",
    "status",
    "output",
    "error",
    "failure_reason",
    "committed_at",
)

_COMMIT_COLUMN_SET = frozenset(_COMMIT_COLUMNS)


class StepView(NamedTuple):
    #: The run's status, or None when the run does not exist.
    run_status: RunStatus | None
    state: SessionState | None
    interrupt_requested: bool
    #: The message already stored at the requested sequence (a crashed attempt's).
    existing: Message | None
    #: The messages before ``history_before``, when asked for and small enough to come
    #: with the view (None: load them separately).
    history: list[tuple[int, Message]] | None = None


class Outcome(NamedTuple):
    """How a step ends its run (for :meth:`StepOps.commit_model_step`)."""

    status: RunStatus
    output: Any = None
    error: str | None = None
    failure_reason: str | None = None


class Suspension(NamedTuple):
    """A suspension a step writes with its outcome; ``pending`` None keeps the stored
    pending calls."""

    context: SuspensionContext
    pending: list[PendingToolCall] | None = None


class StepOps(MessageOps, RunOps, UsageOps):
    async def step_view(
        self,
        session_id: str,
        run_id: str,
        *,
        sequence: int | None = None,
        history_before: int | None = None,
        history_turns: int | None = None,
    ) -> StepView:
        """``history_turns``: only the last that many turns of the history (an agent whose
        history processors need no more: :func:`helix_agents.history.history_window`)."""
        params: list[Param] = [run_id, -1 if sequence is None else sequence]
        history = "NULL"
        if history_before is not None:
            # Inline only what fits in one value; the sum is checked in the same statement.
            bound, bound_params = "", []
            if history_turns is not None:
                start, start_params = window_start("s.session_id", history_before, history_turns)
                bound, bound_params = f" AND sequence >= {start}", start_params
            history = (
                "CASE WHEN (SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) FROM "
                f"__agents_messages WHERE session_id = s.session_id AND sequence < ?{bound}) "
                "<= ? THEN (SELECT json_group_array(json_object('s', sequence, 'm', message)) "
                "FROM __agents_messages WHERE session_id = s.session_id AND sequence < ?"
                f"{bound}) END"
            )
            params += [
                history_before,
                *bound_params,
                _HISTORY_INLINE_BYTES,
                history_before,
                *bound_params,
            ]
        row = await self._one(
            "SELECT s.*, (SELECT status FROM __agents_runs WHERE run_id = ?) AS __run_status, "
            "(SELECT requested FROM __agents_interrupts i WHERE i.session_id = s.session_id) "
            "AS __interrupt, (SELECT message FROM __agents_messages m WHERE "
            "m.session_id = s.session_id AND m.sequence = ?) AS message, "
            f"{history} AS __history FROM __agents_states s WHERE s.session_id = ?",
            [*params, session_id],
        )
        if row is None:
            return StepView(None, None, False, None)
        run_status = row["__run_status"]
        inline = row["__history"]
        return StepView(
            None if run_status is None else RunStatus(run_status),
            session_from_row(row),
            bool(row["__interrupt"]),
            None if row["message"] is None else _parse(row),
            None if inline is None else _history(inline),
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
        suspension: Suspension | None = None,
        settle: bool = False,
    ) -> None:
        """Write a model step's effects atomically: its messages, usage and step count;
        a suspension, or forgetting the settled one that led to this run; the run's
        outcome when it ends (or suspends) here. Raises ConflictError when the run no
        longer holds the session."""
        fields: dict[str, Param] = {"step_count": step_count, "settle": 1 if settle else None}
        if usage is not None:
            fields["usage_record"] = self._usage_json(usage)
        if suspension is not None:
            what = f"suspension_context of session {session_id!r}"
            fields["suspension_context"] = check_value(suspension.context.to_json(), what)
            fields["suspension_expires_at"] = suspension.context.expires_at
            if suspension.pending is not None:
                fields["pending_calls"] = _pending_json(suspension.pending, session_id)
        if outcome is not None:
            fields.update(self._outcome_fields(session_id, outcome))
        await self._commit(session_id, run_id, messages, fields)

    async def commit_tool_step(
        self,
        session_id: str,
        run_id: str,
        sequence: int,
        message: Message,
        *,
        state_patch: Mapping[str, Any] | None = None,
        usage: UsageRecord | None = None,
    ) -> None:
        """A tool's result, its custom-state patch and its usage, atomically. A result
        already stored (an earlier attempt's) is kept, and the patch is not applied again.
        Raises ConflictError when the run no longer holds the session."""
        fields: dict[str, Param] = {}
        if usage is not None:
            fields["usage_record"] = self._usage_json(usage)
        before = self._patch_statements(session_id, sequence, state_patch or {}, run_id)
        await self._commit(session_id, run_id, [(sequence, message)], fields, before=before)

    async def finish_run(
        self,
        session_id: str,
        run_id: str,
        status: RunStatus,
        *,
        output: object = None,
        error: str | None = None,
        failure_reason: str | None = None,
        step_count: int | None = None,
    ) -> RunRecord:
        """End the run with ``status`` and write the outcome on the session, atomically
        (outside a step's own commit: an interrupt or abort seen at a step's start).

        Only an active run is finished: finishing one that already ended (a re-run after a
        crash, or a run aborted or superseded meanwhile) changes nothing and returns it as
        it is, so the caller can see who ended it. The session's interrupt flag, which
        was addressed to this run, is cleared with it.
        """
        fields: dict[str, Param] = {
            "session_id": session_id,
            "run_id": run_id,
            "step_count": step_count,
            "committed_at": self.clock(),
            **self._outcome_fields(session_id, Outcome(status, output, error, failure_reason)),
        }
        # The row goes in only while the run holds the session, so the trigger's guard
        # never fails this statement: a run that ended already is left as it is.
        results = await self.db.batch(
            [
                _commit_statement(fields, only_while_held=True),
                Statement("SELECT * FROM __agents_runs WHERE run_id = ?", [run_id]),
            ]
        )
        if not results[-1]:
            raise StoreError(f"run {run_id!r} does not exist")
        return run_from_row(results[-1][0])

    # -- the commit ----------------------------------------------------------------------

    async def _commit(
        self,
        session_id: str,
        run_id: str,
        messages: Sequence[tuple[int, Message]],
        fields: dict[str, Param],
        *,
        before: Sequence[Statement] = (),
    ) -> None:
        inline, large = self._pack_messages(session_id, messages)
        fields = {
            "session_id": session_id,
            "run_id": run_id,
            "messages": inline,
            "committed_at": self.clock(),
            **fields,
        }
        commit = _commit_statement(fields)
        # A message too large to travel inside the commit's one value is inserted on its
        # own, in the same batch (its INSERT has the same guard).
        statements = [
            *before,
            *(self._insert(session_id, seq, msg, run_id) for seq, msg in large),
            commit,
        ]
        try:
            if len(statements) == 1:
                await self.db.execute(commit.sql, commit.params)
            else:
                await self.db.batch(statements)
        except DatabaseError as exc:
            if NOT_HELD not in str(exc):
                raise
            await self._check_writer(session_id, run_id)
            raise ConflictError(f"run {run_id!r} no longer holds session {session_id!r}") from exc

    def _pack_messages(
        self, session_id: str, messages: Sequence[tuple[int, Message]]
    ) -> tuple[str | None, list[tuple[int, Message]]]:
        """The commit's ``messages`` value, and the messages that do not fit in it."""
        entries: list[str] = []
        size = 2
        large: list[tuple[int, Message]] = []
        for seq, message in messages:
            check_sequence(seq)
            text = check_value(message.to_json(), f"message {seq} of session {session_id!r}")
            entry = json.dumps({"sequence": seq, "message": text}, ensure_ascii=False)
            entry_size = utf8_size(entry) + 1
            if size + entry_size > _MESSAGES_VALUE_BYTES:
                large.append((seq, message))
                continue
            entries.append(entry)
            size += entry_size
        return (f"[{','.join(entries)}]" if entries else None), large

    def _usage_json(self, record: UsageRecord) -> str:
        """The commit's ``usage_record`` value: the record's row as a JSON object (the
        trigger takes the session and run from the commit itself)."""
        return json.dumps(self._usage_row(record), ensure_ascii=False)

    def _outcome_fields(self, session_id: str, outcome: Outcome) -> dict[str, Param]:
        status = RunStatus(outcome.status)
        if status == RunStatus.ACTIVE:
            raise StoreError("a run's outcome needs a final, interrupted or suspended status")
        what = f"session {session_id!r}"
        if outcome.error is not None:
            check_value(outcome.error, f"error of {what}")
        return {
            "status": status.value,
            "output": None
            if outcome.output is None
            else dump_json(outcome.output, f"output of {what}"),
            "error": outcome.error,
            "failure_reason": outcome.failure_reason,
        }


def _commit_statement(fields: Mapping[str, Param], *, only_while_held: bool = False) -> Statement:
    """The INSERT of one row into ``__agents_step_commits`` (NULL columns left out). With
    ``only_while_held`` the row is not inserted at all unless the run holds the session."""
    # In the fields' own order (a caller's order is the same on every step, which is what
    # the SQL cache needs), without a lookup per column.
    names = tuple([n for n, v in fields.items() if v is not None and n in _COMMIT_COLUMN_SET])
    values = [fields[name] for name in names]
    if not only_while_held:
        # Two or three column sets come back on every step: their SQL is built once.
        sql = _COMMIT_SQL.get(names)
        if sql is None:
            sql = f"INSERT INTO __agents_step_commits ({', '.join(names)}) VALUES ({_marks(names)})"
            if len(_COMMIT_SQL) < 256:  # the sets of _COMMIT_COLUMNS are finite anyway
                _COMMIT_SQL[names] = sql
        return Statement(sql, values)
    columns = ", ".join(names)
    marks = _marks(names)
    return Statement(
        f"INSERT INTO __agents_step_commits ({columns}) SELECT {marks} WHERE EXISTS (SELECT 1 "
        "FROM __agents_runs WHERE run_id = ? AND session_id = ? AND status = 'active')",
        [*values, fields["run_id"], fields["session_id"]],
    )


#: The commit's INSERT by the columns it sets (_commit_statement).
_COMMIT_SQL: dict[tuple[str, ...], str] = {}


def _marks(names: Sequence[str]) -> str:
    return ", ".join(["?"] * len(names))


def _history(text: str) -> list[tuple[int, Message]]:
    items = [(int(item["s"]), item["m"]) for item in json.loads(text)]
    items.sort()
    return [(seq, message_adapter.validate_json(message)) for seq, message in items]
