"""``helix worker`` end to end, as a user runs it: a subprocess serving the registry on the
real Python Worker runtime (Python 3.14 on Pyodide in local workerd, offline). It answers
the HTTP API, stops cleanly on Ctrl-C with nothing left running, keeps its sessions across
restarts in ``--state-dir``, and passes ``HELIX_API_TOKEN`` into the Worker."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helix_agents.cli import EXIT_INTERRUPTED
from helix_agents.workerd.runtime import PreparedRuntime

from .helix_worker import (
    HelixWorker,
    chat,
    headers,
    snapshot,
    text_of,
    write_app,
)

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(600)]


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections closing there, in TIME_WAIT, are fine)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def stop_cleanly(worker: HelixWorker, signum: int = signal.SIGINT) -> float:
    """Ctrl-C: the command exits within a few seconds, with nothing of it left running."""
    assert any("workerd" in cmd for cmd in worker.seen.values()), worker.seen
    code, took = worker.interrupt(signum)
    assert code == EXIT_INTERRUPTED, worker.log()
    assert took < 10, f"{took:.1f} s to stop:\n{worker.log()}"
    assert worker.leftovers() == {}
    assert port_is_free(worker.port)
    return took


def test_serve_chat_stop_and_restart_on_the_same_state(
    runtime: PreparedRuntime, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    write_app(project)
    state = tmp_path / "state"
    first = HelixWorker(project, state, app="myagents:registry", with_testing=True).start()
    try:
        first.wait_ready()
        # /health answers a moment before the command's own check prints its line.
        deadline = time.monotonic() + 30
        while "helix: ready at" not in first.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "helix: ready at" in first.log()
        # No token: the local Worker opts out explicitly (a Worker without either refuses
        # every API request), and says so.
        assert "no HELIX_API_TOKEN: the Worker gets HELIX_AUTH=none" in first.log()
        agents = httpx.get(first.url + "/agents", timeout=30).json()["agents"]
        assert sorted(a["name"] for a in agents) == ["echo", "ops", "slow"]

        response, chunks = chat(first.url, "echo", "hello from the test", "s1")
        assert response.status_code == 200
        assert response.headers["x-helix-session-id"] == "s1"
        assert response.headers["x-helix-run-id"] == "s1--t1"
        assert text_of(chunks) == "echo: hello from the test"
        assert chunks[0] == {"type": "start", "messageId": "s1-t1"}
        assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
        state_1 = snapshot(first.url, "s1")
        assert state_1["status"] == "completed"
        assert state_1["output"] == "echo: hello from the test"

        stop_cleanly(first)
    finally:
        first.close()

    # The same state dir, and the token in the environment: the Worker requires it now.
    second = HelixWorker(
        project,
        state,
        app="myagents:registry",
        env={"HELIX_API_TOKEN": "tok-123"},
        with_testing=True,
    ).start()
    try:
        second.wait_ready()
        # (The same port, by chance, is the same log file: the first run's line is in it.)
        opted_out = 1 if second.log_path == first.log_path else 0
        assert second.log_path.read_text().count("HELIX_AUTH=none") == opted_out
        assert httpx.get(second.url + "/health", timeout=30).status_code == 200
        refused = httpx.get(second.url + "/agents", timeout=30)
        assert refused.status_code == 401
        assert httpx.get(second.url + "/chat/s1", timeout=30).status_code == 401
        wrong = httpx.get(second.url + "/chat/s1", headers=headers("nope"), timeout=30)
        assert wrong.status_code in (401, 403)
        refused_chat, _ = chat(second.url, "echo", "no token", "s2")
        assert refused_chat.status_code == 401
        ok = httpx.get(second.url + "/agents", headers=headers("tok-123"), timeout=30)
        assert ok.status_code == 200

        # The session of the first run is still there, whole.
        kept = snapshot(second.url, "s1", token="tok-123")
        assert kept["status"] == "completed"
        assert kept["messages"] == state_1["messages"]
        assert kept["output"] == "echo: hello from the test"
        response, chunks = chat(second.url, "echo", "again", "s1", token="tok-123")
        assert response.status_code == 200
        assert response.headers["x-helix-run-id"] == "s1--t2"
        assert text_of(chunks) == "echo: again"
        after = snapshot(second.url, "s1", token="tok-123")
        assert after["turn"] == 2
        assert [m["role"] for m in after["messages"]] == ["user", "assistant"] * 2

        # SIGTERM (a process manager's stop) is as clean as Ctrl-C.
        stop_cleanly(second, signal.SIGTERM)
    finally:
        second.close()


def test_a_bad_app_fails_before_starting(runtime: PreparedRuntime, tmp_path: Path) -> None:
    """The app is imported locally first: a broken one fails at once, with its traceback,
    and starts nothing."""
    (tmp_path / "broken.py").write_text("registry = undefined_name\n", encoding="utf-8")
    worker = HelixWorker(tmp_path, tmp_path / "state", app="broken:registry").start()
    try:
        assert worker.process is not None
        code = worker.process.wait(60)
        assert code != 0
        assert "undefined_name" in worker.log()
        assert not (tmp_path / "state").exists()
    finally:
        worker.close()


def test_an_app_on_the_test_models_needs_with_testing(tmp_path: Path) -> None:
    """A Worker ships no helix_agents.testing, as a deployed one: an app that imports it is
    refused before anything starts, with the flag that ships it named."""
    write_app(tmp_path)  # myagents.py runs on FunctionModel
    worker = HelixWorker(tmp_path, tmp_path / "state", app="myagents:registry").start()
    try:
        assert worker.process is not None
        code = worker.process.wait(60)
        assert code != 0
        assert "myagents:registry imports helix_agents.testing" in worker.log()
        assert "pass --with-testing to include it here" in worker.log()
        assert not (tmp_path / "state").exists()
    finally:
        worker.close()


# -- without --app: the bundled examples on the demo model ----------------------------------------


@pytest.fixture(scope="module")
def examples_worker(
    runtime: PreparedRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelixWorker]:
    root = tmp_path_factory.mktemp("examples-worker")
    worker = HelixWorker(root, root / "state", app=None).start()
    try:
        worker.wait_ready()
        yield worker
        stop_cleanly(worker)
    finally:
        worker.close()


def test_the_examples_are_served(examples_worker: HelixWorker) -> None:
    agents = httpx.get(examples_worker.url + "/agents", timeout=30).json()["agents"]
    assert sorted(a["name"] for a in agents) == ["assistant", "docs", "manager", "ops", "planner"]
    page = httpx.get(examples_worker.url + "/", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_the_assistant_calculates_on_the_demo_model(examples_worker: HelixWorker) -> None:
    response, chunks = chat(examples_worker.url, "assistant", "what is 12*7", "calc")
    assert response.status_code == 200
    tools = [c for c in chunks if c["type"] == "tool-input-available"]
    assert [(t["toolName"], t["input"]) for t in tools] == [("calculate", {"expression": "12*7"})]
    assert text_of(chunks).endswith("12*7 = 84.")
    state = snapshot(examples_worker.url, "calc")
    assert state["status"] == "completed"
    assert state["output"] == "12*7 = 84."


def test_the_shipped_worker_holds_no_test_code(examples_worker: HelixWorker) -> None:
    """The site of the shipped app vendors helix-agents whole, as pywrangler would, and its
    config leaves testing/ and workerd/ out, as the deployed worker/wrangler.toml does."""
    site = examples_worker.state_dir / "site"
    config = json.loads((site / "wrangler.json").read_text(encoding="utf-8"))
    assert config["python_modules"] == {
        "exclude": ["**/*.pyc", "helix_agents/testing/**", "helix_agents/workerd/**"]
    }
    assert (site / "python_modules" / "helix_agents" / "testing" / "models.py").is_file()


def test_a_test_model_named_on_the_shipped_worker_is_a_configuration_error(
    runtime: PreparedRuntime, tmp_path: Path
) -> None:
    """HELIX_MODEL=test on a Worker without helix_agents.testing (left out by the config, so
    this also shows the exclude holds inside workerd): the run fails with a message that
    names HELIX_MODEL, not with an ImportError."""
    worker = HelixWorker(tmp_path, tmp_path / "state", app=None, env={"HELIX_MODEL": "test"})
    worker.start()
    try:
        worker.wait_ready()
        response, chunks = chat(worker.url, "assistant", "what is 12*7", "tm")
        assert response.status_code == 200
        errors = [c["errorText"] for c in chunks if c["type"] == "error"]
        assert len(errors) == 1, chunks
        assert "model 'test' is the test double helix_agents.testing.TestModel" in errors[0]
        assert "set HELIX_MODEL" in errors[0]
        assert "No module named" not in errors[0]
        assert snapshot(worker.url, "tm")["status"] == "failed"
        stop_cleanly(worker)
    finally:
        worker.close()
