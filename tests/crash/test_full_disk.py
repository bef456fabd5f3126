"""A full disk under the local host, end to end over HTTP: runs pause, then finish by
themselves once there is room again, with nothing lost and no stored tool result redone.

Two ways to fill the disk, both real:

- ``tmpfs`` (root only, skipped otherwise): the data directory is a small tmpfs, filled
  with a ballast file until the kernel answers ENOSPC; deleting it gives the room back.
  Nothing is simulated: SQLite meets the full disk where it meets it (a COMMIT, a WAL
  append).
- ``page-cap`` (anywhere): the host's own SQLite connections are capped at the pages they
  have, and that space is taken by ballast (``tests.support.full_disk``, switched on in
  the host process by ``tests.crash.disk_host``). Writes fail with SQLite's own
  SQLITE_FULL, as on a full disk, without needing root to mount anything.

The host is a real process serving HTTP on a real socket; the test is its client.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.full_disk import fill_file, mount_tmpfs

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Disk:
    """Fills and frees the disk under the host, one way or the other."""

    def __init__(self, mode: str, data: Path, control: Path) -> None:
        self.mode, self.data, self.control = mode, data, control

    def fill(self) -> None:
        if self.mode == "tmpfs":
            fill_file(self.data / "ballast")
        else:
            (self.control / "fill").write_text("")
            _until(lambda: (self.control / "filled").exists(), 10, "the host never filled")

    def free(self) -> None:
        if self.mode == "tmpfs":
            (self.data / "ballast").unlink()
        else:
            (self.control / "fill").unlink()
            _until(lambda: not (self.control / "filled").exists(), 10, "the host never freed")


def _until(check: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(message)


@pytest.fixture(params=["page-cap", "tmpfs"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    control = tmp_path / "control"
    control.mkdir()
    data = tmp_path / "data"
    if request.param == "tmpfs":
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(mount_tmpfs(data, "16m"))
            except OSError as exc:  # a container without the right to mount, say
                pytest.skip(str(exc))
            yield Disk("tmpfs", data, control)
    else:
        yield Disk("page-cap", data, control)


class Host:
    def __init__(self, disk: Disk) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr = disk.control / "host.err"
        with open(self.stderr, "w") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.crash.disk_host",
                    str(disk.data / "host"),
                    str(self.port),
                    str(disk.control),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        _until(self._ready, 60, "the host did not start")

    def _ready(self) -> bool:
        assert self.proc.poll() is None, self.log()
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.stderr.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Reader(threading.Thread):
    """POST /chat and read its SSE stream to the end, as a browser would."""

    def __init__(self, url: str, session_id: str, message: str) -> None:
        super().__init__(daemon=True)
        self.url, self.session_id, self.message = url, session_id, message
        self.chunks: list[dict[str, Any]] = []
        self.status = 0
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        body = {"agentType": "worker", "message": self.message, "sessionId": self.session_id}
        try:
            with httpx.stream(
                "POST", f"{self.url}/chat", json=body, timeout=httpx.Timeout(120, connect=5)
            ) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        self.chunks.append(json.loads(line[6:]))
        except BaseException as exc:
            self.error = exc


def _effects(control: Path) -> list[str]:
    path = control / "effects.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_full_disk_pauses_runs_and_they_finish_by_themselves_once_there_is_room(
    disk: Disk,
) -> None:
    host = Host(disk)
    try:
        _scenario(host, disk)
    finally:
        host.stop()


def _scenario(host: Host, disk: Disk) -> None:
    url = host.url
    readers = [Reader(url, f"disk-{i}", "go") for i in range(2)]
    # Fill the disk while both runs are in flight (each has started its first tool).
    _until(lambda: len(_effects(disk.control)) >= 2, 30, "the runs did not start")
    disk.fill()

    # Said clearly while writes fail: /health, and a 503 for new turns (not a 500)...
    def unhealthy() -> bool:
        return httpx.get(f"{url}/health", timeout=5).status_code == 503

    _until(unhealthy, 20, "GET /health never reported the full disk")
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["status"] == "unavailable"
    assert health["storage"]["reason"] == "disk full"
    assert health["storage"]["message"] == "storage unavailable: disk full"
    big = "x" * 20_000  # needs room of its own: no page has that much to spare
    refused = httpx.post(
        f"{url}/chat", json={"agentType": "worker", "message": big, "sessionId": "new"}, timeout=10
    )
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "storage_unavailable"
    assert refused.json()["error"]["message"].startswith("storage unavailable: disk full")
    # ... and not a 409 for a session whose run is paused by the outage.
    busy = httpx.post(
        f"{url}/chat", json={"agentType": "worker", "message": big, "sessionId": "disk-0"}
    )
    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "storage_unavailable"
    # Either the turn's own write failed (it goes out after what the paused runs hold for
    # the file, which cannot be written either), or it found the session busy.
    message = busy.json()["error"]["message"]
    assert message.startswith("storage unavailable: disk full"), message
    assert "writing" in message or "paused until writes succeed again" in message
    time.sleep(2.0)  # several failed retries of the paused runs
    for reader in readers:
        assert reader.is_alive()  # waiting on the paused run, not ended with an error
        snapshot = httpx.get(f"{url}/chat/{reader.session_id}", timeout=5).json()
        assert snapshot.get("status") == "active", snapshot
    executed_while_full = len(_effects(disk.control))

    disk.free()
    for reader in readers:
        reader.join(timeout=60)
        assert not reader.is_alive(), f"{reader.session_id}: the stream never ended"
        assert reader.error is None
        assert reader.status == 200
        kinds = [c["type"] for c in reader.chunks]
        assert kinds[-1] == "finish", kinds[-5:]
        assert "error" not in kinds
        text = "".join(c.get("delta", "") for c in reader.chunks if c["type"] == "text-delta")
        assert "finished: l0#" in text

    effects = _effects(disk.control)
    assert len(effects) >= executed_while_full
    executions: dict[str, int] = {}
    for line in effects:
        key = line.split()[1]
        executions[key] = executions.get(key, 0) + 1
    for reader in readers:
        snapshot = httpx.get(f"{url}/chat/{reader.session_id}", timeout=5).json()
        assert snapshot["status"] == "completed"
        parts = [
            p
            for m in snapshot["messages"]
            if m["role"] == "assistant"
            for p in m["parts"]
            if p["type"] == "tool-record"
        ]
        assert [p["input"]["label"] for p in parts] == [f"l{i}" for i in range(5)]
        assert len({p["toolCallId"] for p in parts}) == 5
        for part in parts:
            assert part["state"] == "output-available"
            key = f"{reader.session_id}/{part['toolCallId']}"
            # The stored result names the execution that made it: the last one. No tool
            # ran again after its result was stored, whatever the disk did.
            assert part["output"] == f"{part['input']['label']}#{executions[key]}"

    # Room again: healthy, and the sessions take new turns.
    _until(lambda: not unhealthy(), 20, "GET /health stayed 503 after the disk was freed")
    again = Reader(url, "disk-0", "again")
    again.join(timeout=60)
    assert again.status == 200
    assert [c["type"] for c in again.chunks][-1] == "finish"

    host.stop()
    log = host.log()
    # One line when the outage began, one when it ended: no flood, no traceback.
    assert log.count("storage unavailable: disk full") == 1, log
    assert log.count("storage available again after") == 1, log
    assert "Traceback" not in log, log
