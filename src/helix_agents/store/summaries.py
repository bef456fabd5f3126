"""The summaries ``summarize_older`` writes (``__helix_summaries``, migration 0005).

A row is the summary of a session's first ``covered`` messages. The summary step reads the
latest one that is still older than what it needs, and writes its own with its usage, in one
batch of INSERT OR IGNORE statements keyed by the step: a retry or a replay that runs the
body again writes and counts nothing twice. The history itself is never touched.
"""

from __future__ import annotations

from ..history import HistorySummary
from ..ports.database import Param, Statement
from ..usage import UsageRecord
from ._codec import check_row
from .usage import UsageOps

__all__ = ["SummaryOps"]


class SummaryOps(UsageOps):
    async def latest_summary(self, session_id: str, covered: int) -> HistorySummary | None:
        """The stored summary of ``session_id`` covering the most messages, at most
        ``covered``; None without one."""
        row = await self._one(
            "SELECT covered, text FROM __helix_summaries WHERE session_id = ? AND covered <= ? "
            "ORDER BY covered DESC LIMIT 1",
            [session_id, covered],
        )
        if row is None:
            return None
        return HistorySummary(text=row["text"], covered=int(row["covered"]))

    async def save_summary(
        self, session_id: str, summary: HistorySummary, usage: UsageRecord | None = None
    ) -> None:
        """Store ``summary`` and the usage of the call that made it, unless already stored
        (the first write wins: a replay sends what the journal holds, which is that one)."""
        row: list[Param] = [session_id, summary.covered, summary.text, self.clock()]
        check_row(row, f"summary of session {session_id!r}")
        statements = [
            Statement(
                "INSERT OR IGNORE INTO __helix_summaries (session_id, covered, text, created_at) "
                "VALUES (?, ?, ?, ?)",
                row,
            )
        ]
        if usage is not None:
            statements.append(self._usage_statement(usage))
        await self._batch(statements)
