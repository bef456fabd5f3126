"""One local host per data directory.

Two hosts on one data directory would both resume the same unfinished instances and run
their steps twice, so the host takes an exclusive, non-blocking lock on a file in the data
directory for as long as it runs. The OS releases it when the process dies, even by SIGKILL,
so a crashed host never blocks its successor.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ...errors import ConfigurationError

__all__ = ["DataDirLock"]


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "host.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ConfigurationError(
                f"the data directory {self.path.parent} is in use by a running host "
                f"(pid {holder}); stop it or use another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
