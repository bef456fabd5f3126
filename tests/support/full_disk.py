"""A SQLite connection made full for real, and a tmpfs that is, for the full-disk tests.

:func:`fill` makes a connection's database full the way a full disk does, without root:
it caps the file at the pages it has (``PRAGMA max_page_count``) and fills their free
space with a ballast table, so that every write needing room fails with SQLite's own
``SQLITE_FULL`` ("database or disk is full"). :func:`free` lifts the cap and drops the
ballast. The cap is per connection: it is the writer's connection that must be capped.

:func:`mount_tmpfs` gives a really small filesystem (root only; the tests skip without):
filling it with a ballast file is a full disk, nothing simulated.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["fill", "fill_file", "free", "mount_tmpfs"]

_NO_CAP = 1_073_741_823
_BALLAST = "_full_disk_ballast"


def fill(conn: sqlite3.Connection) -> None:
    """Make the connection's database full (SQLITE_FULL for anything that needs room)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {_BALLAST} (x BLOB)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    for size in (4096, 512, 64, 8, 1):
        while True:
            try:
                conn.execute(f"INSERT INTO {_BALLAST} VALUES (zeroblob(?))", (size,))
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc):
                    raise
                break


def free(conn: sqlite3.Connection) -> None:
    """Room again: the cap lifted, the ballast dropped."""
    conn.execute(f"PRAGMA max_page_count = {_NO_CAP}")
    conn.execute(f"DROP TABLE IF EXISTS {_BALLAST}")


@contextlib.contextmanager
def mount_tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the block. OSError if it cannot be
    mounted (not root, or a container without the right to mount)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"cannot mount a tmpfs at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill_file(path: Path) -> None:
    """Write zeros to ``path`` until the filesystem has no room left (ENOSPC)."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError:
                break
    # Finish off what a whole block did not fit in.
    with open(path, "ab", buffering=0) as f:
        for size in (4096, 512, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError:
                    break
    os.sync()
