"""What a new turn costs as a session grows: 10, 1,000 and 10,000 stored messages.

    python -m benchmarks.long_sessions [--sizes 10,1000,10000] [--turns 5] [--json]

On the local host (real SQLite, the local engine), a session is grown to each size (one
real turn, then user/assistant pairs written straight to the store, about 100 bytes each),
and then ``--turns`` new turns are run one after another, each a single model step with a
zero-latency ``FunctionModel``. Per new turn (the median):

- **ms**: wall time from ``execute`` to the run's result;
- **rows** and **KB**: what the state database returned to Python (rows and the bytes of
  their values), counted by wrapping the host's Database port: what a D1 binding would
  carry across the network;
- **sent**: the messages the model request carried.

Two agents: one with no history processor, one with ``keep_last_turns(5)``; and the two
paged reads a client makes (``GET /chat/{id}`` and ``GET /sessions/{id}/messages``,
default pages) timed and sized over the HTTP app in process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from helix_agents import Agent
from helix_agents.history import keep_last_turns
from helix_agents.hosts.local import LocalHost
from helix_agents.messages import AssistantMessage, Message, UserMessage
from helix_agents.testing import FunctionModel


class RowCounter:
    """Rows and value bytes the wrapped database returns."""

    def __init__(self, db: Any) -> None:
        self.rows = 0
        self.bytes = 0
        self._query = db.query
        self._batch = db.batch
        db.query = self.query
        db.batch = self.batch

    def _count(self, rows: list[Any]) -> None:
        self.rows += len(rows)
        for row in rows:
            for value in dict(row).values():
                self.bytes += len(value) if isinstance(value, str | bytes) else 8

    async def query(self, sql: str, params: Any = ()) -> Any:
        rows = await self._query(sql, params)
        self._count(rows)
        return rows

    async def batch(self, statements: Any) -> Any:
        results = await self._batch(statements)
        for rows in results:
            self._count(rows)
        return results


def agents(sent: list[int]) -> list[Agent]:
    def model(messages: list[Any], info: Any) -> str:
        sent.append(len(messages))
        return "ok"

    return [
        Agent(name="plain", model=FunctionModel(model)),
        Agent(name="windowed", model=FunctionModel(model), history_processors=[keep_last_turns(5)]),
    ]


async def grow(host: LocalHost, agent: str, session_id: str, size: int) -> None:
    await (await host.executor.execute(agent, "first", session_id=session_id)).result()
    store = host.executor.store
    start = await store.next_sequence(session_id)
    rows: list[tuple[int, Message]] = []
    for i in range((size - start) // 2):
        text = f"message {i} " + "x" * 80
        rows.append((start + 2 * i, UserMessage(content=text, id=f"u{i}")))
        rows.append((start + 2 * i + 1, AssistantMessage(content=text, id=f"{session_id}-old{i}")))
    for i in range(0, len(rows), 500):
        await store.append_messages(session_id, rows[i : i + 500])


async def turn_costs(size: int, turns: int) -> dict[str, dict[str, float]]:
    sent: list[int] = []
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with LocalHost(agents(sent), Path(tmp), sweep_interval=None) as host:
            counter = RowCounter(host.db)
            for agent in ("plain", "windowed"):
                session_id = f"{agent}-{size}"
                await grow(host, agent, session_id, size)
                times, rows, kbytes = [], [], []
                for t in range(turns):
                    counter.rows = counter.bytes = 0
                    started = time.perf_counter()
                    handle = await host.executor.execute(agent, f"turn {t}", session_id=session_id)
                    record = await handle.result()
                    times.append((time.perf_counter() - started) * 1000)
                    assert record.status == "completed", record
                    rows.append(counter.rows)
                    kbytes.append(counter.bytes / 1024)
                out[agent] = {
                    "ms": round(statistics.median(times), 1),
                    "rows": statistics.median(rows),
                    "KB": round(statistics.median(kbytes), 1),
                    "sent": sent[-1],
                }
            out["reads"] = await paged_reads(host, f"plain-{size}")
    return out


async def paged_reads(host: LocalHost, session_id: str) -> dict[str, float]:
    import httpx

    from helix_agents.http import create_app

    app = create_app(host, environ={})
    transport = httpx.ASGITransport(app=app)
    out: dict[str, float] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        for name, path in (
            ("snapshot", f"/chat/{session_id}"),
            ("history", f"/sessions/{session_id}/messages"),
        ):
            started = time.perf_counter()
            res = await http.get(path)
            out[f"{name} ms"] = round((time.perf_counter() - started) * 1000, 1)
            out[f"{name} KB"] = round(len(res.content) / 1024, 1)
            assert res.status_code == 200, res.text
    return out


async def main(sizes: list[int], turns: int) -> dict[int, dict[str, dict[str, float]]]:
    return {size: await turn_costs(size, turns) for size in sizes}


def _table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| messages | agent | ms per turn | rows read | KB read | messages sent |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size, by_agent in results.items():
        for agent in ("plain", "windowed"):
            r = by_agent[agent]
            lines.append(
                f"| {size:,} | {agent} | {r['ms']} | {r['rows']:g} | {r['KB']} | {r['sent']} |"
            )
    lines += ["", "| messages | snapshot ms | snapshot KB | history page ms | history KB |"]
    lines.append("|---:|---:|---:|---:|---:|")
    for size, by_agent in results.items():
        r = by_agent["reads"]
        lines.append(
            f"| {size:,} | {r['snapshot ms']} | {r['snapshot KB']} | {r['history ms']} "
            f"| {r['history KB']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = asyncio.run(main(sizes, args.turns))
    print(json.dumps(results, indent=2) if args.json else _table(results))
