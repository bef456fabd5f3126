"""CloudflareApp: the classes a Worker exports, the per-isolate wiring, and what importing the
host costs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from helix_agents.agent import AgentRegistry
from helix_agents.errors import ConfigurationError
from helix_agents.hosts.cloudflare import CloudflareApp
from helix_agents.testing.cloudflare.platform import FakeEnv
from helix_agents.testing.cloudflare.shim import workers_module
from helix_agents.testing.d1 import FakeD1Database
from tests.cloudflare.entry_helpers import load_entry


def test_the_entry_exports_the_classes_wrangler_binds() -> None:
    entry = load_entry()
    workers = workers_module()
    assert issubclass(entry.Default, workers.WorkerEntrypoint)
    assert issubclass(entry.AgentWorkflow, workers.WorkflowEntrypoint)
    assert issubclass(entry.StreamManagerDO, workers.DurableObject)
    # The runtime calls scheduled strictly (every parameter declared) and the hibernation
    # handlers by their camelCase names only.
    assert list(inspect.signature(entry.Default.scheduled).parameters) == [
        "self",
        "controller",
        "env",
        "ctx",
    ]
    for handler in ("webSocketMessage", "webSocketClose", "webSocketError", "alarm"):
        assert callable(getattr(entry.StreamManagerDO, handler))
    rpc = {"create", "write", "read", "set_status", "info", "request_stop", "fetch"}
    assert rpc <= {n for n in vars(entry.StreamManagerDO.__mro__[1]) if not n.startswith("_")}
    assert entry.app.entrypoints() == (
        entry.Default.__mro__[1],
        entry.AgentWorkflow.__mro__[1],
        entry.StreamManagerDO.__mro__[1],
    )


class Wrapper:
    """What the SDK hands a request: a new wrapper around the same JS env."""

    def __init__(self, env: object) -> None:
        self._env = env

    def __getattr__(self, name: str) -> object:
        return getattr(self._env, name)


def test_the_wiring_is_built_once_per_isolate() -> None:
    app = CloudflareApp(AgentRegistry([]))
    from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
    from helix_agents.testing.cloudflare.workflows import FakeWorkflows

    env = FakeEnv(
        DB=FakeD1Database(),
        STREAM_MANAGER=FakeDurableObjectNamespace(),
        AGENT_WORKFLOW=FakeWorkflows().binding,
    )
    first = app.runtime(Wrapper(env))
    assert app.runtime(Wrapper(env)) is first
    assert app.runtime(env) is first
    other = FakeEnv(
        DB=FakeD1Database(),
        STREAM_MANAGER=FakeDurableObjectNamespace(),
        AGENT_WORKFLOW=FakeWorkflows().binding,
    )
    assert app.runtime(other) is not first


def test_a_missing_binding_is_named() -> None:
    app = CloudflareApp(AgentRegistry([]))
    with pytest.raises(ConfigurationError, match="STREAM_MANAGER"):
        app.runtime(FakeEnv(DB=FakeD1Database()))


def test_importing_the_host_touches_no_worker_module() -> None:
    code = (
        "import sys; sys.modules['sqlite3'] = None; sys.modules['_sqlite3'] = None\n"
        "import helix_agents.hosts.cloudflare as cf\n"
        "app = cf.CloudflareApp([])\n"
        "heavy = [m for m in ('workers', 'js', 'pyodide', 'httpx', 'starlette') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_cors_origins_come_from_the_env() -> None:
    """``HELIX_CORS_ORIGINS`` in the Worker's env (what ``helix worker`` passes), as
    ``helix dev`` reads it from the process environment; an explicit option wins."""
    from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
    from helix_agents.testing.cloudflare.workflows import FakeWorkflows

    env = FakeEnv(
        DB=FakeD1Database(),
        STREAM_MANAGER=FakeDurableObjectNamespace(),
        AGENT_WORKFLOW=FakeWorkflows().binding,
        HELIX_CORS_ORIGINS="http://a.example, http://b.example,",
    )
    http = CloudflareApp(AgentRegistry([])).runtime(env).http_app
    [cors] = http.user_middleware
    assert cors.kwargs["origins"] == ["http://a.example", "http://b.example"]
    assert "`cors_refused`" in http.state.openapi()["info"]["description"]
    explicit = CloudflareApp(AgentRegistry([]), cors_origins=[]).runtime(env).http_app
    assert not explicit.user_middleware
