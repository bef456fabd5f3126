"""Whether the local host's storage takes writes: one place that knows, logs and tells.

A full (or failing) disk makes SQLite writes fail with ``SQLITE_FULL`` / ``SQLITE_IOERR``,
which the drivers raise as :class:`~helix_agents.errors.StorageUnavailableError`. Whoever
meets one reports it here (the engine for the runs it pauses, the HTTP layer for requests
it refuses); whoever writes successfully afterwards says so. The monitor turns that into:

- **one log line per outage**: a warning at the first failure (what failed and why, and
  that runs are paused, not lost), an info line when writes have gone through again with
  no failure for ``quiet`` seconds. The failures in between are counted, not logged: a
  full disk fails every write of every run, and a flood of tracebacks would only fill the
  disk of the log as well.
- **a status** for ``GET /health``: ``None`` while storage is fine, else the reason, since
  when, and how many writes failed.

What counts as "writes go through again" is a paused run completing a step (all of the
step's writes made it), not any single write: SQLite may fit one small write into space it
already has while the next needs new space. The quiet period damps the rest. With no run
paused (the outage was met by a refused request only), ``probe`` decides instead, when the
status is asked for: :func:`file_probe` writes a little real data next to the databases.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ...errors import StorageUnavailableError

__all__ = ["StorageMonitor", "file_probe"]

_log = logging.getLogger("helix_agents.storage")


class StorageMonitor:
    """The storage health of one local host (see the module docstring)."""

    def __init__(
        self,
        *,
        quiet: float = 2.0,
        probe: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.quiet = quiet
        #: A small real write, tried when asked for the status of an outage that has been
        #: quiet for a while (an idle host has no run whose writes would tell).
        self.probe = probe
        self._clock = clock
        self._wall = wall
        self._down: StorageUnavailableError | None = None
        self._since_wall = 0.0
        self._since = 0.0
        self._last_failure = 0.0
        self._last_success = 0.0
        #: Failed writes in the current outage, and in the host's life.
        self.failures = 0
        self.total_failures = 0
        #: Instances stopped by the outage that have not completed a step since.
        self.paused: set[str] = set()

    @property
    def unavailable(self) -> bool:
        """True from the first failure until writes succeed with ``quiet`` seconds of peace."""
        return self._down is not None

    def failure(self, exc: StorageUnavailableError, what: str) -> None:
        """A write failed for lack of storage; ``what`` says whose (for the log)."""
        now = self._clock()
        self._last_failure = now
        self.failures += 1
        self.total_failures += 1
        if self._down is None:
            self._since, self._since_wall = now, self._wall()
            _log.warning(
                "%s (%s). Runs in flight are paused and retried until writes succeed again; "
                "nothing is lost. New turns are refused with 503 meanwhile.",
                exc,
                what,
            )
        self._down = exc

    def pause(self, instance_id: str, exc: StorageUnavailableError) -> None:
        """An instance stopped because a write failed (the engine replays it later)."""
        self.paused.add(instance_id)
        self.failure(exc, f"instance {instance_id!r} paused")

    def progressed(self, instance_id: str) -> None:
        """An instance completed a step: its writes go through. Ends the outage once no
        write failed for ``quiet`` seconds."""
        if self._down is None:
            return
        self.paused.discard(instance_id)
        self._last_success = self._clock()
        self._settle()

    def forget(self, instance_id: str) -> None:
        """The instance's task ended (finished, terminated, the engine closed)."""
        self.paused.discard(instance_id)

    def _settle(self) -> None:
        now = self._clock()
        if self._down is None or self._last_success <= self._last_failure:
            return
        if now - self._last_failure < self.quiet:
            return
        _log.warning(
            "storage available again after %.1f s (%d failed writes); paused runs carry on",
            now - self._since,
            self.failures,
        )
        self._down = None
        self.failures = 0

    def status(self) -> dict[str, Any] | None:
        """None while storage takes writes; else ``{reason, message, since, failures}``
        (``since`` in ms since the epoch)."""
        quiet = self._clock() - self._last_failure >= self.quiet
        if self._down is not None and self.probe is not None and quiet and not self.paused:
            try:
                self.probe()
            except StorageUnavailableError as exc:
                self.failure(exc, "a probe write")
            else:
                self._last_success = self._clock()
        self._settle()
        if self._down is None:
            return None
        return {
            "reason": self._down.reason,
            "message": f"storage unavailable: {self._down.reason}",
            "detail": str(self._down),
            "since": int(self._since_wall * 1000),
            "failures": self.failures,
        }


#: errno values that mean "the storage cannot take this write", not "this write is wrong".
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, getattr(errno, "EFBIG", errno.ENOSPC)}
)
_PROBE_BYTES = b"\0" * 65536


def file_probe(directory: str | os.PathLike[str]) -> None:
    """Write 64 KiB to a scratch file in ``directory`` and remove it: a full disk refuses
    (StorageUnavailableError). Other OS errors are raised as they are."""
    path = os.path.join(os.fspath(directory), ".storage-probe")
    try:
        with open(path, "wb") as f:
            f.write(_PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRNOS:
            raise
        reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "I/O error"
        raise StorageUnavailableError(
            f"storage unavailable: {reason} writing a probe file: {exc.strerror}", reason=reason
        ) from exc
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
