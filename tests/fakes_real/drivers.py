"""One way to drive the probe Worker (:mod:`.probe`), over the real runtime or the fakes.

A scenario is an ``async`` function of a :class:`Driver` that returns what it observed (JSON).
:class:`RealDriver` reaches the probe Worker in local workerd over HTTP and WebSockets;
:class:`FakeDriver` runs the very same probe module in-process on
:class:`~helix_agents.testing.cloudflare.FakeCloudflare`. The tests run each scenario on both
and compare what :func:`normalize` leaves of the observations.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import json
import re
import time
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect

from helix_agents.testing.cloudflare import FakeCloudflare, FakeWebSocket
from helix_agents.testing.cloudflare.shim import install
from helix_agents.workerd import LocalWorker

from .real import WORKFLOW_NAME

__all__ = ["FINAL", "Driver", "FakeDriver", "RealDriver", "compare", "normalize"]

FINAL = ("complete", "errored", "terminated")
#: workerd evicts an idle Durable Object 10 s after its last event (hibernating its
#: WebSockets); a margin for a loaded machine.
HIBERNATION_IDLE = 14.0


class Socket(Protocol):
    async def send(self, text: str) -> None: ...
    async def recv(self) -> str: ...
    async def close(self, code: int, reason: str) -> None: ...


class Driver(Protocol):
    kind: str

    async def post(self, path: str, body: dict[str, Any]) -> Any: ...
    async def socket(self, path: str) -> Socket: ...
    async def hibernate(self) -> None: ...
    async def crash(self) -> None: ...
    async def wake(self, instance_id: str) -> None: ...
    async def fire_alarms(self) -> None: ...


# -- shared helpers for scenarios ----------------------------------------------------------------


async def create(driver: Driver, probe: str, **body: Any) -> Any:
    return await driver.post("/wf/create", {"probe": probe, **body})


async def status(driver: Driver, instance_id: str) -> Any:
    return await driver.post("/wf/status", {"id": instance_id})


async def settle(driver: Driver, instance_id: str, timeout: float = 30.0) -> Any:
    """The instance's status once it is complete, errored or terminated."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await status(driver, instance_id)
        if answer.get("ok", {}).get("status") in FINAL or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def run_probe(driver: Driver, probe: str, **body: Any) -> Any:
    created = await create(driver, probe, **body)
    return await settle(driver, created["ok"])


async def rpc(driver: Driver, name: str, method: str, *args: Any) -> Any:
    return await driver.post(f"/do/{name}/{method}", {"args": list(args)})


# -- the real runtime ----------------------------------------------------------------------------


class _RealSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self) -> str:
        message = await asyncio.wait_for(self.ws.recv(), 30)
        return message if isinstance(message, str) else message.decode()

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


class RealDriver:
    kind = "real"

    def __init__(self, worker: LocalWorker) -> None:
        self.worker = worker
        self.sockets: list[ClientConnection] = []

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with httpx.AsyncClient(base_url=self.worker.url, timeout=60) as client:
            res = await client.post(path, json=body)
        res.raise_for_status()
        return res.json()

    async def socket(self, path: str) -> Socket:
        url = self.worker.url.replace("http://", "ws://") + path
        ws = await connect(url, ping_interval=None)
        self.sockets.append(ws)
        return _RealSocket(ws)

    async def hibernate(self) -> None:
        await asyncio.sleep(HIBERNATION_IDLE)

    async def crash(self) -> None:
        """SIGKILL to wrangler and workerd, and a start over the same state."""
        await asyncio.to_thread(self._crash)

    def _crash(self) -> None:
        self.worker.kill()
        self.worker.start()
        self.worker.wait_ready()

    async def wake(self, instance_id: str) -> None:
        """What production's engine does by itself: the explorer pauses and resumes it."""
        path = f"workflows/{WORKFLOW_NAME}/instances/{instance_id}/status"
        await asyncio.to_thread(self.worker.explorer, "PATCH", path, {"status": "pause"})
        await asyncio.to_thread(self.worker.explorer, "PATCH", path, {"status": "resume"})

    async def fire_alarms(self) -> None:
        """Alarms fire on their own; this gives a due one time to run."""
        await asyncio.sleep(1.0)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()


# -- the fakes -----------------------------------------------------------------------------------


class _FakeSocket:
    def __init__(self, ws: FakeWebSocket) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        self.ws.send(text)

    async def recv(self) -> str:
        message = await self.ws.receive()
        assert isinstance(message, str), message
        return message

    async def close(self, code: int, reason: str) -> None:
        self.ws.close(code, reason)
        await self.ws.settled()


def probe_module() -> Any:
    """The probe module over the fake ``workers``, ``js`` and ``pyodide`` modules."""
    install()
    return importlib.import_module("tests.fakes_real.probe")


class FakeDriver:
    kind = "fake"

    def __init__(self) -> None:
        probe = probe_module()
        self.platform = FakeCloudflare(
            (probe.Default, probe.ProbeWorkflow, probe.ProbeObject), workflow_name=WORKFLOW_NAME
        )
        self.platform.env.PROBE_WORKFLOW = self.platform.workflows.binding
        self.platform.env.PROBE_OBJECT = self.platform.durable_objects

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.platform.fetch("POST", path, json=body)
        assert response.status == 200, await response.text()
        return await response.json()

    async def socket(self, path: str) -> Socket:
        return _FakeSocket(await self.platform.websocket(path))

    async def hibernate(self) -> None:
        await self.platform.durable_objects.evict()

    async def crash(self) -> None:
        await self.platform.workflows.crash()
        await self.platform.durable_objects.reset()

    async def wake(self, instance_id: str) -> None:
        self.platform.workflows.wake(instance_id)

    async def fire_alarms(self) -> None:
        await self.platform.durable_objects.run_alarms(time.time() * 1000)

    async def close(self) -> None:
        await self.platform.close()


# -- comparing -----------------------------------------------------------------------------------

_TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*")
_OFFSET = re.compile(r" at offset \d+")
_MODULE = re.compile(r"\b(?:entry|tests\.fakes_real\.probe)\.(\w+)")
_LOCAL_ONLY = frozenset({"__LOCAL_DEV_STEP_OUTPUTS"})


def _text(value: str) -> str:
    """A message without what depends on where the code runs: the frames of a traceback
    (file paths and line numbers differ; the exception lines stay), the probe's module
    name (``entry`` in the Worker), and SQLite's `` at offset N`` (Python's sqlite3 cannot
    report it)."""
    value = _TRACEBACK.sub("Traceback:\n", value)
    return _MODULE.sub(r"probe.\1", _OFFSET.sub("", value))


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k not in _LOCAL_ONLY}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        return _text(value)
    return value


def compare(real: Any, fake: Any) -> None:
    """Assert the observations match, with a unified diff of both when they do not."""
    real, fake = normalize(real), normalize(fake)
    if real == fake:
        return
    left = json.dumps(real, indent=1, sort_keys=True).splitlines()
    right = json.dumps(fake, indent=1, sort_keys=True).splitlines()
    diff = "\n".join(difflib.unified_diff(left, right, "real", "fake", lineterm=""))
    raise AssertionError(f"the fake differs from the real engine:\n{diff}")
