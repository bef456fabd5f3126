"""Start and stop the bridge worker: ``wrangler dev --local`` on a free loopback port.

Testing-only machinery: it spawns processes, so nothing here runs inside a Worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from ._binding import D1BridgeError

__all__ = ["OFFLINE_ENV", "D1BridgeServer"]

_HERE = Path(__file__).parent

#: What keeps wrangler (and miniflare inside it) off the network and out of prompts,
#: whatever wrangler the caller hands us. The repository's scripts/wrangler sets the same.
OFFLINE_ENV: Mapping[str, str] = {
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    "DO_NOT_TRACK": "1",
    "CI": "true",
    "WRANGLER_HIDE_BANNER": "true",
    "WRANGLER_NO_SKILLS_UPDATE_PROMPTS": "true",
    "WRANGLER_CI_DISABLE_CONFIG_WATCHING": "true",
    "NO_UPDATE_NOTIFIER": "1",
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
}

# A port we picked can be taken before wrangler binds it; only then is a retry worth it.
_PORT_RACE_MARKERS = ("EADDRINUSE", "address already in use", "Address already in use")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class D1BridgeServer:
    """The bridge worker (``worker.js``) served by ``wrangler dev --local`` with a real local D1.

    ``state_dir`` holds everything the server writes: a copy of the worker and its config
    (so that wrangler's scratch files never land in the package), the D1 data
    (``--persist-to``), wrangler's dev registry and logs, and ``wrangler-dev.log``, the
    process's output, kept for debugging. ``wrangler`` is the command that runs wrangler
    (for this repository, ``scripts/wrangler``, which brings its own Node 22).

    The process runs in its own process group, so :meth:`stop` ends it with workerd and
    every other child. :meth:`start` waits until the worker answers a query on its D1, and
    raises :class:`D1BridgeError` with the log's tail if it does not within the timeout.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        wrangler: Sequence[str] = ("wrangler",),
        host: str = "127.0.0.1",
        startup_timeout: float = 90.0,
        attempts: int = 3,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.log_path = self.state_dir / "wrangler-dev.log"
        self._wrangler = list(wrangler)
        if self._wrangler and os.sep in self._wrangler[0]:
            # The process runs in the worker's copy: a relative path must not move with it.
            self._wrangler[0] = os.path.abspath(self._wrangler[0])
        self._host = host
        self._startup_timeout = startup_timeout
        self._attempts = max(1, attempts)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise D1BridgeError("the D1 bridge is not running: call start() first")
        return self._url

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the bridge (if it is not running) and return its base URL."""
        if self.running:
            return self.url
        self.stop()
        config = self._prepare_worker()
        failure = ""
        for _ in range(self._attempts):
            url = self._spawn(config)
            failure = self._wait_ready(url)
            if not failure:
                self._url = url
                return url
            self.stop()
            if not any(marker in self.log_tail() for marker in _PORT_RACE_MARKERS):
                break
        raise D1BridgeError(
            f"the D1 bridge (wrangler dev) did not start: {failure}\n"
            f"command: {' '.join(self._wrangler)} dev ...\n"
            f"log: {self.log_path}\n--- last lines ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """End the process group (politely, then not); safe to call at any time."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                    # The leader is gone; its children (workerd) may not be yet.
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
                break
            if process.poll() is None:
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> D1BridgeServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare_worker(self) -> Path:
        worker_dir = self.state_dir / "worker"
        worker_dir.mkdir(parents=True, exist_ok=True)
        for name in ("worker.js", "wrangler.toml"):
            shutil.copyfile(_HERE / name, worker_dir / name)
        return worker_dir / "wrangler.toml"

    def _spawn(self, config: Path) -> str:
        port, inspector_port = _free_port(self._host), _free_port(self._host)
        env = {
            **os.environ,
            **OFFLINE_ENV,
            # Private registry: concurrent test sessions must not see each other's workers.
            "WRANGLER_REGISTRY_PATH": str(self.state_dir / "registry"),
            "WRANGLER_LOG_PATH": str(self.state_dir / "wrangler-logs"),
        }
        command = [
            *self._wrangler,
            "dev",
            "--config",
            str(config),
            "--local",
            "--ip",
            self._host,
            "--port",
            str(port),
            "--inspector-port",
            str(inspector_port),
            "--persist-to",
            str(self.state_dir / "d1"),
            "--show-interactive-dev-session=false",
            # Not "info": it logs every request, and the log would grow with the suite.
            "--log-level",
            "warn",
        ]
        self._log = self.log_path.open("ab")
        self._log.write(f"$ {' '.join(command)}\n".encode())
        self._log.flush()
        try:
            self._process = subprocess.Popen(
                command,
                cwd=config.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self._log.write(f"cannot run wrangler: {exc}\n".encode())
            self._log.flush()
        return f"http://{self._host}:{port}/"

    def _wait_ready(self, url: str) -> str:
        """Poll until the worker answers a D1 query; '' when ready, else why not."""
        if self._process is None:
            return "wrangler could not be run"
        deadline = time.monotonic() + self._startup_timeout
        transport = httpx.HTTPTransport(verify=False)
        with httpx.Client(transport=transport, trust_env=False, timeout=5.0) as client:
            while time.monotonic() < deadline:
                code = self._process.poll()
                if code is not None:
                    return f"wrangler exited with status {code}"
                try:
                    answer = client.post(url, json={"op": "ping"}).json()
                except (httpx.HTTPError, ValueError):
                    answer = None
                if isinstance(answer, dict) and answer.get("ok") is True:
                    return ""
                time.sleep(0.1)
        return f"no answer within {self._startup_timeout:g} s"
