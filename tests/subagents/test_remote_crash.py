"""Remote sub-agents survive SIGKILL of the parent's host: killed the moment the remote
answered the start, and at random while it follows the remote stream, the parent comes back,
asks the remote where its child is, and never starts a second remote run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helix_agents.messages import AssistantMessage, ToolResultMessage
from tests.support.crashing import ROOT, kill_at_random, run_to_end, start, stored_messages

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

RUNS = 3
MODULE = "tests.subagents.remote_crash_host"


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "remote"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.subagents.remote_server", str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("URL "), (line, proc.stderr.read() if proc.stderr else "")
        yield line.split()[1], data
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_sigkill_around_the_remote_start(tmp_path: Path, remote: tuple[str, Path]) -> None:
    url, remote_data = remote
    data = tmp_path / "parent"
    data.mkdir()
    (data / "remote_url").write_text(url)
    # 1. Killed right after the remote accepted the first start: the remote run exists and
    # the parent's step recorded nothing after the reference row.
    (data / "kill-after-start").write_text("")
    proc = start(MODULE, data, RUNS)
    proc.communicate(timeout=60)
    assert proc.returncode == -9, "the host should have killed itself after the start"
    assert not (data / "kill-after-start").exists()
    # 2. Killed at random moments while parents follow their remote children.
    kills = kill_at_random(MODULE, data, RUNS, seed=20261203, attempts=6, window=(0.4, 1.5))
    run_to_end(MODULE, data, RUNS)
    assert kills >= 2, "the test should have killed the host several times"
    _verify(data, remote_data)


def _verify(data: Path, remote_data: Path) -> None:
    db = sqlite3.connect(data / "host" / "state.db")
    remote_db = sqlite3.connect(remote_data / "state.db")
    for i in range(RUNS):
        parent = f"lead-{i}"
        refs = db.execute(
            "SELECT sub_session_id, status, remote_json FROM __agents_sub_session_refs "
            "WHERE session_id = ?",
            [parent],
        ).fetchall()
        assert len(refs) == 1, (parent, refs)
        child, status, remote_json = refs[0]
        assert status == "completed"
        assert child.startswith(f"{parent}-remote-")
        assert '"agentType":"researcher"' in remote_json.replace(" ", "")
        # Exactly one run on the remote, one user message: never started twice.
        runs = remote_db.execute(
            "SELECT run_id, status FROM __agents_runs WHERE session_id = ?", [child]
        ).fetchall()
        assert runs == [(f"{child}--t1", "completed")], (child, runs)
        # The remote's usage recorded once in the parent's store, whatever the replays.
        sums = "SELECT COUNT(*), SUM(requests), SUM(total_tokens), SUM(tool_calls) "
        sums += "FROM __agents_usage WHERE session_id = ?"
        (count, *recorded) = db.execute(sums, [child]).fetchone()
        assert count == 1, (child, count)
        assert recorded == list(remote_db.execute(sums, [child]).fetchone()[1:])
        remote_messages = stored_messages(remote_db, child)
        assert [type(m).__name__ for m in remote_messages] == ["UserMessage", "AssistantMessage"]
        messages = stored_messages(db, parent)
        assert [type(m).__name__ for m in messages] == [
            "UserMessage",
            "AssistantMessage",
            "ToolResultMessage",
            "AssistantMessage",
        ]
        result = messages[2]
        assert isinstance(result, ToolResultMessage)
        assert result.status == "success"
        assert result.content.endswith(f"found: job {i}")
        final = messages[-1]
        assert isinstance(final, AssistantMessage)
        assert final.content.startswith("lead: success=part0 ")
