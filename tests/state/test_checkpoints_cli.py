"""``helix sessions checkpoints|rewind|fork``, run as a real subprocess on a data dir, and
the rewound and forked sessions continued with ``helix run --session``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import helix

APP = ("--app", "tests.cli.app:registry")


def _run(data: Path, text: str, session: str | None = None) -> str:
    extra = ("--session", session) if session else ()
    out = helix("run", *APP, "shouter", text, *extra, data=data)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1].split()[-1]


def test_checkpoints_rewind_fork_from_the_cli(tmp_path: Path) -> None:
    session = _run(tmp_path, "one")
    _run(tmp_path, "two", session)
    listed = helix("sessions", "checkpoints", session, data=tmp_path)
    assert listed.returncode == 0, listed.stderr
    points = json.loads(listed.stdout)
    assert [(p["sequence"], p["kind"]) for p in points] == [
        (0, "turn"),
        (1, "step"),
        (3, "step"),
        (4, "turn"),
        (5, "step"),
        (7, "step"),
        (8, "head"),
    ]
    forked = helix("sessions", "fork", session, "4", "--as", "cli-branch", data=tmp_path)
    assert forked.returncode == 0, forked.stderr
    assert json.loads(forked.stdout)["sessionId"] == "cli-branch"
    rewound = helix("sessions", "rewind", session, "4", data=tmp_path)
    assert rewound.returncode == 0, rewound.stderr
    shown = json.loads(helix("sessions", session, data=tmp_path).stdout)
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "tool", "assistant"]
    # Both continue normally.
    _run(tmp_path, "three", session)
    _run(tmp_path, "four", "cli-branch")
    for sid, said in ((session, "THREE"), ("cli-branch", "FOUR")):
        shown = json.loads(helix("sessions", sid, data=tmp_path).stdout)
        assert [m["role"] for m in shown["messages"]] == [
            "user",
            "assistant",
            "tool",
            "assistant",
        ] * 2
        assert shown["messages"][-1]["content"] == f"I shouted: {said}"
    bad = helix("sessions", "rewind", session, "2", data=tmp_path)
    assert bad.returncode != 0
    assert "no checkpoint" in bad.stderr
    usage = helix("sessions", "rewind", session, data=tmp_path)
    assert usage.returncode != 0
    assert "usage" in usage.stderr
