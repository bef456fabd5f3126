"""The test process's side of the agents shipped into the real Worker.

The suites build agents around objects of the test's process: ``gated(gate, words=N)`` waits
on an ``asyncio.Event``, ``talker(delay=...)`` paces its words, ``tool_then_gate(gate)``
waits between its steps, ``bank(executed)`` records each execution of its tool in a list. A
Worker sees none of them. So the Worker's copies of these agents (``tests.worker_real.app``)
ask this relay, a small HTTP server on 127.0.0.1 (a daemon thread), for their parameters
when their model starts, hold a request open on it until the test's gate is set, and post
each execution to it; :func:`describe` reads those parameters, the gate and the list off
the test's own agent objects.

Routes, under ``/{slot}`` (one slot per Worker):

- ``GET /params/{agent}``: the agent's parameters (JSON);
- ``GET /gate/{agent}``: answers once the agent's gate is open;
- ``POST /executed/{agent}``: a JSON value appended to the agent's ``executed`` list;
  answers ``{"count": <the list's length>}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from helix_agents import Agent
from helix_agents.models.demo import DemoModel
from helix_agents.testing import FunctionModel
from tests.worker_real.app import CATALOG

__all__ = ["Relay", "Relayed", "describe"]

#: How long a gate may hold a Worker's request (a test's own timeout ends it sooner).
GATE_TIMEOUT = 600.0

#: The suites' agent factories, by their model function: the Worker agent each stands for.
_FACTORIES: dict[str, str | tuple[str, ...]] = {
    "tests.http.agents:echo.<locals>.reply": "echo",
    "tests.http.agents:keeper.<locals>.reply": "keeper",
    "tests.http.agents:asker.<locals>.reply": "asker",
    "tests.http.agents:reuser.<locals>.reply": "reuser",
    "tests.http.agents:talker.<locals>.stream": "talker",
    "tests.http.agents:gated.<locals>.stream": "gated",
    "tests.http.agents:tool_then_gate.<locals>.stream": "steps",
    "tests.support.agents:bank.<locals>.model": "bank",
    "tests.http.agents:gated_bank.<locals>.stream": "gated_bank",
    "tests.http.agents:flaky.<locals>.stream": "flaky",
    "tests.http.agents:held.<locals>.stream": "held",
    "tests.http.agents:locator.<locals>.model": "locator",
    "tests.http.agents:boss.<locals>.model": "boss",
    "tests.http.agents:lead.<locals>.model": "lead",
    "tests.http.agents:analyst.<locals>.model": "analyst",
    # One factory, two agents (their limits differ).
    "tests.http.agents:searcher.<locals>.model": ("limited", "capped"),
}
_PARAMS = ("delay", "text", "words")


@dataclass
class Relayed:
    """What the Worker's copy of one test agent needs from the test's process."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    gate: asyncio.Event | None = None
    executed: list[Any] | None = None


def describe(agent: Agent) -> Relayed:
    """The parameters, gate and execution list of a suite's agent (see the module docstring);
    refuses an agent the Worker does not have."""
    shipped = CATALOG.get(agent.name)
    if shipped is None:
        raise LookupError(
            f"agent {agent.name!r} is not shipped to the Worker (tests/worker_real/app.py)"
        )
    model = agent.model
    if isinstance(model, DemoModel):
        if not isinstance(shipped.model, DemoModel):
            raise LookupError(f"the Worker's {agent.name!r} is not the example on the demo model")
        return Relayed(agent.name)
    if not isinstance(model, FunctionModel):
        raise LookupError(f"agent {agent.name!r} has a model the Worker cannot copy: {model!r}")
    function = model.stream_function or model.function
    assert function is not None
    kind = _FACTORIES.get(f"{function.__module__}:{function.__qualname__}")
    if kind != agent.name and not (isinstance(kind, tuple) and agent.name in kind):
        raise LookupError(f"agent {agent.name!r} is not made by the factory the Worker copies")
    found = inspect.getclosurevars(function).nonlocals
    relayed = Relayed(agent.name, {k: found[k] for k in _PARAMS if k in found}, found.get("gate"))
    if kind in ("bank", "gated_bank"):
        [transfer] = agent.tools
        assert transfer.function is not None
        relayed.executed = inspect.getclosurevars(transfer.function).nonlocals["executed"]
    if kind == "flaky":  # the starts of its second step
        relayed.executed = found["starts"]
    if kind in ("flaky", "held"):  # its tool waits on the gate
        [hold] = agent.tools
        function = getattr(hold, "function", None)
        assert function is not None
        relayed.gate = inspect.getclosurevars(function).nonlocals["gate"]
    return relayed


@dataclass
class _Entry:
    params: dict[str, Any]
    gate: threading.Event
    executed: list[Any] | None


class Relay:
    """The relay server (see the module docstring); :meth:`register` what a Worker's agents
    of one test should see, :meth:`release` at the test's end."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                relay._answer(self)

            def do_POST(self) -> None:
                relay._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base(self, slot: str) -> str:
        return f"{self.url}/{slot}"

    def register(self, slot: str, agent: Relayed) -> threading.Event:
        """Serve ``agent``'s parameters and list to the Worker of ``slot``; the gate its
        model waits on there (the caller opens it when the test's gate is set)."""
        entry = _Entry(agent.params, threading.Event(), agent.executed)
        with self._lock:
            old = self._entries.get((slot, agent.name))
            self._entries[(slot, agent.name)] = entry
        if old is not None:
            old.gate.set()
        return entry.gate

    def release(self, slot: str) -> None:
        """Open every gate of ``slot``: runs a test left waiting finish."""
        with self._lock:
            entries = [e for (s, _), e in self._entries.items() if s == slot]
        for entry in entries:
            entry.gate.set()

    def close(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            entry.gate.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.strip("/").split("/")
        entry = self._entries.get((parts[0], parts[2])) if len(parts) == 3 else None
        if entry is None:
            return _reply(request, 404, {"error": f"nothing registered for {request.path}"})
        route = (request.command, parts[1])
        if route == ("GET", "params"):
            return _reply(request, 200, entry.params)
        if route == ("GET", "gate"):
            opened = entry.gate.wait(GATE_TIMEOUT)
            return _reply(request, 200 if opened else 504, {"open": opened})
        if route == ("POST", "executed") and entry.executed is not None:
            length = int(request.headers.get("content-length") or 0)
            entry.executed.append(json.loads(request.rfile.read(length)))
            return _reply(request, 200, {"count": len(entry.executed)})
        return _reply(request, 404, {"error": f"no route {request.command} {request.path}"})


def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    with contextlib.suppress(OSError):  # the Worker may have gone (a killed Worker)
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
