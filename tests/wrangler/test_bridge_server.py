"""The bridge server's lifecycle: a clear error when wrangler cannot start, a clean stop."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from helix_agents.testing.d1_bridge import D1BridgeError, D1BridgeServer
from tests.support.real_d1 import WRANGLER


def _live_members(group: int) -> list[str]:
    """Processes of a process group that are not dead (zombies wait for a reaper: dead)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        state, _ppid, pgrp = text.rpartition(")")[2].split()[:3]
        if int(pgrp) == group and state != "Z":
            live.append(text.split(")")[0] + ")")
    return live


def test_a_wrangler_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    dying = [sys.executable, "-c", "import sys; print('no wrangler today'); sys.exit(3)"]
    server = D1BridgeServer(tmp_path, wrangler=dying, startup_timeout=30)
    with pytest.raises(D1BridgeError) as caught:
        server.start()
    message = str(caught.value)
    assert "wrangler exited with status 3" in message
    assert "no wrangler today" in message  # the log's tail
    assert str(server.log_path) in message
    assert not server.running


def test_a_missing_wrangler_is_reported(tmp_path: Path) -> None:
    server = D1BridgeServer(tmp_path, wrangler=[str(tmp_path / "no-such-wrangler")])
    with pytest.raises(D1BridgeError, match="wrangler could not be run"):
        server.start()


def test_the_url_of_a_stopped_server_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(D1BridgeError, match="not running"):
        _ = D1BridgeServer(tmp_path).url


@pytest.mark.wrangler
@pytest.mark.d1
def test_stop_ends_wrangler_and_workerd(tmp_path: Path) -> None:
    with D1BridgeServer(tmp_path, wrangler=[str(WRANGLER)]) as server:
        assert server.running
        process = server._process
        assert process is not None
        answer = httpx.post(server.url, json={"op": "ping"}, trust_env=False).json()
        assert answer == {"ok": True, "result": 1}
        group = process.pid
    assert process.poll() is not None
    assert server._process is None
    # Nothing of the process group runs any more, workerd included.
    assert _live_members(group) == []
    # The worker ran from a copy in the state directory, with its D1 data beside it.
    assert (tmp_path / "worker" / "worker.js").is_file()
    assert (tmp_path / "d1").is_dir()
