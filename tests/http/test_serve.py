"""``helix dev``: the real command in a subprocess, on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from helix_agents import AgentRegistry
from helix_agents.examples import example_registry
from helix_agents.http.serve import is_loopback, serve

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dev:
    def __init__(self, data: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            k: v for k, v in os.environ.items() if k not in ("HELIX_API_TOKEN", "OPENAI_API_KEY")
        }
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "helix_agents.cli",
                "dev",
                "--port",
                str(self.port),
                "--data-dir",
                str(data),
                *args,
            ],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a test run started in the background of a script inherits
            # SIGINT ignored, and helix dev would then treat our Ctrl-C as a plain stop.
            preexec_fn=_interruptible,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"helix dev exited: {self.proc.communicate()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("helix dev did not start")

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[list[Dev]]:
    started: list[Dev] = []
    yield started
    for item in started:
        if item.proc.poll() is None:
            item.proc.kill()
            item.proc.communicate()


def test_helix_dev_serves_the_api_and_the_page(tmp_path: Path, dev: list[Dev]) -> None:
    server = Dev(tmp_path / "data")
    dev.append(server)
    server.wait_ready()
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" in page.text
    assert "src=" not in page.text
    agents = httpx.get(f"{server.url}/agents").json()["agents"]
    assert [a["name"] for a in agents] == ["assistant", "docs", "manager", "ops", "planner"]
    with httpx.stream(
        "POST",
        f"{server.url}/chat",
        json={"agentType": "assistant", "message": "weather in Paris?"},
        timeout=30,
    ) as res:
        assert res.status_code == 200
        session = res.headers["x-helix-session-id"]
        body = res.read().decode()
    assert body.endswith("data: [DONE]\n\n")
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    assert any(e["type"] == "tool-output-available" for e in events)
    code, err = server.stop()
    # Ctrl-C: a graceful shutdown (the host is closed), then the usual exit status 130.
    assert code == 130, err
    assert "Application shutdown complete" in err
    # The data outlives the server: a new one on the same directory has the session.
    again = Dev(tmp_path / "data")
    dev.append(again)
    again.wait_ready()
    snap = httpx.get(f"{again.url}/chat/{session}").json()
    assert snap["status"] == "completed"
    assert [m["role"] for m in snap["messages"]] == ["user", "assistant"]
    # A second server on the same data directory refuses to start, clearly.
    third = Dev(tmp_path / "data")
    dev.append(third)
    _, err = third.proc.communicate(timeout=60)
    assert third.proc.returncode == 1
    assert "in use by a running host" in err
    assert again.stop()[0] == 130


def test_helix_dev_with_a_token(tmp_path: Path, dev: list[Dev]) -> None:
    server = Dev(tmp_path / "data", env={"HELIX_API_TOKEN": "tok"})
    dev.append(server)
    server.wait_ready()
    assert httpx.get(f"{server.url}/agents").status_code == 401
    assert (
        httpx.get(f"{server.url}/agents", headers={"Authorization": "Bearer tok"}).status_code
        == 200
    )
    code, err = server.stop()
    assert code == 130
    assert "auth: bearer token" in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_refuses_to_listen_beyond_loopback_without_a_token(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HELIX_API_TOKEN", raising=False)
    code = serve(example_registry(), host=host, port=free_port(), data_dir=tmp_path)
    assert code == 2
    assert "refusing to listen" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was started


def test_loopback_addresses() -> None:
    for host in ["127.0.0.1", "127.9.9.9", "localhost", "::1", "[::1]", "LOCALHOST"]:
        assert is_loopback(host), host
    for host in ["0.0.0.0", "::", "10.0.0.1", "example.com", ""]:
        assert not is_loopback(host), host


# -- what keeps other pages and half-open connections out (http/guard.py, serve.py) -----------


def test_a_deleted_lock_file_does_not_let_a_second_host_in(tmp_path: Path, dev: list[Dev]) -> None:
    """The lock is on the data directory itself: removing ``host.lock`` frees nothing."""
    data = tmp_path / "data"
    server = Dev(data)
    dev.append(server)
    server.wait_ready()
    assert (data / "host.lock").read_text() == str(server.proc.pid)
    (data / "host.lock").unlink()
    second = Dev(data)
    dev.append(second)
    _, err = second.proc.communicate(timeout=60)
    assert second.proc.returncode == 1, err
    assert "in use by a running host" in err
    assert server.stop()[0] == 130
    # Once it stopped, the directory is free again.
    third = Dev(data)
    dev.append(third)
    third.wait_ready()
    assert third.stop()[0] == 130


def raw_request(port: int, data: bytes, *, timeout: float = 30.0) -> tuple[bytes, float]:
    """Send ``data`` on a new connection and read until the server closes it: what it
    sent, and the seconds it took to close."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, time.monotonic() - started


def test_helix_dev_answers_only_its_own_host_names(tmp_path: Path, dev: list[Dev]) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends
    ``Host: evil.example:<port>``; it is refused before the app sees it."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    server = Dev(tmp_path / "data", env={"HELIX_ALLOWED_HOSTS": "dev.internal"})
    dev.append(server)
    server.wait_ready()
    port = server.port
    for host in (
        f"evil.example:{port}",
        "evil.example",
        f"127.0.0.1:{port + 1}",
        f"localhost.evil:{port}",
    ):
        res = httpx.get(f"{server.url}/agents", headers={"host": host})
        assert res.status_code == 421, (host, res.text)
        error = res.json()["error"]
        assert error["code"] == "misdirected_request"
        assert repr(host) in error["message"]
        assert "HELIX_ALLOWED_HOSTS" in error["message"]
    body = {"agentType": "assistant", "message": "hi", "sessionId": "rebound"}
    res = httpx.post(f"{server.url}/chat", json=body, headers={"host": f"evil.example:{port}"})
    assert res.status_code == 421
    assert httpx.get(f"{server.url}/chat/rebound").status_code == 404  # nothing started
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", "dev.internal"):
        assert httpx.get(f"{server.url}/agents", headers={"host": host}).status_code == 200, host
    # The name in the URL, the connection to 127.0.0.1: what a rebound page's socket does.
    sock = socket.create_connection(("127.0.0.1", port))
    with connect(f"ws://evil.example:{port}/chat/x/ws", sock=sock) as ws:
        frame = json.loads(ws.recv())
        with pytest.raises(ConnectionClosed):
            ws.recv()
    assert frame["error"]["code"] == "misdirected_request"
    assert ws.close_code == 4421
    assert server.stop()[0] == 130


def test_tokens_stay_out_of_the_access_log(tmp_path: Path, dev: list[Dev]) -> None:
    """``?access_token=`` (EventSource, browser WebSockets) is redacted from what uvicorn
    logs of each request; and a connection that never completes its request is closed
    (with a 408) within the header timeout."""
    from websockets.sync.client import connect

    from helix_agents.http.serve import HEADER_TIMEOUT

    secret = "s3cret-t0ken-4f9a"
    server = Dev(tmp_path / "data", env={"HELIX_API_TOKEN": secret})
    dev.append(server)
    server.wait_ready()
    # A half-open request: its head never ends.
    half_open = socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + 20)
    half_open.sendall(b"GET /agents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    opened = time.monotonic()
    assert httpx.get(f"{server.url}/agents?access_token={secret}").status_code == 200
    assert httpx.get(f"{server.url}/chat/nope?access_token={secret}").status_code == 404
    with connect(f"ws://127.0.0.1:{server.port}/chat/nope/ws?access_token={secret}") as ws:
        assert json.loads(ws.recv())["error"]["code"] == "session_not_found"
    received = b""
    while chunk := half_open.recv(65536):
        received += chunk
    took = time.monotonic() - opened
    half_open.close()
    assert received.startswith(b"HTTP/1.1 408 "), received
    assert b"request_timeout" in received
    assert HEADER_TIMEOUT - 1 < took < HEADER_TIMEOUT + 5, took
    server.proc.send_signal(signal.SIGINT)
    out, err = server.proc.communicate(timeout=30)
    assert server.proc.returncode == 130, err
    logged = out + err  # uvicorn's access log goes to stdout, the rest to stderr
    assert secret not in logged
    assert '"GET /agents?access_token=[redacted] HTTP/1.1" 200' in out
    assert '"GET /chat/nope?access_token=[redacted] HTTP/1.1" 404' in out
    assert '"WebSocket /chat/nope/ws?access_token=[redacted]" [accepted]' in err


@pytest.fixture
async def timed_server(tmp_path: Path) -> AsyncIterator[int]:
    """The API under ``server_config`` with short read timeouts (0.5 s for the head, 1 s
    for the body), on a free port of 127.0.0.1 in this loop; its port."""
    import asyncio
    import contextlib

    import uvicorn

    from helix_agents.hosts.local.host import LocalHost
    from helix_agents.http import create_app
    from helix_agents.http.serve import server_config

    from .agents import echo, talker

    host = await LocalHost(AgentRegistry([echo(), talker(delay=0.1)]), tmp_path / "h").start()
    config = server_config(
        create_app(host, environ={}),
        port=0,
        log_level="warning",
        lifespan="off",
        header_timeout=0.5,
        body_timeout=1.0,
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.ensure_future(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await host.close()


async def test_half_open_requests_are_closed_within_the_timeouts(timed_server: int) -> None:
    import asyncio

    port = timed_server

    def check() -> None:
        # Nothing sent, a head that never ends, a body that never ends.
        for data, what in [
            (b"", "head"),
            (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", "head"),
            (
                b"POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"message": ',
                "body",
            ),
        ]:
            received, took = raw_request(port, data)
            limit = 0.5 if what == "head" else 1.0
            assert took < limit + 1.5, (data, took)
            assert received.startswith(b"HTTP/1.1 408 "), (data, received)
            assert f"request's {what} did not arrive".encode() in received
        # A kept-alive connection whose next request stalls.
        first = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        received, took = raw_request(port, first + b"GET /health HTTP/1.1\r\n")
        assert received.count(b"HTTP/1.1 200 ") == 1
        assert b"HTTP/1.1 408 " in received
        assert took < 2.5
        # Many at once: each is closed, none is left holding the server.
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\n")
        deadline = time.monotonic() + 5
        for sock in socks:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            while sock.recv(65536):
                pass
            sock.close()
        assert time.monotonic() < deadline
        # A slow stream (about 1.5 s of words) is not a slow request: it is never cut.
        body = json.dumps({"agentType": "talker", "message": "hi"}).encode()
        head = (
            b"POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        received, took = raw_request(port, head + body)
        assert received.startswith(b"HTTP/1.1 200 "), received[:200]
        assert received.endswith(b"data: [DONE]\r\n\r\n") or b"data: [DONE]" in received
        assert took > 1.0

    await asyncio.to_thread(check)
