"""A small Chrome DevTools Protocol client over WebSockets: enough to drive a page.

Headless Chromium is started with a debugging port chosen by the browser (its
``DevToolsActivePort`` file says which), a throwaway profile, and no network of its own
(no component updates, no background requests): it only talks to the test's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class CDPError(Exception):
    pass


class Page:
    """One page target, driven over its DevTools WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            future = self.waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(CDPError(str(message["error"])))
                else:
                    future.set_result(message.get("result", {}))

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        call_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[call_id] = future
        await self.ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        return await asyncio.wait_for(future, 30)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until ``expression`` is truthy in the page; its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: Any = None
        while loop.time() < deadline:
            with contextlib.suppress(CDPError):  # the page may be mid-navigation
                last = await self.evaluate(expression)
                if last:
                    return last
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {expression!r} (last value {last!r})")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def reload(self) -> None:
        await self.send("Page.reload", {"ignoreCache": True})

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader


class Browser:
    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> Browser:
        self.proc = await asyncio.create_subprocess_exec(
            self.executable,
            *FLAGS,
            f"--user-data-dir={self.profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        marker = self.profile / "DevToolsActivePort"
        for _ in range(600):
            if marker.exists() and marker.read_text().count("\n") >= 1:
                self.port = int(marker.read_text().split("\n")[0])
                return self
            if self.proc.returncode is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            await asyncio.sleep(0.05)
        raise RuntimeError("chromium did not open its debugging port")

    async def page(self) -> Page:
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{self.port}/json/list")).json()
        target = next(t for t in targets if t["type"] == "page")
        ws = await connect(target["webSocketDebuggerUrl"], max_size=None)
        page = Page(ws)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        return page

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@contextlib.asynccontextmanager
async def chromium_page(profile: Path) -> AsyncIterator[Page]:
    """A page of a headless Chromium with its profile in ``profile``, closed on the way out
    (skips the test when Chromium is not installed)."""
    import pytest

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed: `make test` installs it (make install-chromium)")
    browser = await Browser(executable, profile).start()
    try:
        page = await browser.page()
        try:
            yield page
        finally:
            await page.close()
    finally:
        await browser.stop()
