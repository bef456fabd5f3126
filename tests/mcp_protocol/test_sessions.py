"""Stdio MCP sessions kept open across calls (mcp/sessions.py), against the real server
process (the official package's, ``server_app.py`` over stdio): one process serves a host's
calls, concurrent ones too; a process that died is replaced before a call is sent to it; a
failed use closes its session; an idle one is closed; the host's close stops them all."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.errors import MCPError
from helix_agents.mcp import MCPServerHTTP, MCPServerStdio
from helix_agents.mcp.sessions import StdioSessions
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from tests.mcp_protocol._server import ROOT, STDIO_ARGS, STDIO_COMMAND

pytestmark = pytest.mark.timeout(120)


def _stdio(**kwargs: Any) -> MCPServerStdio:
    return MCPServerStdio(command=STDIO_COMMAND, args=STDIO_ARGS, cwd=str(ROOT), **kwargs)


@pytest.fixture
async def sessions() -> AsyncIterator[StdioSessions]:
    kept = StdioSessions()
    try:
        yield kept
    finally:
        await kept.aclose()


async def _pid(sessions: StdioSessions, server: MCPServerStdio) -> int:
    async with sessions.connect(server, vars={}, transport=None) as client:
        result = await client.call_tool("pid", {})
    return int(result["structuredContent"]["result"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _gone(pid: int) -> bool:
    """Whether the process ends within a few seconds (it is reaped by the client)."""
    for _ in range(100):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_one_process_serves_every_use_and_concurrent_ones(
    sessions: StdioSessions,
) -> None:
    server = _stdio()
    first = await _pid(sessions, server)
    assert await _pid(sessions, server) == first
    assert set(await asyncio.gather(*(_pid(sessions, server) for _ in range(5)))) == {first}
    assert len(sessions) == 1
    # Another server (even with the same command) has a process of its own.
    other = await _pid(sessions, _stdio())
    assert other != first
    assert len(sessions) == 2
    await sessions.aclose()
    assert len(sessions) == 0
    assert await _gone(first)
    assert await _gone(other)


async def test_a_process_that_died_while_idle_is_replaced_before_the_call(
    sessions: StdioSessions,
) -> None:
    server = _stdio()
    first = await _pid(sessions, server)
    os.kill(first, signal.SIGKILL)
    assert await _gone(first)
    # The reused session is asked to answer first: the call goes to a new process, and succeeds.
    second = await _pid(sessions, server)
    assert second != first
    assert await _pid(sessions, server) == second


async def test_a_failed_use_closes_its_session(sessions: StdioSessions) -> None:
    server = _stdio(timeout=3)
    first = await _pid(sessions, server)
    with pytest.raises(MCPError, match="timed out"):
        async with sessions.connect(server, vars={}, transport=None) as client:
            await client.call_tool("nap", {"seconds": 30})
    assert await _gone(first)  # the session that failed is closed (its process stopped)
    assert await _pid(sessions, server) not in (first, 0)


async def test_an_idle_session_is_closed() -> None:
    sessions = StdioSessions(idle_timeout=0.2)
    try:
        server = _stdio()
        first = await _pid(sessions, server)
        assert await _pid(sessions, server) == first  # used again within the idle time
        assert await _gone(first)
        assert len(sessions) == 0
        assert await _pid(sessions, server) != first
    finally:
        await sessions.aclose()


async def test_a_server_that_cannot_start_is_a_clear_error_each_time(
    sessions: StdioSessions,
) -> None:
    missing = MCPServerStdio(command="/nonexistent/mcp-server", name="ghost")
    for _ in range(2):
        with pytest.raises(MCPError, match="ghost"):
            async with sessions.connect(missing, vars={}, transport=None):
                pass
    assert len(sessions) == 0


async def test_http_servers_are_not_kept(sessions: StdioSessions, mcp_url: str) -> None:
    server = MCPServerHTTP(url=mcp_url, headers={"Authorization": "Bearer mcp-test-token"})
    async with sessions.connect(server, vars={}, transport=None) as client:
        assert "add" in {t["name"] for t in await client.list_tools()}
    assert len(sessions) == 0


async def test_a_hosts_run_lists_and_calls_on_one_process_stopped_at_close(
    make_host: Callable[..., Any],
) -> None:
    calls = iter([call_tool("pid"), call_tool("pid"), call_tool("pid")])

    def model(messages: list[Any], info: Any) -> Any:
        return next(calls, "done")

    agent = Agent(name="mcp-pid", model=FunctionModel(model), mcp_servers=[_stdio()])
    host = await make_host(agent)
    handle = await host.executor.execute("mcp-pid", "go")
    assert (await handle.result()).status == RunStatus.COMPLETED
    results = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
    pids = {r.content["result"] for r in results if isinstance(r.content, dict)}
    assert len(results) == 3
    assert len(pids) == 1  # one process served the three calls
    assert len(host.executor.resources.mcp_sessions or ()) == 1
    (pid,) = pids
    assert _alive(pid)
    await host.close()
    assert await _gone(pid)
