"""Cancelling a ``tools/call`` of ``/mcp`` with the official ``mcp`` client over a real
socket: the client gives up on a long call, sends ``notifications/cancelled``, and the run
the call started ends ``interrupted``; the server answers the notification with nothing
(202) and goes on serving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from helix_agents import Agent, tool
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool

pytestmark = pytest.mark.timeout(60)

TOKEN = "cancel-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(url: str) -> Client:
    http = httpx2.AsyncClient(headers=AUTH, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


@tool
async def tick(n: int) -> str:
    """One slow tick."""
    await asyncio.sleep(0.1)
    return f"tick {n}"


def _looping(messages: list[Any], info: Any) -> Any:
    """``hi`` is answered at once; anything else ticks until the run is stopped."""
    task = [m for m in messages if getattr(m, "role", None) == "user"][-1].content
    if task == "hi":
        return "hello"
    return call_tool("tick", n=len(info.tool_results))


LOOPER = Agent(name="looper", tools=[tick], model=FunctionModel(_looping), max_steps=1000)


async def _latest_status(server: Any, session_id: str, timeout: float = 15.0) -> RunStatus:
    """The session's latest run's status once it is no longer active."""
    executor = server.host.executor
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = await executor.runs(session_id)
        latest = max(runs, key=lambda r: (r.turn, r.run_id))
        if latest.status != RunStatus.ACTIVE or asyncio.get_running_loop().time() > deadline:
            return latest.status
        await asyncio.sleep(0.05)


async def _ticks(server: Any, session_id: str) -> int:
    messages = await server.host.executor.store.load_messages(session_id)
    return sum(1 for _, m in messages if getattr(m, "tool_name", None) == "tick")


async def test_a_cancelled_call_interrupts_its_run(make_server: Callable[..., Any]) -> None:
    server = await make_server(LOOPER, token=TOKEN)
    async with _client(server.url) as client:
        first = await client.call_tool("looper", {"message": "hi"})
        assert first.content[0].text == "hello"
        session_id = first.structured_content["sessionId"]

        # The client gives up after a second: it sends notifications/cancelled for the
        # call's request id, and the run that call started stops.
        with pytest.raises(MCPError):
            await client.call_tool(
                "looper", {"message": "loop", "sessionId": session_id}, read_timeout_seconds=1.0
            )
        assert await _latest_status(server, session_id) == RunStatus.INTERRUPTED
        ticks = await _ticks(server, session_id)
        assert ticks >= 1
        await asyncio.sleep(0.5)
        assert await _ticks(server, session_id) == ticks  # nothing runs any more

        # Streamed (a progress token): the same.
        notes: list[str] = []

        async def progress(value: float, total: float | None, message: str | None) -> None:
            notes.append(message or "")

        with pytest.raises(MCPError):
            await client.call_tool(
                "looper",
                {"message": "loop", "sessionId": session_id},
                read_timeout_seconds=1.0,
                progress_callback=progress,
            )
        assert await _latest_status(server, session_id) == RunStatus.INTERRUPTED
        assert "calling tick" in notes
        runs = await server.host.executor.runs(session_id)
        assert sorted(r.status for r in runs) == sorted(
            [RunStatus.COMPLETED, RunStatus.INTERRUPTED, RunStatus.INTERRUPTED]
        )

        # The server stays healthy: the same client, the same session, a new turn.
        assert [t.name for t in (await client.list_tools()).tools] == ["looper"]
        again = await client.call_tool("looper", {"message": "hi", "sessionId": session_id})
        assert again.content[0].text == "hello"
        assert again.structured_content["status"] == "completed"


async def test_notifications_get_no_answer_and_unknown_methods_an_error(
    make_server: Callable[..., Any],
) -> None:
    server = await make_server(LOOPER, token=TOKEN)
    url = f"{server.url}/mcp"
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
        # The cancellation of a call that is not in flight (or never was): ignored.
        for params in (
            {"requestId": 42, "reason": "gone"},
            {"requestId": "abc"},
            {"requestId": True},
            {},
        ):
            res = await http.post(
                url, json={"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
            )
            assert res.status_code == 202
            assert res.content == b""
        for method in ("notifications/initialized", "notifications/whatever"):
            res = await http.post(url, json={"jsonrpc": "2.0", "method": method})
            assert res.status_code == 202
            assert res.content == b""
        for method in ("tools/whatever", "notifications/cancelled"):
            # A request (it has an id), even one named like a notification: -32601.
            res = await http.post(url, json={"jsonrpc": "2.0", "id": 9, "method": method})
            assert res.status_code == 200
            assert res.json()["error"]["code"] == -32601
            assert res.json()["id"] == 9
        # And the server answers requests as before.
        listed = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert [t["name"] for t in listed.json()["result"]["tools"]] == ["looper"]


async def test_the_cancelled_calls_own_answer_says_interrupted(
    make_server: Callable[..., Any],
) -> None:
    """The call's POST is still open when its cancellation arrives (a client that cancels
    but keeps reading): its answer is the run's end, ``interrupted``, as a tool error."""
    server = await make_server(LOOPER, token=TOKEN)
    url = f"{server.url}/mcp"
    call = {
        "jsonrpc": "2.0",
        "id": "call-1",
        "method": "tools/call",
        "params": {"name": "looper", "arguments": {"message": "loop"}},
    }
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
        pending = asyncio.ensure_future(http.post(url, json=call))
        await asyncio.sleep(0.8)
        assert not pending.done()
        # An id of another type names another request: nothing happens.
        cancel: dict[str, Any] = {"jsonrpc": "2.0", "method": "notifications/cancelled"}
        res = await http.post(url, json={**cancel, "params": {"requestId": 1}})
        assert res.status_code == 202
        await asyncio.sleep(0.3)
        assert not pending.done()
        res = await http.post(
            url, json={**cancel, "params": {"requestId": "call-1", "reason": "user pressed stop"}}
        )
        assert res.status_code == 202
        assert res.content == b""
        answer = (await asyncio.wait_for(pending, 15)).json()
    assert answer["id"] == "call-1"
    result = answer["result"]
    assert result["isError"] is True
    assert result["structuredContent"]["status"] == "interrupted"
    session_id = result["structuredContent"]["sessionId"]
    [run] = await server.host.executor.runs(session_id)
    assert run.status == RunStatus.INTERRUPTED
