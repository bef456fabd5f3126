"""MCP on the real Worker (Python on Pyodide in local workerd): an agent there takes its tools
from a real MCP server on this machine (the official package's, tests/mcp_protocol/server_app.py),
reached through the Workers ``fetch``; and the official MCP client calls the Worker's
``/mcp``, where that agent is a tool. One Worker and one MCP server for the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.mcp_protocol._server import http_server
from tests.worker_real.app import mount_path
from tests.worker_real.mcp_agents import MCP_TOKEN_VAR, MCP_URL_VAR, mcp_user

from .harness import RealWorker, WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

MCP_TOKEN = "worker-mcp-token"
API_TOKEN = "worker-api-token"


@pytest.fixture(scope="module")
def worker(worker_pool: WorkerPool) -> Iterator[tuple[RealWorker, str]]:
    with http_server(MCP_TOKEN) as mcp_url:
        config, _ = config_of((mcp_user(),), {"token": API_TOKEN})
        env = tuple(
            sorted(
                {**dict(root_env(config)), MCP_URL_VAR: mcp_url, MCP_TOKEN_VAR: MCP_TOKEN}.items()
            )
        )
        chosen = worker_pool.get(env, "test_mcp_real")
        yield chosen, chosen.url + mount_path(config.app)


def _client(url: str, token: str = API_TOKEN) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


async def test_an_mcp_client_runs_a_worker_agent_that_uses_mcp_tools(
    worker: tuple[RealWorker, str],
) -> None:
    real, url = worker
    since = real.log_length()
    notes: list[str | None] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        notes.append(message)

    async with _client(url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["mcp_user"].description == "Adds and counts with a remote MCP server."
        result = await client.call_tool(
            "mcp_user", {"message": "add them"}, progress_callback=progress
        )
    assert not result.is_error, result.content
    # The agent's calls went from the Worker to the MCP server and back: its tools were
    # listed (filtered, prefixed), each call answered.
    assert result.content[0].text == (
        'results: success {"result": 42}; success {"result": "counted to 2"}'
    )
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert "calling m_add" in notes
    assert notes[-1] == "run completed"
    assert real.error_lines(since) == []


async def test_the_workers_mcp_keeps_its_authentication(worker: tuple[RealWorker, str]) -> None:
    _, url = worker
    async with httpx.AsyncClient(timeout=60) as http:
        refused = await http.post(
            f"{url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"accept": "application/json, text/event-stream"},
        )
        assert refused.status_code == 401
        listed = await http.post(
            f"{url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        body: dict[str, Any] = listed.json()
        assert [t["name"] for t in body["result"]["tools"]] == ["mcp_user"]
