"""Migration 0007's checkpoint trigger writes exactly the rows 0004's did.

Two databases, one migrated to 0006 (0004's trigger) and one to the last migration, take the
same random histories: sessions whose state changes, user, assistant and tool messages
(a re-inserted one ignored, as a replayed step's is), usage rows of several sessions in
between, and a fork's copy of a checkpoint at a sequence still to come (the UPDATE's case).
Their checkpoint tables must be equal, row for row.
"""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from helix_agents.store import load_migrations


def _database(up_to: int | None) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for migration in load_migrations():
        if up_to is None or migration.version <= up_to:
            conn.executescript(migration.sql)
    return conn


def _state_row(conn: sqlite3.Connection, session_id: str) -> None:
    columns = {row[1]: row for row in conn.execute("PRAGMA table_info(__agents_states)")}
    values: dict[str, object] = {name: 0 for name, row in columns.items() if row[3]}
    values["session_id"] = session_id
    values["custom_state"] = json.dumps({"n": 0})
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO __agents_states ({names}) VALUES ({marks})", list(values.values()))


def _history(seed: int) -> list[tuple[str, tuple[object, ...]]]:
    """The statements of one random history (the same for both databases)."""
    rng = random.Random(seed)
    sessions = [f"s{i}" for i in range(rng.randint(1, 3))]
    sequences = dict.fromkeys(sessions, 0)
    out: list[tuple[str, tuple[object, ...]]] = []
    usage = 0
    for _ in range(rng.randint(5, 60)):
        session = rng.choice(sessions)
        roll = rng.random()
        if roll < 0.45:
            role = rng.choice(["user", "assistant", "assistant", "tool"])
            replay = sequences[session] > 0 and rng.random() < 0.1
            sequence = sequences[session] - 1 if replay else sequences[session]
            sequences[session] += 0 if replay else 1
            message = json.dumps({"role": role, "content": f"m{sequence}"})
            out.append(
                (
                    "INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, "
                    "created_at) VALUES (?, ?, ?, ?)",
                    (session, sequence, message, 1000 + len(out)),
                )
            )
        elif roll < 0.8:
            usage += 1
            n = rng.randint(0, 50)
            out.append(
                (
                    "INSERT INTO __agents_usage (record_id, session_id, run_id, kind, "
                    "input_tokens, output_tokens, total_tokens, requests, tool_calls, "
                    "created_at) VALUES (?, ?, 'r', 'model', ?, ?, ?, ?, ?, 0)",
                    (
                        f"u{usage}",
                        session,
                        n,
                        n + 1,
                        2 * n + 1,
                        rng.randint(0, 1),
                        rng.randint(0, 2),
                    ),
                )
            )
        elif roll < 0.92:
            out.append(
                (
                    "UPDATE __agents_states SET custom_state = ? WHERE session_id = ?",
                    (json.dumps({"n": len(out)}), session),
                )
            )
        else:
            # A fork's copy of its origin's checkpoint, at a sequence the session reaches
            # later: the message that gets there updates it instead of inserting.
            ahead = sequences[session] + rng.randint(0, 2)
            out.append(
                (
                    "INSERT OR IGNORE INTO __agents_checkpoints (session_id, sequence, step, "
                    "kind, custom_state, usage, usage_mark, created_at) VALUES (?, ?, ?, 'step', "
                    "NULL, ?, 0, 0)",
                    (
                        session,
                        ahead,
                        rng.randint(0, 5),
                        json.dumps(
                            {
                                "inputTokens": 7,
                                "outputTokens": 1,
                                "totalTokens": 8,
                                "requests": 1,
                                "toolCalls": 0,
                            }
                        ),
                    ),
                )
            )
    return [(f"session:{s}", ()) for s in sessions] + out


@pytest.mark.parametrize("seed", range(40))
def test_0007_writes_the_checkpoints_0004_wrote(seed: int) -> None:
    old, new = _database(up_to=6), _database(up_to=None)
    assert (
        "rowid > COALESCE(p.usage_mark"
        in new.execute(
            "SELECT sql FROM sqlite_master WHERE name = '__agents_checkpoint_at_message'"
        ).fetchone()[0]
    )
    for sql, params in _history(seed):
        for conn in (old, new):
            if sql.startswith("session:"):
                _state_row(conn, sql.removeprefix("session:"))
            else:
                conn.execute(sql, params)
    query = "SELECT * FROM __agents_checkpoints ORDER BY session_id, sequence"
    rows = old.execute(query).fetchall()
    assert rows  # every history records some
    assert new.execute(query).fetchall() == rows
