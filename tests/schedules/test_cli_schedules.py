"""``helix schedules``, run as a real subprocess: on a data dir of its own (no server), and
as a client of a running ``helix dev``, where a schedule made from the CLI fires."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.test_cli_remote import dev, helix

pytestmark = pytest.mark.timeout(120)

__all__ = ["dev"]  # the fixture, used below


def test_schedules_on_a_data_dir_without_a_server(tmp_path: Path) -> None:
    d = ("--data-dir", str(tmp_path))
    app = ("--app", "tests.cli.app:registry")
    out = helix("schedules", "create", *app, "shouter", "hello", "--in", "600", *d)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["kind"] == "once"
    assert made["status"] == "active"
    assert "fires once one does" in out.stderr
    sid = made["scheduleId"]

    out = helix("schedules", "create", *app, "shouter", "x", "--cron", "0 9 * * mon", *d)
    assert out.returncode == 0, out.stderr

    listed = helix("schedules", "list", *d)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert any(line.startswith(sid) for line in lines)
    assert any("cron 0 9 * * mon" in line for line in lines)

    shown = helix("schedules", "show", sid, *d)
    assert json.loads(shown.stdout)["schedule"]["scheduleId"] == sid

    cancelled = helix("schedules", "cancel", *app, sid, *d)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    active = helix("schedules", "list", "--status", "active", "--json", *d)
    assert [json.loads(x)["kind"] for x in active.stdout.splitlines()] == ["cron"]

    bad = helix("schedules", "create", *app, "shouter", "x", *d)
    assert bad.returncode == 2
    assert "say when" in bad.stderr
    missing = helix("schedules", "show", "sch_nope", *d)
    assert missing.returncode == 2
    assert "not found" in missing.stderr


def test_a_schedule_made_from_the_cli_fires_in_helix_dev(dev: tuple[Path, str]) -> None:
    data, url = dev
    d = ("--data-dir", str(data))
    out = helix("schedules", "create", "shouter", "from the cli", "--in", "1", *d)
    assert out.returncode == 0, out.stderr
    assert f"talking to helix dev at {url}" in out.stderr
    sid = json.loads(out.stdout)["scheduleId"]
    deadline = time.monotonic() + 30
    while True:
        shown = json.loads(helix("schedules", "show", sid, *d).stdout)
        if shown["firings"] and shown["firings"][0]["status"] == "started":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)
    assert shown["schedule"]["status"] == "done"
    session = shown["firings"][0]["sessionId"]
    listed = helix("schedules", "list", *d)
    assert sid in listed.stdout
    assert session
