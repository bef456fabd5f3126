"""Real Workers for the HTTP suites: ``make_server`` over the real Python Worker runtime.

``make_server(*agents, **options)`` turns its arguments into a :class:`Config`: the app
configuration (the agents' names, the HTTP options) and the Worker's env (what a Worker
reads from its env: ``HELIX_API_TOKEN``, ``HELIX_CORS_ORIGINS``, and ``HELIX_AUTH=none``:
the explicit opt-out a Worker without a token needs). :class:`WorkerPool` hands
out a running Worker with that env, started on first use (``wrangler dev --local``, ~7 s),
reused, and killed at the end of the session; the server's URL is the Worker's, under the
path that mounts the app configuration (``tests.worker_real.app``). So the suites' many
configurations need only a few Workers.

The suites use fixed session ids, and each test function uses its own. So once a test left
sessions on a Worker, that Worker serves no other test of the same function (the parameters
of ``random_cuts[...]`` get a Worker each), and tests never meet each other's sessions.
At most :data:`MAX_ALIVE` Workers run at once (each holds ~700 MB); the least recently used
one is killed when another must start.

What the suites reach beyond HTTP is mapped onto the Worker (:class:`RealServer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from helix_agents import Agent
from helix_agents.http import create_app
from helix_agents.http.auth import AUTH_ENV
from helix_agents.workerd import AppSpec, LocalWorker
from helix_agents.workerd.launch import local_worker
from tests.http.harness import LoopbackClients
from tests.worker_real.app import CONFIG_VAR, OUTAGE_PATH, RELAY_VAR, SESSIONS_PATH, mount_path

from .relay import Relay, Relayed, describe

__all__ = [
    "MAX_ALIVE",
    "Config",
    "LoggedErrors",
    "RealServer",
    "RealServers",
    "WorkerPool",
    "config_of",
]

ROOT = Path(__file__).resolve().parents[2]
# The suites run on the test models: this Worker ships helix_agents.testing (a deployed one
# never does; tests/wrangler/test_deploy_dry_run.py).
APP = AppSpec("tests.worker_real.app:app", ROOT, with_testing=True)
#: Workers running at once (``HELIX_WORKER_REAL_MAX_ALIVE`` overrides).
MAX_ALIVE = int(os.environ.get("HELIX_WORKER_REAL_MAX_ALIVE", "4"))
#: ``create_app`` options a Worker takes from its configuration as they are (JSON).
_JSON_OPTIONS = ("token", "max_body_bytes", "keep_alive", "chat_page_enabled", "ui_version")
#: The suites' authentication hooks, by their function: the hook ``app.HOOKS`` ships for it.
_HOOKS = {"tests.http.test_auth:test_custom_hooks.<locals>.hook": "custom_hooks"}

Env = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Config:
    """What ``make_server`` asks for: ``app`` is the JSON app configuration that
    ``tests.worker_real.app`` serves, ``env`` the Worker's env it needs."""

    app: str
    env: Env


def config_of(agents: tuple[Agent, ...], options: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
    """The configuration ``make_server(*agents, **options)`` asks for, and the options of a
    local ``create_app`` of the same API (what a test reads of ``server.app``)."""
    options = dict(options)
    env = dict(options.pop("environ", None) or {})
    # A Worker with no token refuses every API request unless it opts out explicitly: the
    # suites' Workers do (a token, where a test configures one, still wins; and one env for
    # all keeps the Workers few). test_fail_closed.py starts one without.
    env.setdefault(AUTH_ENV, "none")
    origins = list(options.pop("cors_origins", None) or [])
    if origins:
        env["HELIX_CORS_ORIGINS"] = ",".join(origins)
    app: dict[str, Any] = {"agents": [a.name for a in agents], "http": {}}
    local: dict[str, Any] = {"environ": env, "cors_origins": origins}
    hook = options.pop("auth", None)
    if hook is not None:
        name = _HOOKS.get(f"{hook.__module__}:{hook.__qualname__}")
        if name is None:
            raise LookupError(f"the auth hook {hook!r} is not shipped to the Worker (app.HOOKS)")
        app["auth"] = name
        local["auth"] = hook
    for key in _JSON_OPTIONS:
        if key in options:
            app["http"][key] = local[key] = options.pop(key)
    if options:
        raise TypeError(f"options the Worker tier cannot pass: {sorted(options)}")
    return Config(json.dumps(app, sort_keys=True), tuple(sorted(env.items()))), local


# -- the Workers ---------------------------------------------------------------------------------


@dataclass
class RealWorker:
    """One running Worker, and the tests it served (by item, and by test function: the
    parameters of one function share their session ids)."""

    slot: str
    env: Env
    local: LocalWorker
    functions: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    used: float = 0.0

    @property
    def url(self) -> str:
        return self.local.url

    def may_serve(self, item: str) -> bool:
        return item in self.items or _function(item) not in self.functions

    def served(self, item: str, sessions: set[str]) -> None:
        """``item`` ended with ``sessions`` in D1: a test that left some behind takes the
        Worker from its function's other tests."""
        if sessions - self.sessions:
            self.functions.add(_function(item))
        self.sessions = sessions

    def error_lines(self, since: int = 0) -> list[str]:
        """Errors the Worker logged after line ``since``: Python's ``ERROR``/``CRITICAL``
        records (as app.py formats them) and the runtime's uncaught errors and crashes.
        (wrangler marks every line a Worker writes to stderr ``[ERROR]``, warnings too.)"""
        lines = (_STDERR.sub("", line) for line in self._log_lines()[since:])
        return [line for line in lines if _ERROR_LINE.match(line)]

    def log_length(self) -> int:
        return len(self._log_lines())

    def _log_lines(self) -> list[str]:
        try:
            text = self.local.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return _ANSI.sub("", text).splitlines()


def _function(item: str) -> str:
    return item.split("[", 1)[0]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STDERR = re.compile(r"^\s*✘ \[ERROR\] ")
_ERROR_LINE = re.compile(
    r"(?:ERROR|CRITICAL) [\w.]+: |Uncaught |\*\*\* Fatal |Pyodide has suffered a fatal error"
    r"|Error inside ProxyWorker|\[wrangler:warn\] The Workers runtime crashed"
)


class WorkerPool:
    """The session's Workers, by env (see the module docstring)."""

    def __init__(self, root: Path, relay: Relay, *, max_alive: int = MAX_ALIVE) -> None:
        self.root = root
        self.relay = relay
        self.max_alive = max_alive
        self.workers: list[RealWorker] = []
        self.started: list[tuple[Env, float]] = []  # (env, seconds to start)

    def get(self, env: Env, item: str) -> RealWorker:
        """A running Worker with ``env`` that may serve the test ``item`` (a node id)."""
        chosen = next((w for w in self.workers if w.env == env and w.may_serve(item)), None)
        if chosen is None:
            chosen = self._start(env, item)
        chosen.items.add(item)
        chosen.used = time.monotonic()
        return chosen

    def _start(self, env: Env, item: str) -> RealWorker:
        idle = [w for w in self.workers if item not in w.items]
        while len(idle) >= self.max_alive:
            oldest = min(idle, key=lambda w: w.used)
            oldest.local.kill()
            self.workers.remove(oldest)
            idle.remove(oldest)
        slot = f"w{len(self.started) + 1}"
        variables = {**dict(env), RELAY_VAR: self.relay.base(slot)}
        local = local_worker(
            app=APP,
            state_dir=self.root / slot,
            environ={},
            extra_vars=variables,
            open_without_token=False,  # only the env asked for
        )
        started = time.monotonic()
        local.start()
        try:
            local.wait_ready()
        except Exception:
            local.kill()
            raise
        self.started.append((env, time.monotonic() - started))
        worker = RealWorker(slot, env, local)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.local.kill()
        self.workers.clear()


# -- the server a suite's test sees --------------------------------------------------------------


class _NoExecutor:
    """What ``create_app`` is given to build the local twin of a Worker's API (its routes
    and document); nothing reaches it."""


@dataclass
class RealServer(LoopbackClients):
    """``make_server``'s answer: ``url``/``ws_url``/``client()`` reach the app on the
    Worker; ``app`` is a local ``create_app`` with the same options (what the suites read of
    its routes); ``host`` maps what the suites do to a host onto the Worker."""

    worker: RealWorker
    url: str
    app: Any
    host: HostView

    async def stop(self) -> None:
        """Nothing to stop: the Worker belongs to the pool (the test's end releases it)."""


class HostView:
    """``host.executor.get_handle(id).result()`` (a run awaited through the snapshot) and
    ``host.streams.close()`` (the stream manager going down under its readers: the
    Durable Objects of the active sessions fail every call from then on)."""

    def __init__(self, url: str, worker_url: str) -> None:
        self.url = url
        self.worker_url = worker_url
        self.executor = self
        self.streams = self
        self.down: list[str] = []

    async def get_handle(self, session_id: str) -> RemoteHandle:
        return RemoteHandle(self.url, session_id)

    async def close(self) -> None:
        self.down += await self._outage(down=True, sessions=None)

    async def heal(self) -> None:
        if self.down:
            await self._outage(down=False, sessions=self.down)
            self.down = []

    async def _outage(self, *, down: bool, sessions: list[str] | None) -> list[str]:
        async with httpx.AsyncClient(base_url=self.worker_url, timeout=30) as client:
            res = await client.post(OUTAGE_PATH, json={"down": down, "sessions": sessions})
        res.raise_for_status()
        answer: list[str] = res.json()["sessions"]
        return answer


@dataclass
class RunView:
    status: str


@dataclass
class RemoteHandle:
    """A session's latest run, awaited by reading its snapshot."""

    url: str
    session_id: str

    async def result(self, timeout: float = 30.0) -> RunView:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            while True:
                snapshot = (await client.get(f"/chat/{self.session_id}")).json()
                if snapshot["status"] != "active":
                    return RunView(snapshot["status"])
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.session_id} is still active after {timeout} s")
                await asyncio.sleep(0.05)


class RealServers:
    """The ``make_server`` of one test: Workers from the pool, the test's agents registered
    with the relay (their gates forwarded as they open); on :meth:`close`, every gate of
    the test opened and every outage it caused healed, so its runs finish."""

    def __init__(self, pool: WorkerPool, item: str) -> None:
        self.pool = pool
        self.item = item
        self.servers: list[RealServer] = []
        self._forwarders: list[asyncio.Future[None]] = []

    async def make(self, *agents: Agent, **options: Any) -> RealServer:
        config, local_options = config_of(agents, options)
        relayed = [describe(agent) for agent in agents]
        worker = await asyncio.to_thread(self.pool.get, config.env, self.item)
        for agent in relayed:
            self._register(worker, agent)
        app = create_app(_NoExecutor(), **local_options)  # type: ignore[arg-type]
        url = worker.url + mount_path(config.app)
        server = RealServer(worker, url, app, HostView(url, worker.url))
        self.servers.append(server)
        return server

    def _register(self, worker: RealWorker, agent: Relayed) -> None:
        opened = self.pool.relay.register(worker.slot, agent)
        if agent.gate is not None:
            self._forwarders.append(asyncio.ensure_future(_forward(agent.gate, opened.set)))

    async def close(self) -> None:
        for server in self.servers:
            await server.host.heal()
            self.pool.relay.release(server.worker.slot)
        for task in self._forwarders:
            task.cancel()
        for task in self._forwarders:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for worker in {id(s.worker): s.worker for s in self.servers}.values():
            async with httpx.AsyncClient(base_url=worker.url, timeout=30) as client:
                res = await client.get(SESSIONS_PATH)
            res.raise_for_status()
            worker.served(self.item, set(res.json()["sessions"]))


async def _forward(gate: asyncio.Event, open_: Callable[[], None]) -> None:
    await gate.wait()
    open_()


def root_env(config: Config) -> Env:
    """The env of a Worker that serves ``config`` at its root (test_fuzz checks paths
    against the document, so it needs the API at ``/``)."""
    return tuple(sorted({**dict(config.env), CONFIG_VAR: config.app}.items()))


@dataclass(frozen=True)
class LogLine:
    text: str

    def getMessage(self) -> str:
        return self.text


class LoggedErrors:
    """``records``: the errors a Worker logged since this was made (what test_fuzz's
    ``ErrorLog`` collects from the local host's loggers)."""

    def __init__(self, worker: RealWorker) -> None:
        self.worker = worker
        self.since = worker.log_length()

    @property
    def records(self) -> list[LogLine]:
        return [LogLine(line) for line in self.worker.error_lines(self.since)]
