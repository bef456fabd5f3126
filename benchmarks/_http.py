"""Shared by the HTTP benchmarks: a ticking agent, ``helix dev`` in its own process, and a
lean SSE reader.

The server runs as a separate process (``helix dev --app benchmarks._http:registry``) so
that the readers' own work does not share its event loop. The agent's model emits one text
delta per tick, each carrying the moment it was produced (``time.monotonic_ns()``, the same
clock in every process of the machine), so a reader's latency is the time from a delta
leaving the model to the reader holding it: the stream writer's batching, the chunk log,
the HTTP encoding and the socket included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.testing import FunctionModel, call_tool

ROOT = Path(__file__).resolve().parents[1]
_SPEC = re.compile(r"(\w+)=([0-9.]+)")


def registry() -> AgentRegistry:
    """``ticker`` and ``steps`` (below). ``ticker``: says ``count`` timestamps, one every ``interval`` seconds, after waiting
    ``delay`` seconds (time for readers to attach). The user message sets all three, e.g.
    ``count=500 interval=0.01 delay=0.5``."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        spec = {k: float(v) for k, v in _SPEC.findall(info.last_user_message or "")}
        await asyncio.sleep(spec.get("delay", 0.0))
        interval = spec.get("interval", 0.01)
        for _ in range(int(spec.get("count", 100))):
            yield f"{time.monotonic_ns()} "
            await asyncio.sleep(interval)

    return AgentRegistry(
        [Agent(name="ticker", model=FunctionModel(stream_function=stream)), steps_agent()]
    )


@tool
def noop(i: int) -> int:
    """Return its argument."""
    return i


def steps_agent() -> Agent:
    """``steps``: the loop benchmark's workload, N agent steps of a no-op tool and then an
    answer, N from the user message (``steps=50``); O(1) per model call."""

    def decide(messages: list[Any], info: Any) -> Any:
        spec = {k: float(v) for k, v in _SPEC.findall(info.last_user_message or "")}
        done = (len(messages) - 1) // 2
        return call_tool("noop", i=done) if done < int(spec.get("steps", 10)) else "done"

    return Agent(name="steps", tools=[noop], model=FunctionModel(decide), max_steps=100_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dev_server() -> Iterator[tuple[str, int, int]]:
    """``helix dev`` serving the ticker on a free port: (host, port, pid)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if k != "HELIX_API_TOKEN"}
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "helix_agents.cli", "dev",
                "--app", "benchmarks._http:registry",
                "--port", str(port), "--data-dir", data,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("helix dev did not start") from None
                    time.sleep(0.05)
            yield "127.0.0.1", port, proc.pid
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def rss_mib(pid: int) -> float:
    """The resident memory of a process (Linux), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class SSEReader:
    """One SSE response over a raw socket (HTTP/1.1, chunked), with the receive time of
    every text delta's timestamp: far lighter than a full client, so that many readers in
    one process measure the server rather than themselves. ``clock`` is the clock the
    deltas were stamped with (the real Worker's models stamp with ``time.time_ns``)."""

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock = clock
        self.latencies_ms: list[float] = []
        self.events = 0
        self.done = False
        self.session: str | None = None

    async def run(
        self, host: str, port: int, method: str, path: str, body: dict[str, Any] | None = None
    ) -> SSEReader:
        reader, writer = await asyncio.open_connection(host, port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"{method} {path}: {status!r}")
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "x-helix-session-id":
                    self.session = value.strip()
            buffer = b""
            while not self.done:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    break
                buffer += (await reader.readexactly(size + 2))[:-2]  # the chunk's CRLF
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    self._event(event)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return self

    def _event(self, event: bytes) -> None:
        now = self.clock()
        for line in event.split(b"\n"):
            if not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                self.done = True
                return
            self.events += 1
            if b'"text-delta"' in line:
                stamp = json.loads(line[6:])["delta"].split(maxsplit=1)[:1]
                if stamp and stamp[0].isdigit():  # text other than stamps is not timed
                    self.latencies_ms.append((now - int(stamp[0])) / 1e6)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
