"""Usage over HTTP: what the snapshot route reports after runs with tool calls and a
sub-agent (a session's usage rolled up over its children), and usage limits stopping a run.

The test models count tokens as words (``helix_agents.testing``), so every figure is exact."""

from __future__ import annotations

from typing import Any

import pytest

from .agents import analyst, capped, limited
from .harness import read_wire

pytestmark = pytest.mark.timeout(90)


def usage(
    inputs: int, outputs: int, requests: int, tool_calls: int, searches: int
) -> dict[str, Any]:
    return {
        "inputTokens": inputs,
        "outputTokens": outputs,
        "totalTokens": inputs + outputs,
        "requests": requests,
        "toolCalls": tool_calls,
        "custom": {"searches": searches},
    }


async def turn(client: Any, agent: str, session: str, message: str) -> list[dict[str, Any]]:
    body = {"agentType": agent, "message": message, "sessionId": session}
    async with client.stream("POST", "/chat", json=body) as res:
        assert res.status_code == 200
        wire = await read_wire(res)
    assert wire.done
    return wire.chunks


def children(chunks: list[dict[str, Any]]) -> list[str]:
    return sorted({c["data"]["sessionId"] for c in chunks if c["type"] == "data-subagent"})


async def test_usage_rolls_up_over_sub_agents(make_server: Any) -> None:
    server = await make_server(analyst())
    async with server.client() as client:
        chunks = await turn(client, "analyst", "use1", "one")
        [first_child] = children(chunks)
        snap = (await client.get("/chat/use1")).json()
        child = (await client.get(f"/chat/{first_child}")).json()
        # The analyst's two requests and one call (the delegation), plus the searcher's two
        # requests and two searches, each of which counted a custom "searches".
        assert snap["status"] == "completed"
        assert snap["usage"] == usage(23, 10, requests=4, tool_calls=3, searches=2)
        assert child["agentType"] == "searcher"
        assert child["usage"] == usage(16, 5, requests=2, tool_calls=2, searches=2)

        # A second turn adds to the session (a new child of its own), not to the first.
        chunks = await turn(client, "analyst", "use1", "two")
        [second_child] = children(chunks)
        assert second_child != first_child
        snap = (await client.get("/chat/use1")).json()
        again = (await client.get(f"/chat/{first_child}")).json()
        second = (await client.get(f"/chat/{second_child}")).json()
    assert snap["turn"] == 2
    assert snap["usage"] == usage(60, 20, requests=8, tool_calls=6, searches=4)
    assert again["usage"] == child["usage"]
    assert second["usage"] == usage(16, 5, requests=2, tool_calls=2, searches=2)


async def test_request_limit_stops_the_run(make_server: Any) -> None:
    server = await make_server(limited())
    async with server.client() as client:
        chunks = await turn(client, "limited", "use2", "go")
        snap = (await client.get("/chat/use2")).json()
    error = "The agent reached its limit of 2 model requests (used 2)."
    assert chunks[-2:] == [
        {"type": "error", "errorText": error},
        {"type": "finish", "finishReason": "error"},
    ]
    outputs = [c["output"] for c in chunks if c["type"] == "tool-output-available"]
    assert outputs == ["results for q0", "results for q1"]  # the third step never ran
    assert snap["status"] == "failed"
    assert snap["error"] == error
    assert snap["output"] is None
    assert snap["usage"] == usage(7, 4, requests=2, tool_calls=2, searches=2)


async def test_tool_call_limit_stops_the_run(make_server: Any) -> None:
    server = await make_server(capped())
    async with server.client() as client:
        chunks = await turn(client, "capped", "use3", "go")
        snap = (await client.get("/chat/use3")).json()
    error = "The agent would exceed its limit of 3 tool calls (2 made, 2 more requested)."
    assert chunks[-2:] == [
        {"type": "error", "errorText": error},
        {"type": "finish", "finishReason": "error"},
    ]
    # The calls over the limit get a result that says so: no dangling call.
    refused = [c for c in chunks if c["type"] == "tool-output-error"]
    assert [c["errorText"] for c in refused] == [
        "Not executed: the agent reached a usage limit."
    ] * 2
    assert snap["status"] == "failed"
    assert snap["error"] == error
    parts = [p for p in snap["messages"][1]["parts"] if p["type"] == "tool-search"]
    assert [(p["input"]["query"], p["state"]) for p in parts] == [
        ("q0", "output-available"),
        ("q1", "output-available"),
        ("q2", "output-error"),
        ("q3", "output-error"),
    ]
    assert snap["usage"] == usage(12, 8, requests=2, tool_calls=2, searches=2)
