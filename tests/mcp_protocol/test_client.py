"""The MCP client against a real MCP server (the official package's, started by the tests):
both sessions (ours over Streamable HTTP, the official one over stdio) answer the same, and
an agent on the local host uses the server's tools as durable tool steps."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.chunks import CustomDataChunk, ToolApprovalRequestChunk
from helix_agents.errors import ConfigurationError, MCPError
from helix_agents.mcp import MCPServerHTTP, MCPServerStdio
from helix_agents.mcp._protocol import tool_output
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from tests.hitl._helpers import collect
from tests.mcp_protocol._server import ROOT, STDIO_ARGS, STDIO_COMMAND, free_port
from tests.mcp_protocol.conftest import TOKEN


def _http(url: str, **kwargs: Any) -> MCPServerHTTP:
    return MCPServerHTTP(url=url, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)


def _stdio(**kwargs: Any) -> MCPServerStdio:
    return MCPServerStdio(command=STDIO_COMMAND, args=STDIO_ARGS, cwd=str(ROOT), **kwargs)


@pytest.fixture(params=["http", "http-official", "stdio"])
def session(request: pytest.FixtureRequest, mcp_url: str) -> AbstractAsyncContextManager[Any]:
    """Our Streamable HTTP client, the official one, and the official one over stdio."""
    server = {
        "http": lambda: _http(mcp_url),
        "http-official": lambda: _http(mcp_url, client="mcp"),
        "stdio": _stdio,
    }[request.param]()
    return server.connect(vars={}, transport=None)


# -- the two sessions, one contract ----------------------------------------------------------


async def test_lists_the_servers_tools_with_their_schemas(
    session: AbstractAsyncContextManager[Any],
) -> None:
    async with session as client:
        tools = {t["name"]: t for t in await client.list_tools()}
    assert {"add", "echo", "count", "fail"} <= set(tools)
    assert tools["add"]["description"] == "Add two integers."
    schema = tools["add"]["inputSchema"]
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"a", "b"}


async def test_calls_a_tool_and_reports_progress(
    session: AbstractAsyncContextManager[Any],
) -> None:
    seen: list[dict[str, Any]] = []

    async def progress(params: dict[str, Any]) -> None:
        seen.append(params)

    async with session as client:
        added = await client.call_tool("add", {"a": 2, "b": 40})
        counted = await client.call_tool(
            "count", {"n": 3}, on_progress=progress, progress_token="t-1"
        )
        failed = await client.call_tool("fail", {"reason": "why"})
    assert tool_output(added, server="s", tool="add") == {"result": 42}
    assert tool_output(counted, server="s", tool="count") == {"result": "counted to 3"}
    assert [p["progress"] for p in seen] == [1, 2, 3]
    assert seen[-1]["message"] == "at 3"
    with pytest.raises(MCPError, match="failed on purpose: why"):
        tool_output(failed, server="s", tool="fail")


async def test_an_unreachable_or_refusing_server_is_a_clear_error(mcp_url: str) -> None:
    down = MCPServerHTTP(url=f"http://127.0.0.1:{free_port()}/mcp", name="down")
    with pytest.raises(MCPError, match="'down' is unreachable"):
        async with down.connect(vars={}, transport=None):
            pass
    no_token = MCPServerHTTP(url=mcp_url, name="guarded")
    with pytest.raises(MCPError, match=r"'guarded' answered HTTP 401 \(check"):
        async with no_token.connect(vars={}, transport=None):
            pass
    for official in (
        MCPServerHTTP(url=f"http://127.0.0.1:{free_port()}/mcp", name="down", client="mcp"),
        MCPServerHTTP(url=mcp_url, name="guarded", client="mcp"),
    ):
        with pytest.raises(MCPError, match=f"'{official.name}' did not open a session"):
            async with official.connect(vars={}, transport=None):
                pass
    missing = MCPServerStdio(command="/nonexistent/mcp-server", name="ghost")
    with pytest.raises(MCPError, match="'ghost'"):
        async with missing.connect(vars={}, transport=None):
            pass


def test_server_declarations_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        MCPServerHTTP(url="ftp://example.com/mcp")
    with pytest.raises(ConfigurationError, match="prefix"):
        MCPServerHTTP(url="http://127.0.0.1/mcp", prefix="bad prefix")
    with pytest.raises(ConfigurationError, match="collection"):
        MCPServerHTTP(url="http://127.0.0.1/mcp", allowed_tools="add")
    with pytest.raises(ConfigurationError, match="mcp_servers"):
        Agent(name="a", mcp_servers=["http://127.0.0.1/mcp"])  # type: ignore[list-item]
    server = MCPServerHTTP(url="http://127.0.0.1/mcp", headers=lambda env: {"x": env["TOKEN"]})
    with pytest.raises(ConfigurationError, match="TOKEN"):
        server.resolved_headers({})
    assert server.resolved_headers({"TOKEN": "t"}) == {"x": "t"}


# -- an agent with MCP tools on the local host ---------------------------------------------


def _model(calls: list[Any], seen: list[Any]) -> FunctionModel:
    def model(messages: list[Any], info: Any) -> Any:
        seen.append(info)
        if not info.tool_results:
            return calls
        return "done: " + "; ".join(str(r.content) for r in info.tool_results)

    return FunctionModel(model)


async def test_an_agent_calls_http_tools_as_durable_steps(
    make_host: Callable[..., Any], mcp_url: str
) -> None:
    seen: list[Any] = []
    agent = Agent(
        name="mcp-http",
        model=_model(
            [
                call_tool("m_add", a=1, b=2),
                call_tool("m_count", n=2),
                call_tool("m_fail", reason="x"),
            ],
            seen,
        ),
        mcp_servers=[_http(mcp_url, prefix="m_", allowed_tools={"add", "count", "fail"})],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("mcp-http", "go")
    chunks = await collect(handle)
    run = await handle.result()
    assert run.status == RunStatus.COMPLETED
    # The filter and the prefix: the model is offered exactly the kept tools, renamed, with
    # the server's schemas, in every step of the run.
    for info in seen:
        names = {t.name for t in info.tools}
        assert names == {"m_add", "m_count", "m_fail"}
        assert info.tool("m_add").parameters["required"] == ["a", "b"]
    results = {m.tool_name: m for m in await handle.messages() if isinstance(m, ToolResultMessage)}
    assert results["m_add"].content == {"result": 3}
    assert results["m_add"].status == "success"
    assert results["m_count"].content == {"result": "counted to 2"}
    assert results["m_fail"].status == "error"
    assert "failed on purpose: x" in str(results["m_fail"].content)
    progress = [
        c.chunk.data
        for c in chunks
        if isinstance(c.chunk, CustomDataChunk) and c.chunk.name == "mcp-progress"
    ]
    assert [p["progress"] for p in progress] == [1, 2]
    # Listed once, in a step of its own; each call its own tool step.
    names = [row[0] for row in host.engine.journal.raw("SELECT name FROM engine_steps")]
    assert sum(name.endswith("/mcp-tools") for name in names) == 1
    assert sum("/tool/" in name for name in names) == 3


async def test_a_stdio_server_and_an_approval_gate(make_host: Callable[..., Any]) -> None:
    seen: list[Any] = []
    agent = Agent(
        name="mcp-stdio",
        model=_model([call_tool("echo", text="hello")], seen),
        mcp_servers=[_stdio(requires_approval={"echo"})],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("mcp-stdio", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status != RunStatus.COMPLETED
    requests = [c.chunk for c in chunks if isinstance(c.chunk, ToolApprovalRequestChunk)]
    assert len(requests) == 1
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=requests[0].tool_call_id, approved=True
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    results = [m for m in await resumed.messages() if isinstance(m, ToolResultMessage)]
    assert [(r.tool_name, r.content, r.status) for r in results] == [
        ("echo", {"result": "HELLO"}, "success")
    ]


async def test_an_unreachable_server_is_told_to_the_model_not_a_crash(
    make_host: Callable[..., Any], mcp_url: str
) -> None:
    seen: list[Any] = []
    agent = Agent(
        name="mcp-down",
        system_prompt="Be brief.",
        model=_model("no tools today", seen),
        mcp_servers=[
            MCPServerHTTP(url=f"http://127.0.0.1:{free_port()}/mcp", name="down"),
            _http(mcp_url, allowed_tools=["add"]),
        ],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("mcp-down", "go")
    await collect(handle)
    assert (await handle.result()).status == RunStatus.COMPLETED
    system = seen[0].system
    assert system.startswith("Be brief.")
    assert "unavailable in this run" in system
    assert "'down' is unreachable" in system
    # The reachable server's tools are still offered.
    assert {t.name for t in seen[0].tools} == {"add"}
