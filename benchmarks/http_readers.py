"""How many concurrent SSE readers one local host holds.

    python -m benchmarks.http_readers [--readers 100,1000,2000,3000,4000] [--count 100]

``helix dev`` runs in its own process; for each figure, that many clients follow one run
(``GET /chat/{id}/stream?from=0``) while its model emits ``count`` deltas, 20 a second.
Reported per figure: how many readers received the whole stream (every delta and
``[DONE]``), the latency of deltas to readers (p50, p99), and the server's resident memory
with every reader attached. "Holds" means every reader complete and p99 under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from ._http import SSEReader, dev_server, percentile, rss_mib


async def one(host: str, port: int, pid: int, readers: int, count: int) -> str:
    session = f"readers-{readers}"
    delay = 1.0 + readers / 400  # time for every reader to connect before the first delta
    body = {
        "agentType": "ticker",
        "message": f"count={count} interval=0.05 delay={delay}",
        "sessionId": session,
    }
    async with (
        httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60) as client,
        client.stream("POST", "/chat", json=body) as res,
    ):
        assert res.status_code == 200
    started = time.monotonic()
    tasks = [
        asyncio.ensure_future(SSEReader().run(host, port, "GET", f"/chat/{session}/stream?from=0"))
        for _ in range(readers)
    ]
    await asyncio.sleep(delay * 0.9)
    memory = rss_mib(pid)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - started
    complete = [
        r for r in results if isinstance(r, SSEReader) and r.done and len(r.latencies_ms) == count
    ]
    failed = [r for r in results if isinstance(r, BaseException)]
    lat = [x for r in complete for x in r.latencies_ms]
    holds = len(complete) == readers and percentile(lat, 0.99) < 1000
    return (
        f"readers={readers:<5} complete={len(complete):<5} errors={len(failed):<4} "
        f"p50={percentile(lat, 0.5):7.1f} ms  p99={percentile(lat, 0.99):7.1f} ms  "
        f"server RSS={memory:6.1f} MiB  wall={elapsed:5.1f} s  {'holds' if holds else 'DOES NOT HOLD'}"
    )


async def measure(reader_counts: list[int], count: int) -> None:
    with dev_server() as (host, port, pid):
        print(f"idle server RSS={rss_mib(pid):.1f} MiB", flush=True)
        for readers in reader_counts:
            print(await one(host, port, pid, readers, count), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", default="100,1000,2000,3000,4000")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(measure([int(x) for x in args.readers.split(",")], args.count))


if __name__ == "__main__":
    main()
