"""Messages: one row of ``__agents_messages`` each, at a deterministic sequence number.

``UNIQUE(session_id, sequence)`` makes every append idempotent: a step that re-runs after a
crash appends at the same sequence numbers, and ``INSERT OR IGNORE`` turns the repeat into a
no-op (docs/invariants.md invariant 2). The first write at a sequence wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .._base import dumps
from ..db.rules import MAX_VALUE_BYTES, utf8_size
from ..errors import (
    ConflictError,
    DatabaseLimitError,
    SessionNotFoundError,
    StoreError,
    ValueTooLargeError,
)
from ..messages import Message, UserMessage, message_adapter
from ..ports.database import Param, Row, Statement
from ._base import StoreBase
from ._codec import check_value

__all__ = ["MessageOps", "StoredMessage"]

#: Keys per statement of a custom-state patch: two parameters each, under D1's 100.
_PATCH_KEYS_PER_STATEMENT = 40


class StoredMessage(NamedTuple):
    """A message with its sequence number; unpacks as ``sequence, message``."""

    sequence: int
    message: Message


class MessageOps(StoreBase):
    async def append_messages(
        self,
        session_id: str,
        messages: Iterable[tuple[int, Message]],
        *,
        run_id: str | None = None,
    ) -> int:
        """Append ``(sequence, message)`` pairs atomically; return how many were new.

        A sequence already stored is left as it is (idempotent re-run). With ``run_id`` the
        append happens only while that run is the session's active run
        (:class:`ConflictError` otherwise).
        """
        statements = [
            self._insert(session_id, sequence, message, run_id) for sequence, message in messages
        ]
        if not statements:
            return 0
        results = await self.db.batch(statements)
        inserted = sum(len(rows) for rows in results)
        if inserted < len(statements):
            # Repeats, or a refusal: tell them apart only on this rare path.
            await self._check_writer(session_id, run_id)
        return inserted

    async def append_message(
        self, session_id: str, sequence: int, message: Message, *, run_id: str | None = None
    ) -> bool:
        """Append one message; False when the sequence was already stored."""
        return await self.append_messages(session_id, [(sequence, message)], run_id=run_id) == 1

    async def append_tool_result(
        self,
        session_id: str,
        sequence: int,
        message: Message,
        *,
        state_patch: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Append a tool's result and apply its custom-state patch in one atomic batch.

        The patch sets top-level keys of ``custom_state`` (a ``None`` value deletes the key)
        inside the database, so concurrent tool calls of one step never lose each other's
        keys. It is applied only together with a new message: re-running the step changes
        nothing. Returns False when the sequence was already stored.
        """
        insert = self._insert(session_id, sequence, message, run_id)
        statements = [
            *self._patch_statements(session_id, sequence, state_patch or {}, run_id),
            insert,
        ]
        try:
            results = await self.db.batch(statements)
        except DatabaseLimitError as exc:
            # Only the patched custom_state can outgrow D1's limit here (everything else was
            # measured above): say so instead of surfacing the engine's words.
            size = sum(utf8_size(dumps(value)) for value in (state_patch or {}).values())
            raise ValueTooLargeError(
                f"custom_state of session {session_id!r} would exceed D1's "
                f"{MAX_VALUE_BYTES}-byte value limit with this patch ({size} bytes): {exc}",
                size=size,
                limit=MAX_VALUE_BYTES,
            ) from exc
        if not results[-1]:
            await self._check_writer(session_id, run_id)
            return False
        return True

    async def get_message(self, session_id: str, sequence: int) -> Message | None:
        row = await self._one(
            "SELECT message FROM __agents_messages WHERE session_id = ? AND sequence = ?",
            [session_id, sequence],
        )
        return None if row is None else _parse(row)

    async def find_user_message(
        self, session_id: str, message_id: str
    ) -> tuple[int, UserMessage] | None:
        """The first user message of ``session_id`` whose id is ``message_id``, with its
        sequence (a client's message id: what makes ``POST /chat`` idempotent)."""
        row = await self._one(
            "SELECT sequence, message FROM __agents_messages WHERE session_id = ? AND "
            "json_extract(message, '$.role') = 'user' AND json_extract(message, '$.id') = ? "
            "ORDER BY sequence LIMIT 1",
            [session_id, message_id],
        )
        if row is None:
            return None
        message = _parse(row)
        if not isinstance(message, UserMessage):  # pragma: no cover - the query says user
            return None
        return int(row["sequence"]), message

    async def load_messages(
        self,
        session_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        last_turns: int | None = None,
    ) -> list[tuple[int, Message]]:
        """Messages in sequence order; a page with ``after``/``before`` and ``limit``.

        Each item is a :class:`StoredMessage`: it unpacks as ``sequence, message``.

        With ``limit`` and ``before`` but no ``after``, the page is the last ``limit``
        messages before ``before`` (still in ascending order): the newest page first.
        ``last_turns`` keeps only the last that many turns before ``before``
        (:func:`window_start`): what a bounded history window reads.
        """
        where = ["session_id = ?"]
        params: list[Param] = [session_id]
        if after is not None:
            where.append("sequence > ?")
            params.append(after)
        if before is not None:
            where.append("sequence < ?")
            params.append(before)
        if last_turns is not None:
            start, start_params = window_start("?", before, last_turns)
            where.append(f"sequence >= {start}")
            params += [session_id, *start_params]
        newest_first = limit is not None and before is not None and after is None
        sql = (
            f"SELECT sequence, message FROM __agents_messages WHERE {' AND '.join(where)} "
            f"ORDER BY sequence {'DESC' if newest_first else 'ASC'}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self.db.query(sql, params)
        if newest_first:
            rows.reverse()
        return [StoredMessage(int(row["sequence"]), _parse(row)) for row in rows]

    async def count_messages(self, session_id: str) -> int:
        row = await self._one(
            "SELECT count(*) AS n FROM __agents_messages WHERE session_id = ?", [session_id]
        )
        return int(row["n"]) if row else 0

    async def next_sequence(self, session_id: str) -> int:
        """One past the highest stored sequence (0 for a session without messages)."""
        row = await self._one(
            "SELECT max(sequence) AS last FROM __agents_messages WHERE session_id = ?",
            [session_id],
        )
        last = None if row is None else row["last"]
        return 0 if last is None else int(last) + 1

    # -- statements ------------------------------------------------------------------------

    def _insert(
        self, session_id: str, sequence: int, message: Message, run_id: str | None
    ) -> Statement:
        check_sequence(sequence)
        text = check_value(message.to_json(), f"message {sequence} of session {session_id!r}")
        values: list[Param] = [session_id, sequence, text, self.clock()]
        if run_id is None:
            return Statement(
                "INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, "
                "created_at) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM __agents_states "
                "WHERE session_id = ?) RETURNING sequence",
                [*values, session_id],
            )
        return Statement(
            "INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, "
            "created_at) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM __agents_runs "
            "WHERE run_id = ? AND session_id = ? AND status = 'active') RETURNING sequence",
            [*values, run_id, session_id],
        )

    def _patch_statements(
        self,
        session_id: str,
        sequence: int,
        patch: Mapping[str, Any],
        run_id: str | None,
    ) -> list[Statement]:
        """``UPDATE``s that set and delete ``custom_state`` keys, only if the message at
        ``sequence`` is not stored yet (they run before its insert, in the same batch)."""
        items = list(patch.items())
        statements = []
        for start in range(0, len(items), _PATCH_KEYS_PER_STATEMENT):
            chunk = items[start : start + _PATCH_KEYS_PER_STATEMENT]
            expression = "COALESCE(custom_state, '{}')"
            params: list[Param] = []
            sets = [(key, value) for key, value in chunk if value is not None]
            removals = [key for key, value in chunk if value is None]
            if sets:
                pairs = ", ".join("?, json(?)" for _ in sets)
                expression = f"json_set({expression}, {pairs})"
                for key, value in sets:
                    params += [_path(key), check_value(dumps(value), f"custom state {key!r}")]
            if removals:
                expression = f"json_remove({expression}, {', '.join('?' for _ in removals)})"
                params += [_path(key) for key in removals]
            condition = (
                "NOT EXISTS (SELECT 1 FROM __agents_messages WHERE session_id = ? AND sequence = ?)"
            )
            params += [self.clock(), session_id, session_id, sequence]
            if run_id is not None:
                condition += (
                    " AND EXISTS (SELECT 1 FROM __agents_runs WHERE run_id = ? "
                    "AND session_id = ? AND status = 'active')"
                )
                params += [run_id, session_id]
            statements.append(
                Statement(
                    f"UPDATE __agents_states SET custom_state = {expression}, updated_at = ? "
                    f"WHERE session_id = ? AND {condition}",
                    params,
                )
            )
        return statements

    async def _check_writer(self, session_id: str, run_id: str | None) -> None:
        """Raise when an append was refused (no session, or the run does not hold it)."""
        row = await self._one(
            "SELECT (SELECT 1 FROM __agents_states WHERE session_id = ?) AS found, "
            "(SELECT status FROM __agents_runs WHERE run_id = ? AND session_id = ?) AS status",
            [session_id, run_id or "", session_id],
        )
        if row is None or not row["found"]:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        if run_id is not None and row["status"] != "active":
            raise ConflictError(
                f"run {run_id!r} does not hold session {session_id!r} "
                f"(its status is {row['status']!r})"
            )


#: Past every sequence: ``before`` when a window is read up to the end.
_END = 2**62


def window_start(session: str, before: int | None, turns: int) -> tuple[str, list[Param]]:
    """SQL for the sequence where the last ``turns`` turns before ``before`` start (0 when
    there are fewer), and its parameters (after ``session``'s, a column or ``?``).

    A turn starts at a user message that does not follow another user message (several
    sent together are one turn), as :func:`helix_agents.history.turn_starts` counts them.
    The query walks the index backwards from ``before`` and stops at the ``turns``-th
    start: it reads the window, not the session."""
    if turns < 1:
        raise ValueError("turns must be at least 1")
    sql = (
        "COALESCE((SELECT u.sequence FROM __agents_messages u WHERE u.session_id = "
        f"{session} AND u.sequence < ? AND json_extract(u.message, '$.role') = 'user' AND "
        "COALESCE((SELECT json_extract(p.message, '$.role') FROM __agents_messages p WHERE "
        "p.session_id = u.session_id AND p.sequence < u.sequence ORDER BY p.sequence DESC "
        "LIMIT 1), '') <> 'user' ORDER BY u.sequence DESC LIMIT 1 OFFSET ?), 0)"
    )
    return sql, [_END if before is None else before, turns - 1]


def check_sequence(sequence: int) -> None:
    """Refuse what cannot be a message's sequence number."""
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise StoreError(f"a message sequence must be an int >= 0, not {sequence!r}")


def _path(key: str) -> str:
    if not isinstance(key, str) or '"' in key:
        raise StoreError(f"custom state keys must be strings without '\"', not {key!r}")
    return f'$."{key}"'


def _parse(row: Row) -> Message:
    return message_adapter.validate_json(row["message"])
