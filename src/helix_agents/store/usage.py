"""Usage records (``__agents_usage``) and rollups over a session and its sub-sessions.

Each record is written by one step under a deterministic ``record_id`` (the step's name), so
recording again after a crash is a no-op. Rollups sum in SQL; with sub-sessions they follow
``__agents_sub_session_refs`` recursively (``UNION`` also guards against a cycle).
"""

from __future__ import annotations

from ..ports.database import Param, Row, Statement
from ..usage import Usage, UsageRecord, UsageRollup
from ._base import StoreBase
from ._codec import check_row, dump_json, load_json

__all__ = ["UsageOps", "usage_record_from_row"]

_COLUMNS = (
    "record_id",
    "session_id",
    "run_id",
    "kind",
    "model",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "requests",
    "tool_calls",
    "custom",
    "metadata",
    "created_at",
)
_COUNTERS = ("input_tokens", "output_tokens", "total_tokens", "requests", "tool_calls")


def _tree(include_sub_sessions: bool) -> str:
    if not include_sub_sessions:
        return "WITH tree(id) AS (SELECT ?) "
    return (
        "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT r.sub_session_id "
        "FROM __agents_sub_session_refs r JOIN tree t ON r.session_id = t.id) "
    )


def usage_record_from_row(row: Row) -> UsageRecord:
    return UsageRecord(
        record_id=row["record_id"],
        session_id=row["session_id"],
        run_id=row["run_id"],
        kind=row["kind"],
        model=row["model"],
        usage=Usage(
            **{name: int(row[name] or 0) for name in _COUNTERS},
            custom=load_json(row["custom"], {}),
        ),
        created_at=int(row["created_at"]),
        metadata=load_json(row["metadata"]),
    )


class UsageOps(StoreBase):
    async def record_usage(self, record: UsageRecord) -> bool:
        """Store a usage record; False when ``record_id`` was already recorded."""
        statement = self._usage_statement(record)
        rows = await self.db.query(statement.sql, statement.params)
        return bool(rows)

    def _usage_statement(self, record: UsageRecord) -> Statement:
        """The idempotent INSERT of a usage record."""
        return Statement(
            f"INSERT OR IGNORE INTO __agents_usage ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)}) RETURNING record_id",
            list(self._usage_row(record).values()),
        )

    def _usage_row(self, record: UsageRecord) -> dict[str, Param]:
        """A usage record as its ``__agents_usage`` row (column: value, in column order),
        size-checked."""
        what = f"usage record {record.record_id!r}"
        usage = record.usage
        row: dict[str, Param] = {
            "record_id": record.record_id,
            "session_id": record.session_id,
            "run_id": record.run_id,
            "kind": record.kind,
            "model": record.model,
            **{name: getattr(usage, name) for name in _COUNTERS},
            "custom": dump_json(usage.custom, f"custom usage of {what}") if usage.custom else None,
            "metadata": None
            if record.metadata is None
            else dump_json(record.metadata, f"metadata of {what}"),
            "created_at": record.created_at or self.clock(),
        }
        check_row(row.values(), what)
        return row

    async def usage_records(
        self, session_id: str, *, run_id: str | None = None
    ) -> list[UsageRecord]:
        sql = "SELECT * FROM __agents_usage WHERE session_id = ?"
        params: list[Param] = [session_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        rows = await self.db.query(sql + " ORDER BY created_at, rowid", params)
        return [usage_record_from_row(row) for row in rows]

    async def run_usage(self, run_id: str) -> Usage:
        """What one run (one instance) cost."""
        sums = ", ".join(f"COALESCE(SUM({name}), 0) AS {name}" for name in _COUNTERS)
        results = await self.db.batch(
            [
                Statement(f"SELECT {sums} FROM __agents_usage WHERE run_id = ?", [run_id]),
                Statement(
                    "SELECT j.key AS name, SUM(j.value) AS amount FROM __agents_usage u, "
                    "json_each(u.custom) j WHERE u.run_id = ? AND u.custom IS NOT NULL "
                    "GROUP BY j.key",
                    [run_id],
                ),
            ]
        )
        row = results[0][0]
        return Usage(
            **{name: int(row[name] or 0) for name in _COUNTERS},
            custom={r["name"]: r["amount"] for r in results[1]},
        )

    async def usage_rollup(
        self, session_id: str, *, include_sub_sessions: bool = False
    ) -> UsageRollup:
        """A session's usage; with ``include_sub_sessions``, its descendants' too, and the
        share of each session in ``by_session`` (sessions without usage count as zero)."""
        tree = _tree(include_sub_sessions)
        sums = ", ".join(f"COALESCE(SUM(u.{name}), 0) AS {name}" for name in _COUNTERS)
        results = await self.db.batch(
            [
                Statement(
                    f"{tree}SELECT t.id AS session_id, {sums} FROM tree t "
                    "LEFT JOIN __agents_usage u ON u.session_id = t.id GROUP BY t.id",
                    [session_id],
                ),
                Statement(
                    f"{tree}SELECT u.session_id, j.key AS name, SUM(j.value) AS amount "
                    "FROM tree t JOIN __agents_usage u ON u.session_id = t.id, "
                    "json_each(u.custom) j WHERE u.custom IS NOT NULL "
                    "GROUP BY u.session_id, j.key",
                    [session_id],
                ),
            ]
        )
        custom: dict[str, dict[str, float]] = {}
        for row in results[1]:
            custom.setdefault(row["session_id"], {})[row["name"]] = row["amount"]
        by_session = {
            row["session_id"]: Usage(
                **{name: int(row[name] or 0) for name in _COUNTERS},
                custom=custom.get(row["session_id"], {}),
            )
            for row in results[0]
        }
        total = Usage()
        for usage in by_session.values():
            total = total + usage
        return UsageRollup(session_id=session_id, usage=total, by_session=by_session)
