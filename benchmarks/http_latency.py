"""Chunk-to-client latency of the HTTP API on the local host, for SSE and WebSocket readers.

    python -m benchmarks.http_latency [--count 500] [--interval 0.01] [--readers 1,50]

``helix dev`` runs in its own process. A model emits ``count`` text deltas, one every
``interval`` seconds, each stamped with the moment it was produced; ``readers`` clients of
the run (SSE: the POST itself plus ``GET /chat/{id}/stream`` readers; WebSocket:
``/chat/{id}/ws``) note when each delta reaches them. The figure is that difference: the
stream writer's batching (the local host flushes within 20 ms while someone reads), the
chunk log, the UI encoding and the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import connect

from ._http import SSEReader, dev_server, percentile


async def sse_run(host: str, port: int, session: str, spec: str, readers: int) -> list[float]:
    body = {"agentType": "ticker", "message": spec, "sessionId": session}
    first = asyncio.ensure_future(SSEReader().run(host, port, "POST", "/chat", body))
    await asyncio.sleep(0.2)  # the run waits 0.5 s before its first delta
    others = [
        SSEReader().run(host, port, "GET", f"/chat/{session}/stream?from=0")
        for _ in range(readers - 1)
    ]
    done = await asyncio.gather(first, *others)
    assert all(r.done for r in done), "a reader did not get [DONE]"
    return [lat for r in done for lat in r.latencies_ms]


async def ws_reader(url: str, clock: Callable[[], int] = time.monotonic_ns) -> list[float]:
    """The latency of every text delta a WebSocket reader of ``url`` gets; ``clock`` is
    the clock the deltas were stamped with."""
    latencies: list[float] = []
    async with connect(url, max_size=None) as ws:
        async for text in ws:
            now = clock()
            frame = json.loads(text)
            chunk: dict[str, Any] = frame.get("chunk", {})
            if chunk.get("type") == "text-delta":
                latencies.append((now - int(chunk["delta"].split()[0])) / 1e6)
            if frame.get("done"):
                break
    return latencies


async def ws_run(host: str, port: int, session: str, spec: str, readers: int) -> list[float]:
    body = {"agentType": "ticker", "message": spec, "sessionId": session}
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
        # The POST's reader left at once; the run goes on and the sockets follow it.
        url = f"ws://{host}:{port}/chat/{session}/ws?from=0"
        results = await asyncio.gather(*(ws_reader(url) for _ in range(readers)))
    return [lat for r in results for lat in r]


async def measure(count: int, interval: float, reader_counts: list[int]) -> list[str]:
    spec = f"count={count} interval={interval} delay=0.5"
    lines = []
    with dev_server() as (host, port, _pid):
        await sse_run(host, port, "warmup", "count=20 interval=0.001", 1)
        for transport, run in (("SSE", sse_run), ("WebSocket", ws_run)):
            for readers in reader_counts:
                session = f"bench-{transport.lower()}-{readers}"
                lat = await run(host, port, session, spec, readers)
                lines.append(
                    f"{transport:<9} readers={readers:<4} deltas={len(lat):<6} "
                    f"p50={percentile(lat, 0.5):6.1f} ms  p99={percentile(lat, 0.99):6.1f} ms  "
                    f"max={max(lat):6.1f} ms"
                )
                print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--readers", default="1,50")
    args = parser.parse_args()
    counts = [int(x) for x in args.readers.split(",")]
    asyncio.run(measure(args.count, args.interval, counts))


if __name__ == "__main__":
    main()
