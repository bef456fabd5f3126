"""Data directories of earlier versions: their engine and stream files joined to state.db.

Until December 2026 the local host kept three SQLite files: ``state.db`` (the store),
``engine.db`` (the engine's journal) and ``streams.db`` (the stream log). It now keeps all
three in ``state.db``, so that a step's writes commit once (docs/engine.md, "One file").
A data directory of an earlier version still holds the other two, maybe with runs in
flight: :func:`join_split_files` copies their rows into ``state.db`` (whose tables the
host has just created) and renames each file to ``<name>.joined``, so the host resumes
those runs and serves those streams as if nothing had changed. It runs once per file:
after the rename there is nothing left to join.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ...db.sqlite import storage_failure
from ...errors import DatabaseError

__all__ = ["SPLIT_FILES", "join_split_files"]

_log = logging.getLogger(__name__)

#: The files of earlier versions and the tables each held (engine_meta stays behind: the
#: journal writes its own).
SPLIT_FILES: dict[str, tuple[str, ...]] = {
    "engine.db": ("engine_instances", "engine_steps", "engine_events"),
    "streams.db": ("__helix_streams", "__helix_stream_chunks"),
}


def join_split_files(data_dir: Path, state_file: Path) -> list[str]:
    """Copy the rows of an earlier version's ``engine.db`` and ``streams.db`` into
    ``state_file`` (one transaction per file) and rename each to ``<name>.joined``; the
    names of the files joined. Rows already in ``state_file`` are kept (``OR IGNORE``)."""
    joined: list[str] = []
    for name, tables in SPLIT_FILES.items():
        old = data_dir / name
        if not old.exists():
            continue
        conn = sqlite3.connect(state_file, isolation_level=None, timeout=10.0)
        try:
            conn.execute("ATTACH DATABASE ? AS old", (str(old),))
            present = {row[0] for row in conn.execute("SELECT name FROM old.sqlite_master")}
            conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                if table in present:
                    # By name: the tables here may have columns the old ones lack (a rowid).
                    columns = ", ".join(
                        row[1] for row in conn.execute(f"PRAGMA old.table_info({table})")
                    )
                    conn.execute(
                        f"INSERT OR IGNORE INTO main.{table} ({columns}) "
                        f"SELECT {columns} FROM old.{table}"
                    )
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE old")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise storage_failure(exc, name) or DatabaseError(
                f"cannot join {old} into {state_file.name}: {exc}"
            ) from exc
        finally:
            conn.close()
        for suffix in ("", "-wal", "-shm"):
            part = data_dir / f"{name}{suffix}"
            if part.exists():
                part.rename(data_dir / f"{name}{suffix}.joined")
        _log.warning("joined %s of an earlier version into %s", old, state_file.name)
        joined.append(name)
    return joined
