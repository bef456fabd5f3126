"""The ``helix`` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)
#: What would point the bundled examples at a real model: never in a test.
MODEL_ENV = ("HELIX_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "HELIX_OPENAI_MODEL")


def helix(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    return subprocess.run(
        [sys.executable, "-m", "helix_agents.cli", *args, "--data-dir", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_streams_text_tools_and_status(tmp_path: Path) -> None:
    out = helix("run", "--app", "tests.cli.app:registry", "shouter", "hello", data=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith('→ shout({"text": "hello"})') for line in lines), out.stdout
    assert "← HELLO" in lines
    assert "I shouted: HELLO" in out.stdout
    assert lines[-1].startswith("[completed] session ")


def test_run_continues_a_session_and_sessions_shows_it(tmp_path: Path) -> None:
    first = helix("run", "--app", "tests.cli.app:registry", "shouter", "one", data=tmp_path)
    session = first.stdout.splitlines()[-1].split()[-1]
    second = helix(
        "run",
        "--app",
        "tests.cli.app:registry",
        "shouter",
        "two",
        "--session",
        session,
        data=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    listing = helix("sessions", data=tmp_path)
    assert session in listing.stdout
    shown = json.loads(helix("sessions", session, data=tmp_path).stdout)
    assert [r["runId"] for r in shown["runs"]] == [f"{session}--t1", f"{session}--t2"]
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "tool", "assistant"] * 2
    assert shown["usage"]["usage"]["requests"] == 4


def test_run_json_lines(tmp_path: Path) -> None:
    out = helix("run", "--app", "tests.cli.app:registry", "shouter", "x", "--json", data=tmp_path)
    chunks = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert chunks[0]["type"] == "run-start"
    assert chunks[-1]["type"] == "run-end"


def test_bundled_examples_run_offline(tmp_path: Path) -> None:
    out = helix("run", "assistant", "What is the weather in Paris?", data=tmp_path)
    assert out.returncode == 0, out.stderr
    assert '→ get_weather({"city": "Paris"})' in out.stdout
    assert "In Paris it is 18 °C and cloudy." in out.stdout
    assert "[completed]" in out.stdout
    planned = helix("run", "planner", "Plan two days in Tokyo", data=tmp_path)
    assert planned.returncode == 0, planned.stderr
    [output] = [line for line in planned.stdout.splitlines() if line.startswith("output: ")]
    plan = json.loads(output.removeprefix("output: "))
    assert (plan["city"], plan["days"], len(plan["activities"])) == ("Tokyo", 2, 2)


def test_the_offline_demo_model_does_arithmetic(tmp_path: Path) -> None:
    out = helix("run", "assistant", "what is 12*7", data=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert '→ calculate({"expression": "12*7"})' in lines
    assert "← 84.0" in lines
    assert "12*7 = 84." in lines
    assert lines[-1].startswith("[completed] session ")


def test_failed_run_exit_code(tmp_path: Path) -> None:
    out = helix("run", "--app", "tests.cli.app:failing", "broken", "go", data=tmp_path)
    assert out.returncode == 1
    assert "[failed]" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--app", "nowhere_module:x", "a", "m"], "cannot import 'nowhere_module'"),
        (["run", "--app", "tests.cli.app:nothing", "a", "m"], "has no attribute 'nothing'"),
        (["run", "--app", "no-colon", "a", "m"], "MODULE:ATTR"),
        (["run", "--app", "tests.cli.app:registry", "ghost", "m"], "unknown agent 'ghost'"),
        (
            ["run", "--app", "tests.cli.app:registry", "shouter", "m", "--session", "bad id!"],
            "session id",
        ),
        (["sessions", "missing"], "not found"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    out = helix(*args, data=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_migrate(tmp_path: Path) -> None:
    out = helix("migrate", data=tmp_path / "d")
    assert out.returncode == 0
    assert (tmp_path / "d" / "state.db").exists()
