"""``helix new``: a project scaffolded in a temporary folder, with helix-agents from the
wheel ``uv build`` makes, set up with ``uv sync`` (offline, from uv's cache of the
repository's own set-up), its tests run, served by ``helix dev`` and by ``helix worker``
(the real Python Worker in local workerd)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helix_agents.workerd.process import free_port

from .test_cli import MODEL_ENV, ROOT

pytestmark = pytest.mark.timeout(300)
UV = next(
    (str(p) for p in (ROOT / ".tools" / "venv" / "bin" / "uv",) if p.exists()),
    shutil.which("uv"),
)
if UV is None:
    pytest.skip("uv is not installed (`make install` installs it)", allow_module_level=True)
#: What would point uv at the repository's own environment (the Makefile exports it) or a
#: real model: never inherited by the new project.
_STRIPPED = (*MODEL_ENV, "UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV", "HELIX_API_TOKEN")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert UV is not None
    tmp = tmp_path_factory.mktemp("new")
    run([UV, "build", "--wheel", "--offline", "--out-dir", str(tmp / "dist")], cwd=ROOT)
    [wheel] = (tmp / "dist").glob("helix_agents-*.whl")
    root = tmp / "my-agents"
    made = run(
        [sys.executable, "-m", "helix_agents.cli", "new", str(root), "--helix-source", str(wheel)],
        cwd=tmp,
    )
    assert "uv run helix dev" in made.stdout
    # Offline, from uv's cache (the repository's set-up filled it); the package index only if
    # something is missing there.
    synced = subprocess.run(
        [UV, "sync", "--offline"], cwd=root, env=_env(), capture_output=True, text=True
    )
    if synced.returncode != 0:
        run([UV, "sync"], cwd=root, timeout=240)
    return root


def test_the_layout_is_a_python_worker_project(project: Path) -> None:
    wrangler = tomllib.loads((project / "wrangler.toml").read_text())
    assert wrangler["main"] == "src/entry.py"
    assert wrangler["compatibility_date"] >= "2026-09-08"  # Python 3.14 on Pyodide
    assert wrangler["compatibility_flags"] == ["python_workers"]
    assert wrangler["d1_databases"][0]["binding"] == "DB"
    assert wrangler["durable_objects"]["bindings"][0]["class_name"] == "StreamManagerDO"
    assert wrangler["workflows"][0]["class_name"] == "AgentWorkflow"
    assert "helix_agents/testing/**" in wrangler["python_modules"]["exclude"]
    migrations = project / wrangler["d1_databases"][0]["migrations_dir"]
    assert sorted(p.name for p in migrations.glob("*.sql")) == [
        "0001_v9_schema.sql",
        "0002_step_commits.sql",
        "0003_schedules.sql",
        "0004_checkpoints.sql",
        "0005_summaries.sql",
        "0006_claimed_firings.sql",
        "0007_checkpoint_lookups.sql",
    ]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == ["helix-agents"]
    assert pyproject["tool"]["uv"]["sources"]["helix-agents"]["path"].endswith(".whl")
    readme = (project / "README.md").read_text()
    for command in (
        "uv run helix dev",
        "uv run pytest",
        "uv run helix worker",
        "pywrangler deploy",
    ):
        assert command in readme
    # The wheel's `helix` (not the repository's) is the project's.
    assert UV is not None
    where = run([UV, "run", "--offline", "python", "-c", "import helix_agents; print(helix_agents.__file__)"], cwd=project)  # fmt: skip
    assert where.stdout.strip().startswith(str(project / ".venv"))
    helped = run([UV, "run", "--offline", "helix", "--help"], cwd=project)
    assert "exit codes:" in helped.stdout


def test_its_tests_pass_offline(project: Path) -> None:
    assert UV is not None
    out = run([UV, "run", "--offline", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert "2 passed" in out.stdout


@contextlib.contextmanager
def _serving(cmd: list[str], cwd: Path, url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as sink:
        process = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/health", timeout=5).status_code == 200:
                        break
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
            yield
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_helix_dev_serves_it_and_helix_run_talks_to_it(project: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    helix = str(project / ".venv" / "bin" / "helix")
    with _serving([helix, "dev", "--port", str(port)], project, url, project / "dev.log"):
        assert httpx.get(url + "/agents").json()["agents"][0]["name"] == "assistant"
        page = httpx.get(url + "/")  # the chat page, from the wheel's package data
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        out = run([helix, "run", "assistant", "What is the weather in Paris?"], cwd=project)
        assert f"talking to helix dev at {url}" in out.stderr
        assert '→ get_weather({"city": "Paris"})' in out.stdout
        assert out.stdout.splitlines()[-1].startswith("[completed] session ")
    assert not (project / ".helix" / "host.url").exists()


def test_helix_worker_serves_it_on_the_real_worker_runtime(project: Path, tmp_path: Path) -> None:
    from helix_agents.workerd.tooling import CACHE_ENV, NODE_MODULES_ENV, Tooling
    from tests.workerd.helix_worker import HelixWorker

    os.environ.setdefault(NODE_MODULES_ENV, str(ROOT / "node_modules"))
    os.environ.setdefault(CACHE_ENV, str(ROOT / ".cache" / "helix"))
    if Tooling(Path(os.environ[NODE_MODULES_ENV]).resolve()).missing():
        pytest.skip("the Node tooling is not installed: `make install-worker` installs it")
    # No --app: the project's [tool.helix] app, as `uv run helix worker` in its folder.
    worker = HelixWorker(project, tmp_path / "state", app=None)
    try:
        worker.start().wait_ready()
        agents = httpx.get(worker.url + "/agents", timeout=30).json()["agents"]
        assert [a["name"] for a in agents] == ["assistant"]
        reply = httpx.post(
            worker.url + "/chat",
            json={"agentType": "assistant", "message": "What is the weather in Paris?"},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert '"toolName":"get_weather"' in reply.text.replace(" ", "")
        assert '"temperature_c":18' in reply.text.replace(" ", "")
        code, _ = worker.interrupt()
        assert code in (0, 130)
    finally:
        worker.close()


@pytest.mark.parametrize(
    ("name", "message"),
    [("full", "already exists and is not empty"), ("Bad_Name!", "cannot name a Worker")],
)
def test_new_refuses_what_it_cannot_write(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    out = subprocess.run(
        [sys.executable, "-m", "helix_agents.cli", "new", str(tmp_path / name)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "Bad_Name!").exists()
