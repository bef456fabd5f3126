"""One local host per data directory.

Two hosts on one data directory would both resume the same unfinished instances and run
their steps twice, so the host takes an exclusive, non-blocking lock (``flock``) on the
data directory itself for as long as it runs. A file can be deleted while it is locked and
a second host would then lock a new file of the same name; the directory cannot vanish
while it holds the host's databases (and a new directory holds none of their instances).
The OS releases the lock when the process dies, even by SIGKILL, so a crashed host never
blocks its successor. ``host.lock`` in the directory only says which process holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ...errors import ConfigurationError

__all__ = ["DataDirLock"]


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        #: Informational: the pid of the host holding the lock.
        self.path = data_dir / "host.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = self.path.read_text(errors="replace").strip()[:64]
            except OSError:
                holder = ""
            raise ConfigurationError(
                f"the data directory {self.dir} is in use by a running host "
                f"(pid {holder or 'unknown'}); stop it or use another --data-dir"
            ) from None
        self._fd = fd
        with contextlib.suppress(OSError):
            self.path.write_text(str(os.getpid()))

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
