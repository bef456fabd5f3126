"""``helix worker`` as a subprocess, started and stopped as a user does in a terminal, and
the small HTTP client the tests of the real Worker use.

Every process the command starts (wrangler, its CLI child, workerd) is found through
``/proc`` while it runs, so a test can check that none is left once the command exits,
and the teardown kills whatever a failed test left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from helix_agents.workerd.process import free_port

HELIX = Path(sys.executable).with_name("helix")

#: What a Worker's environment must not inherit from the tests' (the model and auth settings
#: ``helix worker`` passes on).
_PASSED = (
    "HELIX_MODEL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "HELIX_OPENAI_MODEL",
    "HELIX_API_TOKEN",
    "HELIX_CORS_ORIGINS",
)

#: The test app (``myagents.py``): an echo agent and a slow one on FunctionModel, and the
#: ``ops`` example on the demo model, its deploys waiting seconds, not an hour, for approval
#: (a tool's own ``expires_in`` counts for its calls, the agent's is for the others).
APP_SOURCE = '''\
"""The app of tests/workerd, served by ``helix worker --app myagents:registry``."""

import asyncio

from helix_agents import Agent, tool
from helix_agents.examples import check_service
from helix_agents.testing import FunctionModel, call_tool

EXPIRES_IN = {expires_in}
SLOW_WORDS = {slow_words}
SLOW_DELAY = {slow_delay}


def _echo(messages, info):
    return "echo: " + [m for m in messages if m.role == "user"][-1].content


@tool
def lookup(city: str) -> dict:
    """The sky over a city."""
    return {{"city": city, "sky": "clear"}}


@tool(requires_approval=True, expires_in=EXPIRES_IN)
def deploy(service: str, version: str) -> str:
    """Deploy a version of a service (a human approves each deploy first)."""
    return f"{{service}} {{version}} is rolling out"


async def _slow(messages, info):
    if not info.tool_results:
        yield call_tool("lookup", city="Paris")
        return
    for i in range(SLOW_WORDS):
        yield f"w{{i}} "
        await asyncio.sleep(SLOW_DELAY)


registry = [
    Agent(name="echo", model=FunctionModel(_echo)),
    Agent(name="slow", tools=[lookup], model=FunctionModel(stream_function=_slow)),
    Agent(
        name="ops",
        tools=[check_service, deploy],
        model="demo",
    ),
]
'''


def write_app(
    folder: Path, *, expires_in: float = 4.0, slow_words: int = 60, slow_delay: float = 0.1
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "myagents.py"
    path.write_text(
        APP_SOURCE.format(expires_in=expires_in, slow_words=slow_words, slow_delay=slow_delay),
        encoding="utf-8",
    )
    return path


def slow_text(words: int = 60) -> str:
    return "".join(f"w{i} " for i in range(words))


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            with contextlib.suppress(OSError):
                found[child] = (
                    Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
            todo.append(child)
    return found


def alive(processes: dict[int, str]) -> dict[int, str]:
    """The ones of ``processes`` still running (the same pid with the same command line)."""
    out = {}
    for pid, cmdline in processes.items():
        try:
            now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if now == cmdline and state != "Z":
            out[pid] = cmdline
    return out


def _default_sigint() -> None:
    # A shell without job control starts background commands with SIGINT ignored; the
    # command is meant to get it as from a terminal's Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class HelixWorker:
    """One ``helix worker`` run: ``start``, ``wait_ready``, ``interrupt``; ``close`` kills
    whatever is left (the teardown of a failed test)."""

    def __init__(
        self,
        cwd: Path,
        state_dir: Path,
        *,
        app: str | None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        with_testing: bool = False,
    ) -> None:
        self.cwd = cwd
        self.state_dir = state_dir
        self.app = app
        # The test app runs on FunctionModel: `--with-testing` ships helix_agents.testing.
        self.with_testing = with_testing
        self.port = port or free_port()
        # A port of our choosing may be taken between free_port() and wrangler's bind (the
        # previous Worker's workerd still holding it as it exits, or another process): then
        # the start is retried on another (only when the caller did not name the port).
        self._port_retries = 0 if port else 2
        self.extra_env = env or {}
        self.log_path = state_dir.parent / f"helix-worker-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: dict[int, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        app = ["--app", self.app] if self.app else []
        if self.with_testing:
            app.append("--with-testing")
        return [
            str(HELIX), "worker", *app,
            "--port", str(self.port), "--state-dir", str(self.state_dir),
        ]  # fmt: skip

    def start(self) -> HelixWorker:
        env = {k: v for k, v in os.environ.items() if k not in _PASSED}
        env.update(self.extra_env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )
        return self

    def log(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Until ``GET /health`` answers 200; the seconds it took."""
        assert self.process is not None
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                if self._port_retries and "Address already in use" in self.log(lines=20):
                    self._port_retries -= 1
                    self.port = free_port()
                    self.start()
                    continue
                raise AssertionError(
                    f"helix worker exited ({self.process.returncode}):\n{self.log()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=30).status_code == 200:
                    self.seen.update(descendants(self.process.pid))
                    return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"the Worker did not answer within {timeout:.0f} s:\n{self.log()}")

    def interrupt(self, signum: int = signal.SIGINT, timeout: float = 20.0) -> tuple[int, float]:
        """Send ``signum`` to the command (to it alone, as a terminal's Ctrl-C now reaches
        only it); its exit code and the seconds it took to exit."""
        assert self.process is not None
        self.seen.update(descendants(self.process.pid))
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def leftovers(self, grace: float = 3.0) -> dict[int, str]:
        """The processes the command started that still run (after a short grace)."""
        deadline = time.monotonic() + grace
        left = alive(self.seen)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = alive(self.seen)
        return left

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.seen.update(descendants(self.process.pid))
            self.process.kill()
            self.process.wait()
        for pid in alive(self.seen):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# -- the HTTP API ---------------------------------------------------------------------------------


def headers(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def sse_chunks(body: str) -> list[dict[str, Any]]:
    """The UI chunks of an SSE body (``[DONE]`` left out)."""
    out = []
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[len("data: ") :]))
    return out


def chat(
    url: str, agent: str, message: str, session: str, *, token: str | None = None
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """``POST /chat`` (the Helix body); the response and its chunks, read to the end."""
    response = httpx.post(
        url + "/chat",
        json={"agentType": agent, "message": message, "sessionId": session},
        headers=headers(token),
        timeout=120,
    )
    return response, sse_chunks(response.text)


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c["type"] == "text-delta")


def snapshot(url: str, session: str, *, token: str | None = None) -> dict[str, Any]:
    response = httpx.get(f"{url}/chat/{session}", headers=headers(token), timeout=60)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def wait_for_status(
    url: str, session: str, statuses: set[str], *, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = snapshot(url, session)
        if state["status"] in statuses or time.monotonic() > deadline:
            return state
        time.sleep(0.25)
