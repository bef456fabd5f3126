"""The notes agent (typed state) and the HTTP scenario of typed state and checkpoints,
shared by the local host's test (tests/state/test_state_http.py) and the real Worker's
(tests/worker_real/test_branches_real.py). No pytest here: the Worker imports it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.json_patch import apply_patch
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

__all__ = ["NOTES", "Notes", "notes_agent", "scenario"]

NOTES = "notes"


class Notes(BaseModel):
    notes: list[str] = []
    mood: str = "calm"


@tool
def note(ctx: ToolContext[Any, Notes], text: str) -> int:
    """Keep a note."""
    ctx.state.notes.append(text)
    return len(ctx.state.notes)


def _model(messages: list[Any], info: Any) -> Any:
    if not info.tool_results:
        return call_tool("note", text=f"n{len(messages)}")
    return "noted"


def notes_agent() -> Agent:
    return Agent(name=NOTES, tools=[note], model=FunctionModel(_model), state_type=Notes)


async def _chat(http: Any, session_id: str, text: str) -> list[dict[str, Any]]:
    body = {"agentType": "notes", "sessionId": session_id, "message": text}
    response = await http.post("/chat", json=body, headers={"accept": "text/event-stream"})
    assert response.status_code == 200, response.text
    chunks = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunks.append(json.loads(line[6:]))
    return chunks


async def scenario(http: Any, prefix: str = "") -> None:
    """Typed state, checkpoints, a rewind and a fork, each session continued after, over
    the HTTP API at ``http``'s base URL; every answer checked against its /openapi.json."""
    # Imported here: the Worker imports this module for its agent, and has no jsonschema.
    from tests.http.openapi_check import check_response

    h1, h2 = f"{prefix}h1", f"{prefix}h2"
    doc = (await http.get("/openapi.json")).json()

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        response = await http.request(method, path, **kwargs)
        check_response(doc, method, path, response.status_code, response.content)
        return response

    chunks = await _chat(http, h1, "hello")
    patches = [c["data"] for c in chunks if c["type"] == "data-state-patch"]
    assert all(c.get("transient") for c in chunks if c["type"] == "data-state-patch")
    mirrored = apply_patch({"notes": [], "mood": "calm"}, [op for p in patches for op in p])
    got = (await call("GET", f"/sessions/{h1}/state")).json()
    assert got == {"sessionId": h1, "state": {"notes": ["n1"], "mood": "calm"}}
    assert mirrored == got["state"]
    snapshot = (await http.get(f"/chat/{h1}")).json()
    assert snapshot["state"] == got["state"]

    # A human's edit, validated against the model.
    bad = await call("PUT", f"/sessions/{h1}/state", json={"mood": 3})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "state_invalid"
    assert "mood" in bad.json()["error"]["message"]
    put = await call("PUT", f"/sessions/{h1}/state", json={"notes": ["edited"], "mood": "busy"})
    assert put.status_code == 200
    assert put.json()["state"] == {"notes": ["edited"], "mood": "busy"}
    await _chat(http, h1, "again")
    state = (await call("GET", f"/sessions/{h1}/state")).json()["state"]
    assert state == {"notes": ["edited", "n5"], "mood": "busy"}

    listed = (await call("GET", f"/sessions/{h1}/checkpoints")).json()["checkpoints"]
    assert [(c["sequence"], c["kind"]) for c in listed] == [
        (0, "turn"),
        (1, "step"),
        (3, "step"),
        (4, "turn"),
        (5, "step"),
        (7, "step"),
        (8, "head"),
    ]
    assert listed[3]["state"] == {"notes": ["edited"], "mood": "busy"}
    assert listed[-1]["usage"]["requests"] == 4

    # Fork from the second turn's start, rewind the origin to its first answer.
    forked = await call("POST", f"/sessions/{h1}/fork", json={"checkpoint": 4, "sessionId": h2})
    assert forked.status_code == 201
    assert forked.json() == {
        "sessionId": h2,
        "forkedFrom": {"sessionId": h1, "checkpoint": 4},
        "state": {"notes": ["edited"], "mood": "busy"},
    }
    rewound = await call("POST", f"/sessions/{h1}/rewind", json={"checkpoint": 3})
    assert rewound.status_code == 200
    assert rewound.json()["state"] == {"notes": ["n1"], "mood": "calm"}
    snapshot = (await http.get(f"/chat/{h1}")).json()
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"]
    # Both continue normally.
    await _chat(http, h1, "after rewind")
    assert (await http.get(f"/sessions/{h1}/state")).json()["state"]["notes"] == ["n1", "n4"]
    await _chat(http, h2, "on the branch")
    assert (await http.get(f"/sessions/{h2}/state")).json()["state"]["notes"] == [
        "edited",
        "n5",
    ]
    snapshot = (await http.get(f"/chat/{h2}")).json()
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"] * 2
    # The branch's checkpoints: its origin's up to the fork, then its own, the counters
    # carried across the fork.
    branch = (await call("GET", f"/sessions/{h2}/checkpoints")).json()["checkpoints"]
    assert [(c["sequence"], c["kind"], c["step"], c["usage"]["requests"]) for c in branch] == [
        (0, "turn", 0, 0),
        (1, "step", 0, 0),
        (3, "step", 1, 1),
        (4, "turn", 2, 2),
        (5, "step", 2, 2),
        (7, "step", 3, 3),
        (8, "head", 4, 4),
    ]

    # Refusals: unknown checkpoint, bad bodies, a taken id, a missing session.
    for method, path, body, status in [
        ("POST", f"/sessions/{h1}/rewind", {"checkpoint": 2}, 404),
        ("POST", f"/sessions/{h1}/rewind", {"checkpoint": "x"}, 422),
        ("POST", f"/sessions/{h1}/rewind", {}, 422),
        ("POST", f"/sessions/{h1}/fork", {"checkpoint": 0, "sessionId": h2}, 409),
        ("POST", f"/sessions/{h1}/fork", {"checkpoint": 0, "sessionId": "bad id!"}, 400),
        ("GET", "/sessions/nope/checkpoints", None, 404),
        ("PUT", f"/sessions/{h1}/state", [1, 2], 422),
    ]:
        response = await call(method, path, json=body)
        assert response.status_code == status, (path, body, response.text)
