"""The chat page follows a run across a restart of ``helix dev``: the server process is
killed in the middle of an answer (SIGKILL: no goodbye on the stream), the page says it is
reconnecting and retries, a new process on the same port and data dir resumes the run, and
the page shows the whole answer, equal to the stored session, each word once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from .cdp import Page
from .slow_app import answer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
APP = str(Path(__file__).with_name("slow_app.py")) + ":registry"
ASSISTANT_TEXT = (
    "[...document.querySelectorAll('#messages .msg[data-role=assistant] .part-text')]"
    ".map(e => e.textContent).join('|')"
)
STATUS = "document.getElementById('status').dataset.status"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevProcess:
    """``helix dev`` in a subprocess of its own, on a fixed port and data dir."""

    def __init__(self, port: int, data: Path) -> None:
        self.port, self.data = port, data
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            k: v for k, v in os.environ.items() if k not in ("HELIX_API_TOKEN", "OPENAI_API_KEY")
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helix_agents.cli", "dev", "--app", APP,
            "--port", str(self.port), "--data-dir", str(self.data),
            cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if self.proc.returncode is not None:
                    raise AssertionError(f"helix dev exited with {self.proc.returncode}")
                try:
                    if (await client.get(f"{self.url}/health", timeout=1)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("helix dev did not start")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


async def test_the_page_follows_a_run_across_a_server_restart(tmp_path: Path, page: Page) -> None:
    dev = DevProcess(free_port(), tmp_path / "data")
    await dev.start()
    try:
        await page.goto(f"{dev.url}/")
        await page.wait_for("document.body.dataset.ready === 'true'")
        # A marker that a page reload would lose: the page itself must do the following.
        await page.evaluate("window.sameDocument = true")
        await page.evaluate(
            "document.getElementById('input').value = 'talk'; "
            "document.getElementById('send').click(); true"
        )
        await page.wait_for(f"{ASSISTANT_TEXT}.includes('w20 ')")
        await dev.kill()
        await page.wait_for(f"{STATUS} === 'reconnecting'", timeout=10)
        assert await page.evaluate("document.getElementById('status').textContent") == (
            "reconnecting…"
        )
        # Refused connections for a while: the page keeps retrying (backoff up to 4 s).
        await asyncio.sleep(2)
        assert await page.evaluate(STATUS) == "reconnecting"
        await dev.start()
        await page.wait_for(f"{STATUS} === 'completed'", timeout=60)
        assert await page.evaluate("window.sameDocument") is True
        shown = await page.evaluate(ASSISTANT_TEXT)
        session = await page.evaluate("location.hash.split('=')[1]")
        async with httpx.AsyncClient() as client:
            snapshot = (await client.get(f"{dev.url}/chat/{session}")).json()
        stored = "|".join(
            p["text"] for p in snapshot["messages"][-1]["parts"] if p["type"] == "text"
        )
        assert snapshot["status"] == "completed"
        assert shown == stored
        assert shown.replace("|", "") == answer()  # every word once, none repeated
        assert await page.evaluate("document.querySelectorAll('#messages .msg').length") == 2
    finally:
        await dev.kill()
