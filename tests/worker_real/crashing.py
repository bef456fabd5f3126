"""Crashing the real Worker: the pieces of ``test_crash_real.py``.

- :class:`Recorder`: the side effects of the crash agents' tools (``crash_agents.py``),
  recorded outside the Worker: a small HTTP server on 127.0.0.1 (a daemon thread) that
  the Worker's tools POST to, keyed by their call (``<session>/<call id>``).
- :class:`CrashingWorker`: one Worker on one persisted state folder, SIGKILLed as a whole
  process group and started again on the same state; after each start it wakes the
  instances the kill interrupted through the local explorer API (production's engine
  resumes them by itself; the local one leaves them ``running`` until paused and resumed)
  and fires the cron trigger (what production's cron does every few minutes: it launches a
  run whose start a kill cut before its instance existed, and resumes a decided suspension
  whose resume a kill cut).
- :class:`SseReader`: a client of ``GET /chat/{id}/stream`` that comes back with
  ``Last-Event-ID`` after every break, building the assistant message as ``useChat`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
import urllib.error
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from helix_agents.workerd import LocalWorker
from helix_agents.workerd.launch import local_worker
from helix_agents.workerd.site import WORKFLOW_NAME
from tests.http.harness import sse_blocks
from tests.support.ui_message import UIMessageAssembler
from tests.worker_real.app import CONFIG_VAR, RELAY_VAR
from tests.worker_real.harness import APP

__all__ = ["CrashingWorker", "Recorder", "SseReader", "d1_database"]

#: The slot under the recorder's URL that the Worker's tools post to.
SLOT = "crash"
#: The statuses of an instance that ended.
ENDED = ("complete", "errored", "terminated")
#: What a break of the Worker looks like to a client.
BROKEN = (httpx.TransportError, ConnectionError, OSError)


class Recorder:
    """``POST /crash/effect`` ``{"key", "label"}``: one execution of a tool call; answers
    ``{"n": executions of that key so far}``. :attr:`executions` by key, in order."""

    def __init__(self) -> None:
        self.executions: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
                if self.path != f"/{SLOT}/effect":
                    return self._reply(404, {"error": self.path})
                with recorder._lock:
                    runs = recorder.executions.setdefault(str(body["key"]), [])
                    runs.append(str(body["label"]))
                    n = len(runs)
                self._reply(200, {"n": n})

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                with contextlib.suppress(OSError):  # the Worker may be gone (killed)
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{SLOT}"

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return {key: list(runs) for key, runs in self.executions.items()}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class CrashingWorker:
    """A Worker serving ``agents`` at its root, killed and restarted on the same state."""

    state_dir: Path
    recorder: Recorder
    agents: list[str]
    worker: LocalWorker = field(init=False)
    up: asyncio.Event = field(default_factory=asyncio.Event)
    kills: int = 0
    starts: list[float] = field(default_factory=list)  # seconds to answer, per start
    woken: int = 0  # instances woken through the explorer API
    restarted: int = 0  # of which queued ones started over

    def __post_init__(self) -> None:
        config = json.dumps({"agents": self.agents, "http": {}}, sort_keys=True)
        self.worker = local_worker(
            app=APP,
            state_dir=self.state_dir,
            environ={},
            extra_vars={RELAY_VAR: self.recorder.base, CONFIG_VAR: config, "HELIX_AUTH": "none"},
            open_without_token=False,
        )

    @property
    def url(self) -> str:
        return self.worker.url

    async def start(self, *, wake: bool = True) -> None:
        """Start on the persisted state; wake what the last kill interrupted; fire the cron."""
        started = time.monotonic()
        await asyncio.to_thread(self.worker.start)
        try:
            await asyncio.to_thread(self.worker.wait_ready)
        except Exception:
            self.worker.kill()
            raise
        self.starts.append(time.monotonic() - started)
        if wake:
            await self.wake()
            await self.cron()
        self.up.set()

    async def kill(self) -> None:
        """SIGKILL the whole process group (wrangler, miniflare, workerd)."""
        self.up.clear()
        await asyncio.to_thread(self.worker.kill)
        self.kills += 1

    async def stop(self) -> None:
        self.up.clear()
        await asyncio.to_thread(self.worker.stop)

    async def wake(self) -> list[str]:
        """Wake every instance the engine reports ``running`` or ``queued``: after a
        restart, none of them runs (the local engine resumes none by itself). A ``running``
        one is paused, then resumed (it replays its completed steps from the journal); a
        ``queued`` one that a kill cut before its first step does not pause: it is started
        over (``restart``; it has no step to lose)."""
        found = await asyncio.to_thread(self.instances)
        woken: list[str] = []
        for instance in found:
            status = instance.get("status")
            if status == "running":
                await asyncio.to_thread(self.set_status, instance["id"], "pause")
                # One that an alarm woke runs for real: it may end before the pause lands.
                now = await self.until(instance["id"], "paused", *ENDED)
                if now != "paused":
                    continue
                await asyncio.to_thread(self.set_status, instance["id"], "resume")
            elif status == "queued":
                await asyncio.to_thread(self.set_status, instance["id"], "restart")
                self.restarted += 1
            else:
                continue
            woken.append(instance["id"])
        self.woken += len(woken)
        return woken

    def instances(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.worker.explorer(
                "GET", f"workflows/{WORKFLOW_NAME}/instances?page={page}&per_page=100"
            )
            found += answer["result"]
            if page >= int(answer["result_info"]["total_pages"]):
                return found
            page += 1

    def set_status(self, instance: str, status: str) -> None:
        path = f"workflows/{WORKFLOW_NAME}/instances/{instance}/status"
        self.worker.explorer("PATCH", path, {"status": status})

    async def until(self, instance: str, *statuses: str, timeout: float = 60.0) -> str:
        """Wait until the instance has one of ``statuses``; which one."""
        deadline = time.monotonic() + timeout
        path = f"workflows/{WORKFLOW_NAME}/instances/{instance}"
        while True:
            try:
                answer = await asyncio.to_thread(self.worker.explorer, "GET", path)
            except urllib.error.HTTPError:
                answer = {}
            status = (answer.get("result") or {}).get("status")
            if status in statuses:
                return str(status)
            if time.monotonic() > deadline:
                raise TimeoutError(f"instance {instance} is not {statuses}: {answer}")
            await asyncio.sleep(0.05)

    async def cron(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            res = await client.get("/cdn-cgi/local/scheduled", params={"cron": "*/5 * * * *"})
        res.raise_for_status()


def d1_database(state_dir: Path) -> sqlite3.Connection:
    """The Worker's local D1 (read it once the Worker is stopped)."""
    [path] = [
        p for p in (state_dir / "persist").glob("v3/d1/*/*.sqlite") if p.name != "metadata.sqlite"
    ]
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return db


class StreamBroke(Exception):
    """An SSE response ended without ``[DONE]``."""


@dataclass
class SseReader:
    """One reader of a session's turn: every response it reads is applied to one message;
    after a break it asks again with ``Last-Event-ID`` (:attr:`cursor`)."""

    session: str
    message: UIMessageAssembler = field(default_factory=UIMessageAssembler)
    cursor: int | None = None
    responses: int = 0
    reattached: int = 0  # responses that began after a break

    async def consume(self, res: httpx.Response) -> None:
        """Apply one SSE response; :class:`StreamBroke` unless it ends with ``[DONE]``."""
        self.responses += 1
        async for item in sse_blocks(res):
            if isinstance(item, str):
                continue
            if item.data == "[DONE]":
                return
            self.message.apply(item.data)
            if item.id is not None:
                self.cursor = item.id
        raise StreamBroke(self.session)

    def decided(self, call_id: str, approval_id: str) -> None:
        """This client approved ``call_id``: its part holds the decision (what ``useChat``
        does locally)."""
        parts = (self.message.message or {}).get("parts", [])
        for part in parts:
            if part.get("toolCallId") == call_id:
                part.update(
                    state="approval-responded", approval={"id": approval_id, "approved": True}
                )

    def headers(self) -> dict[str, str]:
        return {} if self.cursor is None else {"last-event-id": str(self.cursor)}
