"""A durable step's writes three ways, SQLite alone: what one statement per step costs.

A step writes the engine journal's upsert of two rows, the stream row's move, its chunks
and a commit row through a view whose trigger writes two tables (as the store's step commit
does). Three ways of sending the same writes, each to its own file with the local host's
settings, in one process, taking turns round by round so that a slower moment of the
machine falls on all three.

- ``separate``: ``BEGIN IMMEDIATE``, the four statements, ``COMMIT`` (6 statements);
- ``packed``: :class:`helix_agents.db.packing.Packer`, one ``INSERT`` into a temporary
  view whose trigger holds the four statements, parameters as columns (1 statement);
- ``json``: the same trigger with the parameters in one JSON value read by
  ``json_extract`` (1 statement, 1 bound parameter: the design that fits D1's limit of
  100 bound parameters without raising it for the statement).

    .venv/bin/python -m benchmarks.packing --steps 5000 --chunks 8 --rounds 3

Prints CPU microseconds per step for each way and round. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from helix_agents.db.packing import Packer
from helix_agents.db.sqlite import LOCAL_PAGE_SIZE, LOCAL_WAL_PAGES

_SCHEMA = """
CREATE TABLE journal (instance_id TEXT, name TEXT, status TEXT, result TEXT, ordinal INT,
    attempts INT, wake_at INT, started_at INT, kind TEXT, detail TEXT, updated_at INT,
    PRIMARY KEY (instance_id, name));
CREATE TABLE streams (stream_id TEXT PRIMARY KEY, last_seq INT, updated_at INT, status TEXT)
    WITHOUT ROWID;
CREATE TABLE chunks (stream_id TEXT, seq INT, kind TEXT, step INT, attempt INT, scope TEXT,
    superseded INT, data TEXT, PRIMARY KEY (stream_id, seq)) WITHOUT ROWID;
CREATE TABLE messages (session_id TEXT, sequence INT, message TEXT,
    PRIMARY KEY (session_id, sequence));
CREATE TABLE states (session_id TEXT PRIMARY KEY, step_count INT, usage TEXT, updated INT);
CREATE VIEW commits AS SELECT NULL session_id, NULL seq, NULL message, NULL step_count,
    NULL usage, NULL updated;
CREATE TRIGGER commits_apply INSTEAD OF INSERT ON commits BEGIN
    INSERT INTO messages VALUES (NEW.session_id, NEW.seq, NEW.message);
    UPDATE states SET step_count = NEW.step_count, usage = NEW.usage, updated = NEW.updated
        WHERE session_id = NEW.session_id;
END;
INSERT INTO streams VALUES ('s', 0, 0, 'active');
INSERT INTO states VALUES ('session', 0, NULL, 0);
"""

_UPSERT = (
    "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?) ON CONFLICT (instance_id, name) DO UPDATE SET status = excluded.status,"
    " result = excluded.result, updated_at = excluded.updated_at"
)
_MOVE = "UPDATE streams SET last_seq = ?, updated_at = ? WHERE stream_id = ?"
_COMMIT = "INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?)"
_MESSAGE = json.dumps(
    {"role": "assistant", "parts": [{"type": "text", "text": "a few words " * 20}]}
)
_CHUNK = json.dumps({"type": "text-delta", "partId": "t1", "delta": "words "})

Statements = list[tuple[str, list[Any]]]


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    conn.execute(f"PRAGMA page_size = {LOCAL_PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {LOCAL_WAL_PAGES}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(_SCHEMA)
    return conn


def _step(i: int, chunks: int) -> Statements:
    journal = [
        *("instance", f"step-{i}", "running", None, i, 1, None, i, "do", None, i),
        *("instance", f"step-{i - 1}", "complete", '{"ok":true}', i - 1, 1, None, i, "do", None, i),
    ]
    rows: list[Any] = []
    for k in range(chunks):
        rows += ["s", i * chunks + k + 1, "text-delta", i, 1, None, 0, _CHUNK]
    insert = "INSERT INTO chunks VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * chunks)
    return [
        (_UPSERT, journal),
        (_MOVE, [(i + 1) * chunks, i, "s"]),
        (insert, rows),
        (_COMMIT, ["session", i, _MESSAGE, i, '{"input":1}', i]),
    ]


def _separate(conn: sqlite3.Connection) -> Callable[[Statements], None]:
    def run(statements: Statements) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("COMMIT")

    return run


def _packed(conn: sqlite3.Connection) -> Callable[[Statements], None]:
    packer = Packer(conn)

    def run(statements: Statements) -> None:
        if packer.run(statements) is None:
            raise RuntimeError("not packed")

    return run


def _json(conn: sqlite3.Connection) -> Callable[[Statements], None]:
    made: dict[tuple[str, ...], str] = {}
    conn.execute("CREATE TEMP VIEW one AS SELECT NULL AS p")

    def make(statements: Sequence[tuple[str, list[Any]]]) -> str:
        body, index = [], 0
        for sql, _ in statements:
            out = []
            for ch in sql:  # these statements have no "?" in strings
                if ch == "?":
                    out.append(f"json_extract(NEW.p, '$[{index}]')")
                    index += 1
                else:
                    out.append(ch)
            body.append("".join(out) + ";")
        name = f"one_{len(made)}"
        conn.execute(f"CREATE TEMP VIEW {name} AS SELECT NULL AS p")
        trigger = f"CREATE TEMP TRIGGER {name}_t INSTEAD OF INSERT ON {name} BEGIN "
        conn.execute(trigger + " ".join(body) + " END")
        return f"INSERT INTO {name} VALUES (?)"

    def run(statements: Statements) -> None:
        shape = tuple(sql for sql, _ in statements)
        insert = made.get(shape) or made.setdefault(shape, make(statements))
        conn.execute(insert, [json.dumps([v for _, params in statements for v in params])])

    return run


_WAYS = {"separate": _separate, "packed": _packed, "json": _json}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--chunks", type=int, default=8, help="chunks a step writes")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        conns = {name: _open(os.path.join(directory, f"{name}.db")) for name in _WAYS}
        runners = {name: way(conns[name]) for name, way in _WAYS.items()}
        done = dict.fromkeys(_WAYS, 0)
        print(f"CPU µs per step, {args.steps} steps of {args.chunks} chunks a round")
        for round_ in range(1, args.rounds + 1):
            figures = []
            for name, run in runners.items():
                start = time.process_time()
                for i in range(done[name] + 1, done[name] + args.steps + 1):
                    run(_step(i, args.chunks))
                spent = time.process_time() - start
                done[name] += args.steps
                figures.append(f"{name} {spent / args.steps * 1e6:7.1f}")
            print(f"round {round_}: " + "  ".join(figures))
        for name, conn in conns.items():
            (count,) = conn.execute("SELECT count(*) FROM chunks").fetchone()
            assert count == done[name] * args.chunks, name  # every way wrote every chunk
            conn.close()


if __name__ == "__main__":
    main()
