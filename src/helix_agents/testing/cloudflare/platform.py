"""The whole Cloudflare side of a Worker, faked: what a test needs to drive a Worker's real
classes (the real ``src/entry.py`` included) end to end in CPython.

::

    platform = FakeCloudflare(entry_module)            # or a CloudflareApp
    response = await platform.fetch("POST", "/chat", json={...})
    async for event in response.sse():                  # the body, as it streams
        ...
    await platform.workflows.restart()                  # the Workflows engine dies
    await platform.durable_objects.evict()              # every Durable Object is evicted

``env`` holds the bindings of the shipped ``wrangler.toml``: ``DB`` (:class:`FakeD1Database`),
``STREAM_MANAGER`` (:class:`FakeDurableObjectNamespace` of the entry's
``StreamManagerDO``), ``AGENT_WORKFLOW`` (the binding of a :class:`FakeWorkflows` running the
entry's ``AgentWorkflow``), optionally ``AI``, plus any vars and secrets. Each request
constructs a new ``Default`` (as the runtime does) and awaits its ``fetch``; work the
invocation left running (``wait_until``, a streaming body) is tracked, and
:meth:`FakeCloudflare.drain` waits for it. Each request is an
:class:`~.invocations.Invocation` (in :attr:`FakeCloudflare.invocations`) that counts its
subrequests, and fails the 1,001st as the platform does.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ..d1 import FakeD1Database
from .durable_objects import FakeDurableObjectNamespace
from .invocations import Invocation, start_in
from .jsruntime import JsHeaders, JsResponse
from .shim import install, workers_module
from .websockets import FakeWebSocket
from .workflows import FakeWorkflows

__all__ = ["FakeCloudflare", "FakeEnv", "FakeResponse", "SSEEvent"]

BASE_URL = "https://helix.example.workers.dev"


class FakeEnv:
    """A Worker's ``env``: bindings, vars and secrets as attributes."""

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            if value is not None:
                setattr(self, name, value)


class FakeExecutionContext:
    """``ctx`` of a Worker invocation."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Future[Any]] = []

    def waitUntil(self, awaitable: Any) -> None:
        self.tasks.append(asyncio.ensure_future(awaitable))

    def passThroughOnException(self) -> None:
        pass


class SSEEvent:
    def __init__(self, id: str | None, data: str) -> None:
        self.id = id
        self.data = data

    def json(self) -> Any:
        return jsonlib.loads(self.data)

    def __repr__(self) -> str:
        return f"SSEEvent(id={self.id!r}, data={self.data[:60]!r})"


class FakeResponse:
    """What the Worker answered, read the way a client would."""

    def __init__(self, raw: JsResponse) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers: JsHeaders = raw.headers
        self.web_socket: FakeWebSocket | None = raw.webSocket

    async def text(self) -> str:
        return await self.raw.text()

    async def json(self) -> Any:
        return await self.raw.parse_json()

    async def chunks(self) -> AsyncIterator[bytes]:
        body = self.raw.body
        if body is None:
            return
        async for chunk in body:
            yield chunk.to_bytes()

    async def sse(self) -> AsyncIterator[SSEEvent]:
        """The body's Server-Sent Events as they arrive (comments skipped)."""
        buffer = ""
        async for chunk in self.chunks():
            buffer += chunk.decode("utf-8")
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                event_id, data = None, []
                for line in block.split("\n"):
                    if line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                if data:
                    yield SSEEvent(event_id, "\n".join(data))

    async def cancel(self) -> None:
        """The client goes away: stop reading the body."""
        if self.raw.body is not None:
            self.raw.body.cancelled = True


class FakeCloudflare:
    """The fake platform around a Worker's classes (see the module docstring).

    ``entry`` is the Worker's main module (its ``Default``, ``AgentWorkflow`` and
    ``StreamManagerDO``), a :class:`~helix_agents.hosts.cloudflare.CloudflareApp`, or the
    three classes. ``clock`` (ms) and ``sleep`` (seconds) drive the Workflows engine.
    """

    def __init__(
        self,
        entry: Any,
        *,
        vars: Mapping[str, str] | None = None,
        ai: Any = None,
        db: FakeD1Database | None = None,
        workflow_name: str = "helix-agents-agent-workflow",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        install()
        self.worker_cls, self.workflow_cls, self.durable_object_cls = _classes(entry)
        self.db = db or FakeD1Database()
        self.workflows = FakeWorkflows(workflow_name, clock=clock, sleep=sleep)
        self.durable_objects = FakeDurableObjectNamespace()
        self.env = FakeEnv(
            DB=self.db,
            STREAM_MANAGER=self.durable_objects,
            AGENT_WORKFLOW=self.workflows.binding,
            AI=ai,
            **dict(vars or {}),
        )
        self.workflows.bind(lambda: self.workflow_cls(FakeExecutionContext(), self.env))
        self.durable_objects.bind(self.durable_object_cls, self.env)
        self._background: list[asyncio.Future[Any]] = []
        #: Requests the Worker answered.
        self.requests = 0
        #: The Worker's invocations (requests and cron triggers), with their subrequests.
        self.invocations: list[Invocation] = []

    # -- requests ------------------------------------------------------------------------------

    async def fetch(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        """One request to the Worker; the response as soon as its headers are there."""
        all_headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json)
            all_headers.setdefault("content-type", "application/json")
        Request = workers_module().Request
        request = Request(BASE_URL + path, method=method, headers=all_headers, body=body)
        return FakeResponse(await self.send(request))

    async def websocket(
        self, path: str, *, headers: Mapping[str, str] | None = None
    ) -> FakeWebSocket:
        """Open a WebSocket to ``path``; the client end (see :class:`FakeWebSocket`)."""
        all_headers = {"upgrade": "websocket", **dict(headers or {})}
        response = await self.fetch("GET", path, headers=all_headers)
        if response.status != 101 or response.web_socket is None:
            raise AssertionError(
                f"expected a WebSocket upgrade, got {response.status}: {await response.text()}"
            )
        return response.web_socket

    async def send(self, request: Any) -> JsResponse:
        """Run ``Default.fetch(request)`` as one invocation; the JS response."""
        from .workers_sdk import pending

        self.requests += 1
        path = urlsplit(str(request.url)).path
        invocation = Invocation("fetch", f"{request.method} {path}")
        self.invocations.append(invocation)

        async def invoke() -> Any:
            tasks: list[asyncio.Future[Any]] = []
            pending.set(tasks)
            ctx = FakeExecutionContext()
            worker = self.worker_cls(ctx, self.env)
            try:
                return await worker.fetch(request)
            finally:
                self._background.extend(tasks)
                self._background.extend(ctx.tasks)

        result = await start_in(invocation, invoke())
        return _js_response(result)

    async def scheduled(self, cron: str = "*/5 * * * *") -> None:
        """Fire the cron trigger once."""
        invocation = Invocation("scheduled", cron)
        self.invocations.append(invocation)

        async def invoke() -> None:
            ctx = FakeExecutionContext()
            worker = self.worker_cls(ctx, self.env)
            controller = type("ScheduledController", (), {"cron": cron, "scheduledTime": 0})()
            await worker.scheduled(controller, self.env, ctx)
            await asyncio.gather(*ctx.tasks)

        await start_in(invocation, invoke())

    def invocation(self, name: str) -> Invocation:
        """The last invocation named ``name`` (``"POST /chat"``, ``"GET /chat/s/stream"``)."""
        for invocation in reversed(self.invocations):
            if invocation.name == name:
                return invocation
        raise KeyError(f"no invocation {name!r} (there are {[i.name for i in self.invocations]})")

    # -- waiting ---------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Until the work requests left running (streamed bodies, ``wait_until``) is done."""
        while self._background:
            batch, self._background = self._background, []
            await asyncio.gather(*batch, return_exceptions=True)

    async def wait_for_instances(self, timeout: float | None = 20.0) -> None:
        """Until every Workflow instance is complete, errored or terminated."""
        for instance_id in self.workflows.instance_ids():
            await self.workflows.wait(instance_id, timeout)

    async def close(self) -> None:
        await self.workflows.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        self.db.close()


def _classes(entry: Any) -> tuple[Any, Any, Any]:
    if isinstance(entry, ModuleType):
        return entry.Default, entry.AgentWorkflow, entry.StreamManagerDO
    if isinstance(entry, tuple):
        worker, workflow, durable_object = entry
        return worker, workflow, durable_object
    worker, workflow, durable_object = entry.entrypoints()
    return worker, workflow, durable_object


def _js_response(result: Any) -> JsResponse:
    raw = getattr(result, "js_object", result)
    if not isinstance(raw, JsResponse):
        raise TypeError(f"the Worker answered {result!r}, not a Response")
    return raw
