"""``/mcp`` on the local host, called by the official ``mcp`` package's client over a real
socket: the agents are its tools, a call runs a turn and answers, a session continues,
progress arrives, and the API's authentication holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool

TOKEN = "api-secret"


def _client(url: str, token: str | None = TOKEN) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


@tool
def lookup(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _weather(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("lookup", city="Paris")
    turns = sum(1 for m in messages if getattr(m, "role", None) == "user")
    return f"It is {info.tool_results[-1].content} (turn {turns})."


AGENTS = [
    Agent(
        name="weather",
        description="Tells the weather.",
        tools=[lookup],
        model=FunctionModel(_weather),
    ),
    Agent(
        name="echo",
        system_prompt="Repeat the task.\nMore.",
        model=FunctionModel(lambda m, i: "echoed"),
    ),
]


async def test_the_agents_are_tools_and_a_call_runs_a_turn(make_server: Callable[..., Any]) -> None:
    server = await make_server(*AGENTS, token=TOKEN)
    async with _client(server.url) as client:
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert set(tools) == {"weather", "echo"}
        assert tools["weather"].description == "Tells the weather."
        assert tools["echo"].description == "Repeat the task."
        assert tools["weather"].input_schema["required"] == ["message"]

        first = await client.call_tool("weather", {"message": "Weather in Paris?"})
        assert not first.is_error
        assert first.content[0].text == "It is sunny in Paris (turn 1)."
        structured = first.structured_content
        assert structured is not None
        assert structured["status"] == "completed"
        session_id = structured["sessionId"]

        # The same session goes on: the agent sees its history.
        second = await client.call_tool("weather", {"message": "And now?", "sessionId": session_id})
        assert second.content[0].text == "It is sunny in Paris (turn 2)."
        assert second.structured_content["sessionId"] == session_id

        # Arguments the tool refuses are a protocol error (another agent's session, an
        # empty message).
        with pytest.raises(Exception, match="belongs to the agent 'weather'"):
            await client.call_tool("echo", {"message": "x", "sessionId": session_id})
        with pytest.raises(Exception, match="message"):
            await client.call_tool("echo", {"message": ""})


async def test_a_call_with_a_progress_token_streams_progress(
    make_server: Callable[..., Any],
) -> None:
    server = await make_server(*AGENTS, token=TOKEN)
    notes: list[tuple[float, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        notes.append((value, message))

    async with _client(server.url) as client:
        result = await client.call_tool(
            "weather", {"message": "Weather?"}, progress_callback=progress
        )
    assert result.content[0].text == "It is sunny in Paris (turn 1)."
    messages = [m for _, m in notes]
    assert messages[:2] == ["step 1", "calling lookup"]
    assert "tool call done" in messages
    assert messages[-1] == "run completed"
    assert [v for v, _ in notes] == sorted(v for v, _ in notes)


async def test_mcp_keeps_the_apis_authentication(make_server: Callable[..., Any]) -> None:
    server = await make_server(*AGENTS, token=TOKEN)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a 401, whatever it is
        async with _client(server.url, token="wrong") as client:
            await client.list_tools()
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{server.url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"accept": "application/json, text/event-stream"},
        )
        assert refused.status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        get = await http.get(f"{server.url}/mcp", headers=auth)
        assert get.status_code == 405
        unknown = await http.post(
            f"{server.url}/mcp",
            json={"jsonrpc": "2.0", "id": 7, "method": "resources/list"},
            headers=auth,
        )
        assert unknown.json()["error"]["code"] == -32601
        junk = await http.post(
            f"{server.url}/mcp",
            content=b"[1, 2]",
            headers={**auth, "content-type": "application/json"},
        )
        assert junk.status_code == 400
        assert "JSON-RPC 2.0" in junk.json()["error"]["message"]
