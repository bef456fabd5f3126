"""What the ``worker-real`` tier ships into the real Worker: ``app``, a CloudflareApp that
serves the HTTP suites' configurations (agents and HTTP options), each under its own path.

Shipped with ``AppSpec("tests.worker_real.app:app", <repo root>, with_testing=True)`` (the
test models need ``helix_agents.testing``, which a deployed Worker leaves out; the whole
``tests`` package lands in the Worker's ``src/``; only this module and the agent modules it
imports are imported there: no pytest, uvicorn, threads, I/O or randomness at import).

- A configuration is JSON: ``{"agents": [names], "http": {create_app options}, "auth":
  hook name}``, the agents from :data:`CATALOG`, the hook from :data:`HOOKS`. A request
  under ``/_mount/<base64url of the JSON>/`` goes, without that prefix, to the plain
  ``CloudflareApp`` of that configuration (built on first use); any other request to the
  one the Worker's ``HELIX_TEST_CONFIG`` names. Workflow runs see every agent of the
  catalog (the same objects, by name). Everything else is a user's app on the real
  runtime: D1, the Workflow, the Durable Object, the Worker's env.
- ``HELIX_TEST_RELAY``: the base URL of the test process's relay
  (:mod:`tests.worker_real.relay`). The suites build agents around in-process objects (an
  ``asyncio.Event`` gate, a list recording tool executions, a delay); here the same agents
  fetch those parameters from the relay when their model starts, wait on the gate through
  it, and report executions to it.
- Test-only routes: ``POST /__test__/outage`` puts the Durable Objects of the active
  sessions down (every call to them fails, their sockets close) or back up, which is what
  the suites' ``host.streams.close()`` does to a host; ``GET /__test__/sessions`` lists
  the sessions in D1; ``GET /__test__/constructions?session=<id>`` tells how many times
  that session's Durable Object was constructed (it counts itself in its storage), which is
  how a test sees the object hibernate and wake; ``/__test__/services`` runs the KV and R2
  conformance checks on the Worker's real bindings (:mod:`tests.worker_real.services_route`);
  ``/__test__/queue`` sends through the real ``QUEUE`` binding and reports the runs its
  messages started (:mod:`tests.worker_real.queue_route`, which also wraps the Worker's
  ``queue`` handler); ``/__test__/rpc/<op>`` goes to the second Worker of
  ``test_rpc_real.py`` (``RPC_CLIENT``), which calls this one's RPC methods.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.examples import example_registry
from helix_agents.hosts.cloudflare import CloudflareApp, CloudflareRuntime
from helix_agents.hosts.cloudflare.models import env_var
from helix_agents.models.demo import DemoModel
from helix_agents.testing import FunctionModel
from tests.history.windowed import WINDOWED, windowed_agent
from tests.http.agents import (
    analyst,
    asker,
    boss,
    capped,
    echo,
    flaky,
    gated,
    gated_bank,
    held,
    keeper,
    lead,
    limited,
    locator,
    reuser,
    talker,
    tool_then_gate,
)
from tests.services.librarian import LIBRARIAN, librarian
from tests.state.notes import NOTES, notes_agent
from tests.support.agents import bank
from tests.worker_real.crash_agents import crash_agents
from tests.worker_real.executor_agents import SUMMING, summing_agent
from tests.worker_real.mcp_agents import MCP_USER, mcp_user
from tests.worker_real.queue_route import (
    QUEUE_PATH,
    RPC_CLIENT_PREFIX,
    queue_route,
    rpc_client_route,
)
from tests.worker_real.remote_agents import REMOTE_BOSS, remote_boss
from tests.worker_real.retrieval_route import RETRIEVAL_PATH, retrieval_route
from tests.worker_real.services_route import SERVICES_PATH, services_route

__all__ = [
    "CATALOG",
    "CONFIG_VAR",
    "CONSTRUCTIONS_PATH",
    "HOOKS",
    "OUTAGE_PATH",
    "RELAY_VAR",
    "SESSIONS_PATH",
    "app",
    "mount_path",
]

if sys.platform == "emscripten":
    # Levels in the Worker's log, so that the harness can tell errors (test_fuzz wants none).
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)

CONFIG_VAR = "HELIX_TEST_CONFIG"
RELAY_VAR = "HELIX_TEST_RELAY"
OUTAGE_PATH = "/__test__/outage"
SESSIONS_PATH = "/__test__/sessions"
CONSTRUCTIONS_PATH = "/__test__/constructions"
MOUNT_PREFIX = "/_mount/"


class Relay:
    """The test process's relay, from inside the Worker (over the Workers ``fetch``)."""

    base: str | None = None

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        from helix_agents.hosts.cloudflare import WorkersFetchTransport

        if self.base is None:
            raise RuntimeError(f"the Worker has no {RELAY_VAR}")
        # No timeout: a gate holds its request until the test opens it.
        async with httpx.AsyncClient(transport=WorkersFetchTransport(), timeout=None) as client:
            response = await client.request(method, f"{self.base}{path}", json=body)
            response.raise_for_status()
            return response.json()

    async def params(self, agent: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", f"/params/{agent}")
        return answer


relay = Relay()


class RelayedGate:
    """The test's ``asyncio.Event``, waited on through the relay."""

    def __init__(self, agent: str) -> None:
        self.agent = agent

    async def wait(self) -> None:
        await relay.call("GET", f"/gate/{self.agent}")


#: Parameters to build an agent's template with (only its tools are kept).
_TEMPLATE_PARAMS: dict[str, Any] = {"delay": 0.0, "text": "", "words": 0}


def relayed(name: str, build: Callable[[dict[str, Any]], Agent]) -> Agent:
    """The agent ``build(params)`` makes, with its parameters fetched from the relay each
    time its model starts (the tools are the same whatever the parameters)."""
    template = build(_TEMPLATE_PARAMS)

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        model = build(await relay.params(name)).model
        assert isinstance(model, FunctionModel)
        assert model.stream_function is not None
        async for piece in model.stream_function(messages, info):
            yield piece

    return Agent(name=name, tools=template.tools, model=FunctionModel(stream_function=stream))


def relayed_bank() -> Agent:
    """``tests.support.agents.bank`` with its executions reported to the relay (the tool is
    async here: reporting is a fetch)."""

    @tool(requires_approval=True)
    async def transfer(amount: int) -> str:
        """Move money."""
        await relay.call("POST", "/executed/bank", amount)
        return f"sent {amount}"

    return Agent(name="bank", tools=[transfer], model=bank([]).model)


def relayed_gated_bank() -> Agent:
    """``tests.http.agents.gated_bank`` with its gate waited on and its executions reported
    through the relay."""

    @tool(requires_approval=True)
    async def transfer(amount: int) -> str:
        """Move money."""
        await relay.call("POST", "/executed/gated_bank", amount)
        return f"sent {amount}"

    model = gated_bank(RelayedGate("gated_bank"), []).model  # type: ignore[arg-type]
    return Agent(name="gated_bank", tools=[transfer], model=model)


async def flaky_started() -> int:
    """How many times ``flaky``'s second step started, this one included (the relay counts)."""
    answer = await relay.call("POST", "/executed/flaky", 1)
    return int(answer["count"])


#: Every agent the HTTP suites serve, by name (the examples on the demo model included).
CATALOG: dict[str, Agent] = {
    "echo": echo(),
    "keeper": keeper(),
    "asker": asker(),
    "reuser": reuser(),
    "talker": relayed("talker", lambda p: talker(delay=p["delay"], text=p["text"])),
    "gated": relayed("gated", lambda p: gated(RelayedGate("gated"), words=p["words"])),  # type: ignore[arg-type]
    "steps": relayed("steps", lambda p: tool_then_gate(RelayedGate("steps"))),  # type: ignore[arg-type]
    "bank": relayed_bank(),
    "gated_bank": relayed_gated_bank(),
    "flaky": flaky(RelayedGate("flaky"), [], started=flaky_started),  # type: ignore[arg-type]
    "held": relayed("held", lambda p: held(RelayedGate("held"), words=p["words"])),  # type: ignore[arg-type]
    # Agents with no in-process parameters: the suites' own definitions, as they are.
    **{agent.name: agent for agent in (locator(), boss(), lead(), analyst(), limited(), capped())},
    **{agent.name: agent for agent in example_registry(DemoModel())},
    # The services' agent (typed deps, cache, files): test_services_real.py.
    LIBRARIAN: librarian(),
    # An agent with a remote MCP server's tools (test_mcp_real.py).
    MCP_USER: mcp_user(),
    # Typed state and checkpoints (test_branches_real.py).
    NOTES: notes_agent(),
    # A windowed history and paged reads (test_long_sessions_real.py).
    WINDOWED: windowed_agent(),
    # The remote sub-agent's parent (test_remote_real.py): its child is a local host.
    REMOTE_BOSS: remote_boss(),
    # summarize_older, reporting its requests to the relay (test_executor_api_real.py).
    SUMMING: summing_agent(lambda path, body: relay.call("POST", path, body)),
    # The crash tests' agents (test_crash_real.py): their effects go to the relay's URL.
    **{
        agent.name: agent
        for agent in crash_agents(lambda path, body: relay.call("POST", path, body))
    },
}


async def custom_hook(conn: Any) -> str | None:
    """``test_custom_hooks``'s hook (tests/http/test_auth.py), which cannot be shipped."""
    import asyncio

    from helix_agents.http import AuthenticationError, PermissionDeniedError

    await asyncio.sleep(0)
    user = conn.headers.get("x-user")
    if user is None:
        raise AuthenticationError("who are you?")
    if user == "mallory":
        raise PermissionDeniedError("not you")
    return str(user)


#: The authentication hooks of the suites, by the name the harness gives them.
HOOKS: dict[str, Callable[..., Any]] = {"custom_hooks": custom_hook}


def configured(config: dict[str, Any]) -> CloudflareApp:
    """The plain CloudflareApp of one configuration."""
    agents = [CATALOG[name] for name in config.get("agents", [])]
    options = dict(config.get("http", {}))
    if config.get("auth"):
        options["auth"] = HOOKS[config["auth"]]
    return CloudflareApp(AgentRegistry(agents), **options)


def mount_path(config: str) -> str:
    """The path prefix under which a Worker serves the configuration ``config`` (JSON)."""
    return MOUNT_PREFIX + base64.urlsafe_b64encode(config.encode()).decode().rstrip("=")


class TestApp(CloudflareApp):
    """Workflow runs (and the cron trigger) see every agent of :data:`CATALOG`; a request
    goes to the plain app of its configuration: the one its path mounts, else the Worker's
    own (``HELIX_TEST_CONFIG``)."""

    def __init__(self) -> None:
        super().__init__(AgentRegistry(list(CATALOG.values())))
        self._apps: dict[str, CloudflareApp] = {}

    def runtime(self, env: Any) -> CloudflareRuntime:
        relay.base = env_var(env, RELAY_VAR)
        return super().runtime(env)

    def configured(self, config: str) -> CloudflareApp:
        chosen = self._apps.get(config)
        if chosen is None:
            chosen = self._apps[config] = configured(json.loads(config))
        return chosen

    async def route(self, env: Any, request: Any) -> Any:
        runtime = self.runtime(env)
        url = urlsplit(str(request.url))
        if url.path == OUTAGE_PATH:
            return await outage(runtime, request)
        if url.path == SESSIONS_PATH:
            return await sessions(runtime)
        if url.path == CONSTRUCTIONS_PATH:
            return await constructions(runtime, url.query)
        if url.path == SERVICES_PATH:
            return await services_route(runtime, request, url.query)
        if url.path == RETRIEVAL_PATH:
            return await retrieval_route(runtime, request)
        if url.path == QUEUE_PATH:
            return await queue_route(runtime, request, url.query)
        if url.path.startswith(RPC_CLIENT_PREFIX):
            return await rpc_client_route(env, request)
        config = env_var(env, CONFIG_VAR) or "{}"
        if url.path.startswith(MOUNT_PREFIX):
            encoded, _, rest = url.path[len(MOUNT_PREFIX) :].partition("/")
            config = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            request = _with_url(request, url._replace(path="/" + rest).geturl())
        return await self.configured(config).fetch(env, request)

    async def queue(self, env: Any, batch: Any) -> None:
        """The product's queue handler, with the dead-letter queue recorded and a crash
        before the ack on demand (:mod:`tests.worker_real.queue_route`)."""
        from tests.worker_real.queue_route import consume

        await consume(self, env, batch, super().queue)

    @functools.cached_property
    def Worker(self) -> type[Any]:  # type: ignore[override]
        app = self

        class TestWorker(super().Worker):  # type: ignore[misc]
            async def fetch(self, request: Any) -> Any:
                return await app.route(self.env, request)

        return TestWorker

    @functools.cached_property
    def DurableObject(self) -> type[Any]:  # type: ignore[override]
        class TestStreamManager(super().DurableObject):  # type: ignore[misc]
            down = False

            def __init__(self, ctx: Any, env: Any) -> None:
                super().__init__(ctx, env)
                # Counted in the object's storage: the count survives eviction, so a test
                # can tell that the object was constructed again (it had hibernated).
                sql = self._hub.sql
                sql.exec("CREATE TABLE IF NOT EXISTS __test_constructions (at INTEGER)")
                sql.exec("INSERT INTO __test_constructions (at) VALUES (?)", _now_ms())

            async def test_constructions(self) -> int:
                rows = self._hub.sql.exec("SELECT COUNT(*) AS n FROM __test_constructions")
                return int(rows[0]["n"])

            async def test_outage(self, down: bool) -> None:
                self.down = bool(down)
                if self.down:
                    for ws in self.ctx.getWebSockets():
                        try:
                            ws.close(1011, "outage")
                        except Exception:
                            pass

            def _check(self) -> None:
                if self.down:
                    raise RuntimeError("the stream manager is down (a test's outage)")

            async def create(self, stream_id: str) -> Any:
                self._check()
                return await super().create(stream_id)

            async def write(self, stream_id: str, payload: str, status: Any = None) -> Any:
                self._check()
                return await super().write(stream_id, payload, status)

            async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> Any:
                self._check()
                return await super().read(stream_id, after, timeout, limit)

            async def set_status(self, stream_id: str, status: str) -> Any:
                self._check()
                return await super().set_status(stream_id, status)

            async def info(self, stream_id: str) -> Any:
                self._check()
                return await super().info(stream_id)

            async def request_stop(self, stream_id: str, kind: str) -> Any:
                self._check()
                return await super().request_stop(stream_id, kind)

            async def fetch(self, request: Any) -> Any:
                self._check()
                return await super().fetch(request)

        return TestStreamManager


def _with_url(request: Any, url: str) -> Any:
    """The same request (method, headers, body stream) at another URL."""
    from js import Request as JSRequest
    from workers import Request

    return Request(JSRequest.new(url, request.js_object))


async def outage(runtime: CloudflareRuntime, request: Any) -> Any:
    """``{"down": bool, "sessions": [...] | null}``: the objects of those sessions (of every
    active session when null) go down or come back; answers the sessions."""
    from helix_agents.hosts.cloudflare import ffi

    body = json.loads(await request.text())
    sessions = body.get("sessions")
    if sessions is None:
        rows = await runtime.db.query(
            "SELECT session_id FROM __agents_states WHERE status = 'active'"
        )
        sessions = [row["session_id"] for row in rows]
    for session in sessions:
        await runtime.streams.stub(session).test_outage(bool(body["down"]))
    return ffi.json_response({"sessions": sessions})


async def sessions(runtime: CloudflareRuntime) -> Any:
    """Every session id in D1 (the harness's check that a test left sessions behind)."""
    from helix_agents.hosts.cloudflare import ffi

    await runtime.ensure_schema()
    rows = await runtime.db.query("SELECT session_id FROM __agents_states")
    return ffi.json_response({"sessions": [row["session_id"] for row in rows]})


async def constructions(runtime: CloudflareRuntime, query: str) -> Any:
    """``?session=<id>``: how many times that session's Durable Object was constructed
    (``{"constructions": n}``). Asking is a call to the object, so it counts a construction
    of its own if the object was not in memory."""
    from urllib.parse import parse_qs

    from helix_agents.hosts.cloudflare import ffi

    [session] = parse_qs(query)["session"]
    count = await runtime.streams.stub(session).test_constructions()
    return ffi.json_response({"constructions": int(count)})


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


app = TestApp()
