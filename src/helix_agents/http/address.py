"""Where a running ``helix dev`` listens, for the ``helix`` commands on the same data dir.

The host holds a ``flock`` on its data directory (:mod:`helix_agents.hosts.local.lock`), so
a second process cannot open it. ``helix dev`` writes its URL into ``host.url`` there once it
listens; a command that finds the directory locked reads it and becomes an HTTP client of
that host instead of refusing. The file alone proves nothing (a killed host leaves it): only
a held lock says a host runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["URL_FILE", "publish", "running_host", "withdraw"]

URL_FILE = "host.url"


def publish(data_dir: Path, url: str) -> None:
    with contextlib.suppress(OSError):
        (data_dir / URL_FILE).write_text(url + "\n", encoding="utf-8")


def withdraw(data_dir: Path, url: str) -> None:
    """Remove the file if it still names ``url`` (a successor may have written its own)."""
    path = data_dir / URL_FILE
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8").strip() == url:
            path.unlink()


def running_host(data_dir: Path) -> str | None:
    """The URL of the ``helix dev`` holding ``data_dir``; None when no host holds it.

    Raises ConfigurationError when a host holds it that serves no HTTP (``helix run``)."""
    try:
        fd = os.open(data_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None  # no directory yet: nothing runs on it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
    finally:
        os.close(fd)
    try:
        url = (data_dir / URL_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        url = ""
    if not url.startswith(("http://", "https://")):
        try:
            pid = (data_dir / "host.lock").read_text(errors="replace").strip()[:64]
        except OSError:
            pid = ""
        raise ConfigurationError(
            f"the data directory {data_dir} is in use by another helix command "
            f"(pid {pid or 'unknown'}) that serves no HTTP API: wait for it to end, or use "
            "another --data-dir"
        )
    return url
