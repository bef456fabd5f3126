"""The statements a sqlite3 connection runs, for tests that count or order them."""

from __future__ import annotations

import sqlite3


def traced_statements(conn: sqlite3.Connection) -> list[str]:
    """The statements run on ``conn`` from now on, a list that grows. sqlite3 traces each
    statement a trigger runs with the text of the statement that fired it, so a repeat of
    the text before is the same statement (``BEGIN`` and ``COMMIT`` are never repeats)."""
    seen: list[str] = []

    def record(sql: str) -> None:
        if not seen or sql != seen[-1] or sql.startswith(("BEGIN", "COMMIT")):
            seen.append(sql)

    conn.set_trace_callback(record)
    return seen
