"""Typed state and checkpoints over HTTP: ``/sessions/{id}/state`` (GET, PUT validated,
409 while a run is active), ``/checkpoints``, ``/rewind``, ``/fork``; the snapshot carries
the state and the stream carries ``data-state-patch`` parts. Every answer is checked
against /openapi.json."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext
from tests.state.notes import notes_agent, scenario

pytestmark = pytest.mark.timeout(120)


async def test_state_checkpoints_rewind_fork_over_http(make_server: Any) -> None:
    server = await make_server(notes_agent())
    async with server.client() as http:
        await scenario(http)


async def test_state_edits_refused_while_a_run_is_active(make_server: Any) -> None:
    release = asyncio.Event()

    @tool
    async def wait(ctx: ToolContext) -> str:
        """Wait."""
        await release.wait()
        return "ok"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("wait") if not info.tool_results else "done"

    server = await make_server(Agent(name="w", tools=[wait], model=FunctionModel(model)))
    handle = await server.host.executor.execute("w", "go", session_id="busy")
    for _ in range(200):
        if await server.host.executor.store.active_run("busy") is not None:
            break
        await asyncio.sleep(0.01)
    async with server.client() as http:
        try:
            put = await http.put("/sessions/busy/state", json={"a": 1})
            assert put.status_code == 409
            assert put.json()["error"]["code"] == "conflict"
            rewind = await http.post("/sessions/busy/rewind", json={"checkpoint": 0})
            assert rewind.status_code == 409
        finally:
            release.set()
        assert (await handle.result()).status == "completed"
        put = await http.put("/sessions/busy/state", json={"a": 1})
        assert put.json()["state"] == {"a": 1}
