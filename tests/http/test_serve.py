"""``helix dev``: the real command in a subprocess, on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
    assert [a["name"] for a in agents] == ["assistant", "manager", "ops", "planner"]
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
