"""The session commands beside a running ``helix dev`` (they become its HTTP clients), the
human-in-the-loop commands, and how the command behaves at its edges: Ctrl-C, a closed
pipe, a mistyped session, an app outside the current directory. Real subprocesses, real
sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helix_agents.workerd.process import free_port

from .test_cli import MODEL_ENV, ROOT

pytestmark = pytest.mark.timeout(120)
APP = "tests.cli.app:everything"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in MODEL_ENV}


def helix(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helix_agents.cli", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def session_of(out: subprocess.CompletedProcess[str]) -> str:
    """The session id of the last ``[status] session ID`` line."""
    [line] = [x for x in out.stdout.splitlines() if x.startswith("[")][-1:]
    return line.split()[-1]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One ``helix dev`` serving the test app, on a data dir of its own, for this module."""
    tmp_path = tmp_path_factory.mktemp("dev")
    data, port = tmp_path / "data", free_port()
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helix_agents.cli",
            "dev",
            "--app",
            APP,
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            assert process.poll() is None, (tmp_path / "dev.log").read_text()
            time.sleep(0.1)
        assert (data / "host.url").read_text().strip() == url
        yield data, url
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 130  # Ctrl-C, as documented
        assert not (data / "host.url").exists()  # withdrawn when the server stops
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def test_run_talks_to_a_running_dev_and_approves_from_the_cli(dev: tuple[Path, str]) -> None:
    data, url = dev
    d = ("--data-dir", str(data))
    out = helix("run", "shouter", "hi", *d)
    assert out.returncode == 0, out.stderr
    assert f"talking to helix dev at {url}" in out.stderr
    assert "← HI" in out.stdout
    assert "I shouted: HI" in out.stdout

    waiting = helix("run", "ops", "Deploy billing 1.5.0", *d)
    assert waiting.returncode == 3, waiting.stderr
    session = session_of(waiting)
    assert f"[suspended_client_tool] session {session}" in waiting.stdout
    # It says what to do next, with the commands to paste.
    assert "waits for your approval" in waiting.stderr
    assert f"helix approve {session} --call " in waiting.stderr
    assert f"helix deny {session} --call " in waiting.stderr

    approved = helix("approve", session, *d)
    assert approved.returncode == 0, approved.stderr
    assert "billing 1.5.0 is rolling out" in approved.stdout
    assert f"[completed] session {session}" in approved.stdout
    # The server's own record agrees.
    assert httpx.get(f"{url}/chat/{session}").json()["status"] == "completed"
    # `sessions` reads the same data dir beside the running host.
    listing = helix("sessions", *d)
    assert listing.returncode == 0, listing.stderr
    assert session in listing.stdout


def test_deny_with_a_reason_and_answer_a_client_tool_through_dev(
    dev: tuple[Path, str],
) -> None:
    data, url = dev
    d = ("--data-dir", str(data))
    session = session_of(helix("run", "ops", "Deploy billing 1.5.0", *d))
    denied = helix("deny", session, "--reason", "freeze week", *d)
    assert denied.returncode == 0, denied.stderr
    assert "not approved" in denied.stdout
    parts = httpx.get(f"{url}/chat/{session}").json()["messages"][-1]["parts"]
    [deploy] = [p for p in parts if p["type"] == "tool-deploy"]
    assert deploy["approval"]["reason"] == "freeze week"

    asked = helix("run", "asker", "go", *d)
    assert asked.returncode == 3
    session = session_of(asked)
    assert f"helix answer {session} '<result as JSON>' --call " in asked.stderr
    answered = helix("answer", session, '"teal"', *d)
    assert answered.returncode == 0, answered.stderr
    assert "you picked teal" in answered.stdout
    # Nothing waits any more: a second answer is refused, with a message.
    again = helix("answer", session, '"red"', *d)
    assert again.returncode == 2
    assert "waits for a client tool's result" in again.stderr


def test_a_mistyped_session_is_an_error_not_a_new_session(
    dev: tuple[Path, str], tmp_path: Path
) -> None:
    data, _ = dev
    remote = helix("run", "shouter", "hi", "--session", "s_typo", "--data-dir", str(data))
    assert remote.returncode == 2
    assert "session 's_typo' not found" in remote.stderr
    local = helix(
        "run", "--app", APP, "shouter", "hi", "--session", "s_typo",
        "--data-dir", str(tmp_path / "local"),
    )  # fmt: skip
    assert local.returncode == 2
    assert "session 's_typo' not found" in local.stderr
    assert "Traceback" not in local.stderr + remote.stderr
    assert helix("sessions", "--data-dir", str(tmp_path / "local")).stdout == ""


def test_local_approve_deny_answer_without_a_server(tmp_path: Path) -> None:
    d = ("--app", APP, "--data-dir", str(tmp_path))
    session = session_of(helix("run", "ops", "Deploy billing 1.5.0", *d))
    wrong = helix("answer", session, "1", *d)  # an approval waits, not a client tool
    assert wrong.returncode == 2
    assert "nothing in session" in wrong.stderr
    denied = helix("deny", session, "--reason", "no", *d)
    assert denied.returncode == 0, denied.stderr
    assert "[completed]" in denied.stdout
    session = session_of(helix("run", "asker", "go", *d))
    failed = helix("answer", session, "the picker crashed", "--error", *d)
    assert failed.returncode == 0, failed.stderr
    assert "you picked the picker crashed" in failed.stdout


def _interrupted_run(args: list[str]) -> tuple[int, str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "helix_agents.cli", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.read(3) == "w0 "  # the run is under way
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_ctrl_c_says_what_happened_to_the_run_and_how_to_follow_it(
    tmp_path: Path, dev: tuple[Path, str]
) -> None:
    code, _, err = _interrupted_run(
        ["run", "--app", APP, "slow", "go", "--data-dir", str(tmp_path)]
    )
    assert code == 130
    assert "Traceback" not in err
    assert "is saved, unfinished" in err
    session = err.split("helix attach ")[1].split()[0]
    followed = helix("attach", session, "--app", APP, "--data-dir", str(tmp_path))
    assert followed.returncode == 0, followed.stderr
    assert "w29" in followed.stdout
    assert f"[completed] session {session}" in followed.stdout

    data, url = dev
    code, _, err = _interrupted_run(["run", "slow", "go", "--data-dir", str(data)])
    assert code == 130
    assert "Traceback" not in err
    assert f"goes on in helix dev ({url}" in err
    session = err.split("helix attach ")[1].split()[0]
    followed = helix("attach", session, "--data-dir", str(data))
    assert followed.returncode == 0, followed.stderr
    assert f"[completed] session {session}" in followed.stdout


def test_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helix_agents.cli",
            "run",
            "--app",
            APP,
            "slow",
            "go",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.read(3)
    process.stdout.close()  # as `| head -c 3` does
    err = process.stderr.read().decode()
    assert process.wait(30) == 141
    assert "Traceback" not in err
    assert "BrokenPipe" not in err


def test_app_from_a_file_outside_the_current_directory(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "helper.py").write_text("GREETING = 'hello from a sibling module'\n")
    (project / "my_agents.py").write_text(
        "from helix_agents import Agent\n"
        "from helix_agents.testing import FunctionModel\n"
        "from helper import GREETING\n"
        "agents = [Agent(name='greeter', model=FunctionModel(lambda m, i: GREETING))]\n"
    )
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    out = helix(
        "run", "--app", str(project / "my_agents.py") + ":agents", "greeter", "hi",
        "--data-dir", str(tmp_path / "d"), cwd=cwd,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "hello from a sibling module" in out.stdout
    relative = helix(
        "run", "--app", "../elsewhere/my_agents.py:agents", "greeter", "hi",
        "--data-dir", str(tmp_path / "d"), cwd=cwd,
    )  # fmt: skip
    assert relative.returncode == 0, relative.stderr
    missing = helix("run", "--app", "nowhere/agents.py:x", "a", "m", cwd=cwd)
    assert missing.returncode == 2
    assert "no file" in missing.stderr


def test_app_from_a_package_outside_the_current_directory(tmp_path: Path) -> None:
    package = tmp_path / "project" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("GREETING = 'hello from a package'\n")
    (package / "agents.py").write_text(
        "from helix_agents import Agent\n"
        "from helix_agents.testing import FunctionModel\n"
        "from .helpers import GREETING\n"  # a relative import: imported as mypkg.agents
        "registry = [Agent(name='greeter', model=FunctionModel(lambda m, i: GREETING))]\n"
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    d = ("--data-dir", str(tmp_path / "d"))
    by_file = helix("run", "--app", "../project/mypkg/agents.py:registry", "greeter", "hi", *d,
                    cwd=cwd)  # fmt: skip
    assert by_file.returncode == 0, by_file.stderr
    assert "hello from a package" in by_file.stdout
    # An import path is looked up on PYTHONPATH; without it, the error says what to do.
    not_found = helix("run", "--app", "mypkg.agents:registry", "greeter", "hi", *d, cwd=cwd)
    assert not_found.returncode == 2
    assert "No module named 'mypkg'" in not_found.stderr
    assert "--app path/to/module.py:ATTR" in not_found.stderr
    env = {**_env(), "PYTHONPATH": str(tmp_path / "project")}
    by_import = subprocess.run(
        [sys.executable, "-m", "helix_agents.cli", "run", "--app", "mypkg.agents:registry",
         "greeter", "hi", *d],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert by_import.returncode == 0, by_import.stderr
    assert "hello from a package" in by_import.stdout


def test_help_documents_exit_codes_and_app_forms() -> None:
    out = helix("run", "--help")
    assert out.returncode == 0
    for text in ("exit codes:", "130", "141", "path/to/file.py:ATTR", "helix approve"):
        assert text in " ".join(out.stdout.split()), text


def test_a_data_dir_held_by_another_run_is_a_clear_refusal(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "helix_agents.cli", "run", "--app", APP, "slow", "go",
         "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.read(3) == "w0 "  # it holds the data dir now
        second = helix("run", "--app", APP, "shouter", "hi", "--data-dir", str(tmp_path))
        assert second.returncode == 2
        assert "in use by another helix command" in second.stderr
        assert f"(pid {process.pid})" in second.stderr
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _following_long(args: list[str]) -> subprocess.Popen[str]:
    """A ``helix run long`` that is under way (its first word printed)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "helix_agents.cli", "run", "long", "go", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.read(3) == "w0 "
    return process


def test_interrupt_and_abort_through_a_running_dev(dev: tuple[Path, str]) -> None:
    data, url = dev
    d = ("--data-dir", str(data))
    follower = _following_long(list(d))
    try:
        listing = helix("sessions", *d).stdout.splitlines()
        [session] = [line.split()[0] for line in listing if line.split()[-1] == "active"]
        stopped = helix("interrupt", session, "--reason", "enough", *d)
        assert stopped.returncode == 0, stopped.stderr
        assert f"[interrupted] session {session}" in stopped.stdout
        assert f"helix resume {session}" in stopped.stderr
        # The terminal that followed the run sees it end, and is told how to go on.
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 3
        assert f"[interrupted] session {session}" in out
        assert "w599" not in out  # cut short, not run to the end
        assert f"helix resume {session}" in err
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    again = helix("interrupt", session, *d)  # nothing active any more
    assert again.returncode == 2
    assert "has no active run" in again.stderr
    # An interrupted run can still be aborted, once.
    aborted = helix("abort", session, "--reason", "not needed", *d)
    assert aborted.returncode == 0, aborted.stderr
    assert f"[aborted] session {session}" in aborted.stdout
    assert httpx.get(f"{url}/chat/{session}").json()["status"] == "aborted"
    twice = helix("abort", session, *d)
    assert twice.returncode == 2
    assert "no run to abort" in twice.stderr
    unknown = helix("abort", "s_typo", *d)
    assert unknown.returncode == 2
    assert "session 's_typo' not found" in unknown.stderr
    # A run waiting for an approval can be aborted too: nothing is left waiting.
    asked = helix("run", "ops", "Deploy billing 1.5.0", *d)
    assert asked.returncode == 3, asked.stdout + asked.stderr
    waiting = session_of(asked)
    dropped = helix("abort", waiting, *d)
    assert dropped.returncode == 0, asked.stdout + asked.stderr + dropped.stderr
    refused = helix("approve", waiting, *d)
    assert refused.returncode == 2
    assert "waits for an approval" in refused.stderr


def test_interrupt_and_abort_without_a_server(tmp_path: Path) -> None:
    d = ["--app", APP, "--data-dir", str(tmp_path)]
    code, _, err = _interrupted_run(["run", *d, "long", "go"])
    assert code == 130
    session = err.split("helix attach ")[1].split()[0]
    # The run was left unfinished: this command's host picks it up and stops it.
    stopped = helix("interrupt", session, *d)
    assert stopped.returncode == 0, stopped.stderr
    assert f"[interrupted] session {session}" in stopped.stdout
    aborted = helix("abort", session, *d)
    assert aborted.returncode == 0, aborted.stderr
    assert f"[aborted] session {session}" in aborted.stdout
    assert helix("abort", session, *d).returncode == 2
    assert helix("resume", session, *d).returncode == 2  # aborted is final
