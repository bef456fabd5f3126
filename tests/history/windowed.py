"""The windowed agent (``keep_last_turns(2)`` first: the loop reads only a window) and the
HTTP scenario of a long session, shared by the local host's test
(tests/history/test_windowed_http.py) and the real Worker's
(tests/worker_real/test_long_sessions_real.py). No pytest here: the Worker imports it."""

from __future__ import annotations

import json
from typing import Any

from helix_agents import Agent, tool
from helix_agents.history import drop_old_tool_outputs, keep_last_turns
from helix_agents.messages import ToolCall
from helix_agents.testing import FunctionModel

__all__ = ["WINDOWED", "scenario", "windowed_agent"]

WINDOWED = "windowed"


@tool
def look(topic: str) -> str:
    """Look a topic up."""
    return f"all about {topic}"


def _model(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        # A provider that numbers its calls per response: the same id in every turn.
        return [ToolCall(id="call_0", name="look", arguments={"topic": "x"})]
    return f"saw {len(messages)}"


def windowed_agent() -> Agent:
    return Agent(
        name=WINDOWED,
        tools=[look],
        model=FunctionModel(_model),
        history_processors=[keep_last_turns(2), drop_old_tool_outputs(keep=1)],
    )


async def _chat(http: Any, session_id: str, text: str) -> list[dict[str, Any]]:
    body = {"agentType": WINDOWED, "sessionId": session_id, "message": text}
    response = await http.post("/chat", json=body, headers={"accept": "text/event-stream"})
    assert response.status_code == 200, response.text
    return [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


async def scenario(http: Any, prefix: str = "") -> None:
    """Five turns of a windowed agent, then the paged reads; every answer checked against
    the server's /openapi.json."""
    from tests.http.openapi_check import check_response

    doc = (await http.get("/openapi.json")).json()

    async def get(path: str) -> Any:
        response = await http.get(path)
        check_response(doc, "GET", path.split("?")[0], response.status_code, response.content)
        assert response.status_code == 200, response.text
        return response.json()

    sid = f"{prefix}long"
    for turn in range(1, 6):
        chunks = await _chat(http, sid, f"question {turn}")
        text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
        # The window: the previous turn (4 messages) and this one (3 by the answer).
        assert text == ("saw 3" if turn == 1 else "saw 7"), (turn, text)
        starts = [c for c in chunks if c["type"] == "tool-input-start"]
        assert [c["toolCallId"] for c in starts] == [f"call_0~t{turn}s1"]

    # The whole history, a page of 3 at a time, backwards: 5 turns of 4 messages.
    page = await get(f"/sessions/{sid}/messages?limit=3")
    seen = [m["sequence"] for m in page["messages"]]
    while page["hasMore"]:
        page = await get(f"/sessions/{sid}/messages?limit=3&before={page['before']}")
        seen = [m["sequence"] for m in page["messages"]] + seen
    assert seen == list(range(20))
    forward = await get(f"/sessions/{sid}/messages?after=15")
    assert [m["sequence"] for m in forward["messages"]] == [16, 17, 18, 19]
    assert forward["hasMore"] is False
    stored = forward["messages"]
    assert [m["message"]["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[0]["message"]["content"] == "question 5"
    assert stored[0]["message"]["turn"] == 5
    assert stored[2]["message"]["content"] == "all about x"  # stored whole, never blanked

    # The snapshot's newest page: 6 stored messages, cut to whole turns (the last one).
    snap = await get(f"/chat/{sid}?limit=6")
    assert snap["page"] == {"hasMore": True, "before": 16, "limit": 6}
    assert [m["role"] for m in snap["messages"]] == ["user", "assistant"]
    older = await get(f"/chat/{sid}?limit=8&before=16")
    assert older["page"] == {"hasMore": True, "before": 8, "limit": 8}
    assert len(older["messages"]) == 4
    bad = await http.get(f"/chat/{sid}?limit=0")
    assert bad.status_code == 400

    runs = await get(f"/sessions/{sid}/runs")
    assert [r["turn"] for r in runs["runs"]] == [5, 4, 3, 2, 1]
    assert {r["status"] for r in runs["runs"]} == {"completed"}
    assert runs["current"] is None
