"""What one durable agent step costs the local host's SQLite files, counted (not timed).

    python -m benchmarks.step_costs [--steps 10,50] [--json]

The workload of ``benchmarks/loop_overhead.py`` (a zero-latency ``FunctionModel`` calling a
no-op tool on each agent step): two runs of different lengths, on one host, and the
difference between them divided by the difference in agent steps, so what a run costs once
(its start, its end, the executor's bookkeeping) drops out. Per file (the local host has
one, ``state.db``, holding the store, the engine's journal and the stream log; a host whose
parts had files of their own would show a row each):

- **statements**: every SQL statement the connection ran (sqlite3's trace callback), the
  transaction control ``BEGIN``/``COMMIT`` included (a trigger's statements are part of
  the statement that fired it);
- **write transactions**: ``COMMIT``s of transactions that wrote, plus writes run outside a
  transaction (each its own transaction in autocommit mode);
- **bytes written**: what the write-ahead log grew by (automatic checkpoints are switched
  off while counting, so the log only grows: every committed page, with its frame header).

Counts are deterministic, so ``tests/hosts/test_step_costs.py`` pins them; this script prints
them for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.local import LocalHost
from helix_agents.testing import FunctionModel, call_tool

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@tool
def noop(i: int) -> int:
    """Return its argument."""
    return i


def scripted_model(steps: int) -> FunctionModel:
    """Calls ``noop`` ``steps`` times, then answers: O(1) per call (each agent step adds an
    assistant message and a tool result to the history)."""

    def decide(messages: list[Any], info: Any) -> Any:
        done = (len(messages) - 1) // 2
        return call_tool("noop", i=done) if done < steps else "done"

    return FunctionModel(decide)


@dataclass
class FileCounter:
    """Statements and write transactions on one connection, from its trace callback."""

    path: str
    statements: int = 0
    transactions: int = 0
    in_transaction: bool = False
    wrote: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)
    last: str = ""

    def __call__(self, sql: str) -> None:
        text = sql.lstrip()
        # The statements a trigger runs are reported with the text of the statement that
        # fired it (sqlite3 traces the expanded top-level SQL): one statement, counted once.
        if text == self.last and not text.upper().startswith(("BEGIN", "COMMIT")):
            return
        self.last = text
        word = text.split(None, 1)[0].upper() if text else ""
        self.statements += 1
        self.by_kind[word] = self.by_kind.get(word, 0) + 1
        if word == "BEGIN":
            self.in_transaction, self.wrote = True, False
        elif word in ("COMMIT", "END"):
            self.in_transaction = False
            self.transactions += self.wrote
        elif word == "ROLLBACK":
            self.in_transaction = False
        elif word in _WRITES:
            if self.in_transaction:
                self.wrote = True
            else:
                self.transactions += 1

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def snapshot(self) -> dict[str, int]:
        return {
            "statements": self.statements,
            "transactions": self.transactions,
            "bytes": self.wal_bytes(),
        }


def connections(host: LocalHost) -> dict[str, sqlite3.Connection]:
    """The connections of the host's store, stream log and journal, by file name (reaching
    into the host: a benchmark); parts that share a file share its row."""
    found: dict[str, sqlite3.Connection] = {}
    for conn in (host.db.connection, host.streams._sql.conn, host.engine.journal._db):
        path = conn.execute("PRAGMA database_list").fetchone()[2]
        found.setdefault(Path(path).name, conn)
    return found


async def measure(steps: tuple[int, int]) -> dict[str, dict[str, float]]:
    """Per agent step and per file: statements, write transactions, bytes (see the module
    docstring)."""
    short, long = steps
    agents = [
        Agent(name=f"bench{n}", tools=[noop], model=scripted_model(n), max_steps=n + 1)
        for n in (short, long)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with LocalHost(agents, Path(tmp), sweep_interval=None) as host:
            await (await host.executor.execute(agents[0].name, "warm up")).result()
            counters: dict[str, FileCounter] = {}
            for name, conn in connections(host).items():
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                counters[name] = FileCounter(str(Path(tmp) / name))
                conn.set_trace_callback(counters[name])
            totals = []
            for agent in agents:
                before = {k: c.snapshot() for k, c in counters.items()}
                record = await (await host.executor.execute(agent.name, "go")).result()
                assert record.status == "completed", record
                after = {k: c.snapshot() for k, c in counters.items()}
                totals.append(
                    {k: {m: after[k][m] - before[k][m] for m in after[k]} for k in counters}
                )
            for conn in connections(host).values():
                conn.set_trace_callback(None)
    span = long - short
    per: dict[str, dict[str, float]] = {
        k: {m: (totals[1][k][m] - totals[0][k][m]) / span for m in totals[0][k]} for k in counters
    }
    per["all"] = {
        m: sum(per[k][m] for k in counters) for m in ("statements", "transactions", "bytes")
    }
    return per


def _wal(path: str) -> bytes:
    """The write-ahead log's bytes (a benchmark: reading it blocks, briefly)."""
    return Path(f"{path}-wal").read_bytes()


async def page_mix(steps: int = 40) -> dict[str, float]:
    """Pages written per agent step, by the B-tree (table or index) they belong to: one run
    of ``steps`` agent steps after a warm-up, the write-ahead log's frames read back and
    named through SQLite's ``dbstat`` table. A run's own start and end are included
    (about one frame per B-tree over the run), so use a long enough run."""
    agent = Agent(name="pages", tools=[noop], model=scripted_model(steps), max_steps=steps + 1)
    with tempfile.TemporaryDirectory() as tmp:
        async with LocalHost([agent], Path(tmp), sweep_interval=None) as host:
            await (await host.executor.execute(agent.name, "warm up")).result()
            conn = host.db.connection
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            record = await (await host.executor.execute(agent.name, "go")).result()
            assert record.status == "completed", record
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            names = {
                int(n): str(name) for name, n in conn.execute("SELECT name, pageno FROM dbstat")
            }
            data = _wal(host.db.path)
    counts: dict[str, float] = {}
    frame = 24 + page_size
    for offset in range(32, len(data) - frame + 1, frame):
        page = int.from_bytes(data[offset : offset + 4], "big")
        name = names.get(page, "(freed since)")
        counts[name] = counts.get(name, 0) + 1 / steps
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="10,50", help="the two run lengths, in agent steps")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--pages", action="store_true", help="pages written per agent step, by table and index"
    )
    args = parser.parse_args()
    if args.pages:
        mix = asyncio.run(page_mix())
        print(f"pages written per agent step: {sum(mix.values()):.1f}")
        for name, count in mix.items():
            print(f"{count:8.2f}  {name}")
        return
    a, b = (int(x) for x in args.steps.split(","))
    per = asyncio.run(measure((a, b)))
    if args.json:
        print(json.dumps(per, indent=2))
        return
    print(f"per agent step (runs of {a} and {b} agent steps, their difference):")
    print(f"{'file':<12}{'statements':>12}{'write txns':>12}{'KiB written':>13}")
    for name in per:
        row = per[name]
        print(
            f"{name:<12}{row['statements']:>12.2f}{row['transactions']:>12.2f}"
            f"{row['bytes'] / 1024:>13.1f}"
        )


if __name__ == "__main__":
    main()
