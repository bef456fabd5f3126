"""One ``wrangler dev`` serving a Worker project folder on the real runtime, offline.

The process runs in its own process group, so :meth:`LocalWorker.kill` takes wrangler and
workerd down at once (a crash, for the tests), and :meth:`LocalWorker.stop` lets wrangler
shut down as it does on Ctrl-C. Everything that would reach the network is switched off:
telemetry, update checks, the download of ``Request.cf``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from ..errors import HelixError
from .runtime import PreparedRuntime

__all__ = ["LocalWorker", "WorkerStartError", "free_port", "wrangler_environ"]


class WorkerStartError(HelixError):
    """The local Worker did not come up; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrangler_environ(runtime: PreparedRuntime, home: Path) -> dict[str, str]:
    """The environment wrangler runs in: Node 22 first on PATH, our workerd wrapper, and
    every network-reaching feature off."""
    tmp = home / "tmp"
    cache = tmp / "update-check" / "wrangler-latest.json"
    if not cache.exists():
        # wrangler's update checks read this cache before asking the npm registry: an entry
        # that never expires and names no newer release keeps them from asking.
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text('{"latest": null, "lastUpdate": 8000000000000000}\n', encoding="utf-8")
    env = dict(os.environ)
    env.update(
        PATH=f"{runtime.tooling.node.parent}{os.pathsep}{env.get('PATH', '')}",
        MINIFLARE_WORKERD_PATH=str(runtime.wrapper),
        WRANGLER_SEND_METRICS="false",
        WRANGLER_SEND_ERROR_REPORTS="false",
        DO_NOT_TRACK="1",
        CI="true",
        WRANGLER_HIDE_BANNER="true",
        WRANGLER_NO_SKILLS_UPDATE_PROMPTS="true",
        NO_UPDATE_NOTIFIER="1",
        CLOUDFLARE_CF_FETCH_ENABLED="false",
        WRANGLER_LOG_PATH=str(home / "logs"),
        TMPDIR=str(tmp),
        FORCE_COLOR="0",
    )
    return env


class LocalWorker:
    """``wrangler dev --local`` on ``site``, persisting to ``persist``, on 127.0.0.1:``port``."""

    def __init__(
        self,
        runtime: PreparedRuntime,
        site: Path,
        persist: Path,
        *,
        port: int | None = None,
        ip: str = "127.0.0.1",
        log: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.site = site
        self.persist = persist
        self.port = port or free_port()
        self.ip = ip
        self.log_path = log or persist.parent / "wrangler.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.runtime.tooling.node),
            str(self.runtime.tooling.wrangler_js),
            "dev",
            "--local",
            "--ip", self.ip,
            "--port", str(self.port),
            "--inspector-port", str(free_port()),
            "--persist-to", str(self.persist),
            "--show-interactive-dev-session=false",
            "--log-level", "info",
        ]  # fmt: skip

    def start(self, *, foreground: bool = False) -> None:
        self.persist.mkdir(parents=True, exist_ok=True)
        env = wrangler_environ(self.runtime, self.persist.parent / "wrangler-home")
        out: Any = None
        if not foreground:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = out = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.site,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            # Always its own process group, even in the foreground: stop() and kill() reach
            # wrangler and workerd through it (helix worker forwards Ctrl-C by stop()).
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait until ``GET /health`` answers 200 (the first request starts Pyodide); the
        seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise WorkerStartError(
                    f"wrangler exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=30) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.2)
        raise WorkerStartError(
            f"the Worker did not answer within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(wrangler's output is above)" if self._log is None else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the whole process group (wrangler, miniflare and workerd): a crash."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        self._close_log()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask wrangler to shut down (as Ctrl-C does); kill the group if it does not."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- the local explorer API (what production's engine does by itself) ----------------------

    def explorer(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/cdn-cgi/local/explorer/api/{path.lstrip('/')}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None
