"""Long sessions over HTTP: the history route and the snapshot read pages (``limit``,
``before``, ``after``), so a 10,000-message session costs a page, not the session; hidden
messages reach the model but not the snapshot; a session's runs are listed."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.messages import AssistantMessage, Message, UserMessage
from helix_agents.testing import FunctionModel

pytestmark = pytest.mark.timeout(120)


def echo(seen: list[list[Message]] | None = None) -> Agent:
    def model(messages: list[Any], info: Any) -> str:
        if seen is not None:
            seen.append(list(messages))
        return f"heard {len(messages)}"

    return Agent(name="echo", model=FunctionModel(model))


async def long_session(server: Any, session_id: str, turns: int) -> int:
    """A session of one real turn, then ``turns`` more written straight to the store (a user
    message and an answer each): the number of stored messages."""
    handle = await server.host.executor.execute("echo", "first", session_id=session_id)
    assert (await handle.result()).status == "completed"
    store = server.host.executor.store
    start = await store.next_sequence(session_id)
    rows: list[tuple[int, Message]] = []
    for t in range(turns):
        seq = start + 2 * t
        rows.append((seq, UserMessage(content=f"q{t}", id=f"u{t}")))
        rows.append((seq + 1, AssistantMessage(content=f"a{t}", id=f"{session_id}-x{t}")))
    for i in range(0, len(rows), 500):
        await store.append_messages(session_id, rows[i : i + 500])
    return start + 2 * turns


async def test_history_route_pages_backwards_and_forwards(make_server: Any) -> None:
    server = await make_server(echo())
    total = await long_session(server, "pg1", 150)
    async with server.client() as http:
        page = (await http.get("/sessions/pg1/messages")).json()
        assert len(page["messages"]) == 100
        assert page["hasMore"] is True
        assert page["after"] == total - 1
        assert page["messages"][-1]["message"] == {
            "role": "assistant",
            "content": "a149",
            "id": "pg1-x149",
            "toolCalls": [],
        }
        # Backwards to the start, by the cursor each page gives.
        seqs = [m["sequence"] for m in page["messages"]]
        while page["hasMore"]:
            page = (await http.get(f"/sessions/pg1/messages?before={page['before']}")).json()
            seqs = [m["sequence"] for m in page["messages"]] + seqs
        assert seqs == list(range(total))
        # Forwards from a sequence.
        page = (await http.get("/sessions/pg1/messages?after=10&limit=5")).json()
        assert [m["sequence"] for m in page["messages"]] == [11, 12, 13, 14, 15]
        assert page["hasMore"] is True
        page = (await http.get(f"/sessions/pg1/messages?after={total - 3}")).json()
        assert [m["sequence"] for m in page["messages"]] == [total - 2, total - 1]
        assert page["hasMore"] is False
        # A window between two sequences.
        page = (await http.get("/sessions/pg1/messages?after=3&before=6")).json()
        assert [m["sequence"] for m in page["messages"]] == [4, 5]
        for bad in ["limit=0", "limit=1001", "limit=x", "before=-1", "after=1.5"]:
            res = await http.get(f"/sessions/pg1/messages?{bad}")
            assert res.status_code == 400, bad
            assert res.json()["error"]["code"] == "bad_request"
        assert (await http.get("/sessions/nope/messages")).status_code == 404


async def test_snapshot_of_a_10000_message_session_is_one_page(make_server: Any) -> None:
    server = await make_server(echo())
    total = await long_session(server, "pg2", 5000)
    assert total == 10_002
    async with server.client() as http:
        res = await http.get("/chat/pg2")
        assert res.status_code == 200
        assert len(res.content) < 40_000  # a page, not the session (about 1 MB whole)
        snap = res.json()
        assert snap["page"] == {"hasMore": True, "before": total - 200, "limit": 200}
        assert len(snap["messages"]) == 200
        assert snap["messages"][0] == {
            "id": "u4900",
            "role": "user",
            "parts": [{"type": "text", "text": "q4900"}],
        }
        assert snap["messages"][-1]["id"] == "pg2-x4999"
        assert snap["messages"][-1]["parts"][-1]["text"] == "a4999"
        older = (await http.get(f"/chat/pg2?before={snap['page']['before']}&limit=3")).json()
        # Three stored messages before the cursor, cut to whole turns: the last turn of them.
        assert [m["id"] for m in older["messages"]] == ["u4899", "pg2-x4899"]
        assert older["page"] == {"hasMore": True, "before": total - 202, "limit": 3}
        first = (await http.get("/chat/pg2?before=4&limit=1000")).json()
        assert first["page"]["hasMore"] is False
        assert [m["role"] for m in first["messages"]] == ["user", "assistant", "user", "assistant"]
        assert (await http.get("/chat/pg2?limit=5000")).status_code == 400


async def test_hidden_messages_reach_the_model_not_the_snapshot(make_server: Any) -> None:
    seen: list[list[Message]] = []
    server = await make_server(echo(seen))
    executor = server.host.executor
    handle = await executor.execute(
        "echo",
        [
            UserMessage(content="the user's timezone is UTC", metadata={"hidden": True}),
            UserMessage(content="what time is it?", metadata={"source": "web"}),
        ],
        session_id="hid1",
    )
    assert (await handle.result()).status == "completed"
    assert [m.content for m in seen[-1]] == ["the user's timezone is UTC", "what time is it?"]
    async with server.client() as http:
        snap = (await http.get("/chat/hid1")).json()
        users = [m for m in snap["messages"] if m["role"] == "user"]
        assert users == [
            {
                "id": users[0]["id"],
                "role": "user",
                "parts": [{"type": "text", "text": "what time is it?"}],
                "metadata": {"source": "web"},
            }
        ]
        raw = (await http.get("/sessions/hid1/messages")).json()
        assert raw["messages"][0]["message"]["metadata"] == {"hidden": True}


async def test_runs_are_listed_with_the_current_one(make_server: Any) -> None:
    server = await make_server(echo())
    executor = server.host.executor
    h1 = await executor.execute("echo", "one", session_id="rn1")
    assert (await h1.result()).status == "completed"
    h2 = await h1.send("two")
    assert (await h2.result()).status == "completed"
    runs = await executor.runs("rn1")
    assert [r.run_id for r in runs] == [h1.run_id, h2.run_id]
    assert await executor.current_run("rn1") is None
    async with server.client() as http:
        body = (await http.get("/sessions/rn1/runs")).json()
        assert body["sessionId"] == "rn1"
        assert [r["runId"] for r in body["runs"]] == [h2.run_id, h1.run_id]
        assert [r["turn"] for r in body["runs"]] == [2, 1]
        assert body["runs"][0]["status"] == "completed"
        assert body["runs"][0]["stepCount"] == 1
        assert body["current"] is None
        assert body["canResume"] is False
        assert (await http.get("/sessions/nope/runs")).status_code == 404


async def test_hidden_context_over_http(make_server: Any) -> None:
    seen: list[list[Message]] = []
    server = await make_server(echo(seen))
    async with server.client() as http:
        body = {
            "agentType": "echo",
            "sessionId": "hid2",
            "message": "what now?",
            "metadata": {"source": "mobile"},
            "context": [
                {"content": "the user is on page 3", "metadata": {"hidden": True}},
                {"content": "(pasted) a quote"},
            ],
        }
        res = await http.post("/chat", json=body)
        assert res.status_code == 200
        assert "[DONE]" in res.text
        assert [m.content for m in seen[-1]] == [
            "the user is on page 3",
            "(pasted) a quote",
            "what now?",
        ]
        snap = (await http.get("/chat/hid2")).json()
        users = [m for m in snap["messages"] if m["role"] == "user"]
        assert [u["parts"][0]["text"] for u in users] == ["(pasted) a quote", "what now?"]
        assert users[1]["metadata"] == {"source": "mobile"}
        bad = await http.post("/chat", json={**body, "context": [{"text": "x"}]})
        assert bad.status_code == 422
