"""What the chat page reads besides a session: ``GET /sessions`` (the sessions list) and the
model fields of ``GET /agents`` (the note shown while the offline demo model answers)."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.models.demo import DemoModel
from helix_agents.testing import FunctionModel, call_tool

from .agents import boss, talker
from .harness import read_wire

pytestmark = pytest.mark.timeout(60)


@tool(requires_approval=True)
def pay(amount: int) -> str:
    """Pay.

    Args:
        amount: How much.
    """
    return f"paid {amount}"


def payer() -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("pay", amount=3)
        return "done"

    return Agent(name="payer", tools=[pay], model=FunctionModel(model))


async def test_sessions_are_listed_newest_first_with_what_they_wait_for(
    make_server: Any,
) -> None:
    server = await make_server(talker(), payer())
    async with server.client() as client:
        assert (await client.get("/sessions")).json() == {"sessions": []}
        for agent, text, session in (
            ("talker", "first   question\nhere", "s-one"),
            ("payer", "x" * 200, "s-two"),
        ):
            body = {"agentType": agent, "message": text, "sessionId": session}
            async with client.stream("POST", "/chat", json=body) as res:
                assert res.status_code == 200
                await read_wire(res)
        listed = (await client.get("/sessions")).json()["sessions"]
    assert [s["sessionId"] for s in listed] == ["s-two", "s-one"]
    two, one = listed
    assert two["agentType"] == "payer"
    assert two["status"] == "suspended_client_tool"
    assert two["waitingFor"] == "approval"
    assert two["title"] == "x" * 80
    assert one["status"] == "completed"
    assert "waitingFor" not in one
    assert one["title"] == "first question here"
    assert one["createdAt"] <= one["updatedAt"] <= two["updatedAt"]


async def test_sub_agent_sessions_and_other_users_sessions_are_not_listed(
    make_server: Any,
) -> None:
    async def as_header(conn: Any) -> str | None:
        return str(conn.headers.get("x-user"))

    server = await make_server(boss(), auth=as_header)
    async with server.client() as client:
        body = {"agentType": "boss", "message": "hi", "sessionId": "mine"}
        async with client.stream("POST", "/chat", json=body, headers={"x-user": "ann"}) as res:
            assert res.status_code == 200
            await read_wire(res)
        children = await server.host.executor.store.list_sessions(parent_session_id="mine")
        assert children, "the manager delegated: a child session exists"
        mine = (await client.get("/sessions", headers={"x-user": "ann"})).json()["sessions"]
        theirs = (await client.get("/sessions", headers={"x-user": "bob"})).json()["sessions"]
    assert [s["sessionId"] for s in mine] == ["mine"]
    assert theirs == []


async def test_agents_name_their_model_and_whether_the_offline_demo_answers(
    make_server: Any,
) -> None:
    server = await make_server(
        Agent(name="a-demo", model=DemoModel()),
        Agent(name="b-demo-string", model="demo"),
        talker("c-scripted"),
    )
    async with server.client() as client:
        agents = {a["name"]: a for a in (await client.get("/agents")).json()["agents"]}
    assert (agents["a-demo"]["model"], agents["a-demo"]["offlineDemo"]) == ("demo", True)
    assert agents["b-demo-string"]["offlineDemo"] is True
    assert agents["c-scripted"]["offlineDemo"] is False
    assert agents["c-scripted"]["model"]


async def test_a_host_that_swaps_the_demo_model_is_asked(make_server: Any) -> None:
    # A Worker's model_from_env replaces "demo" with the configured model: then the page
    # must not claim the demo answers.
    swapped = talker("x").model
    server = await make_server(Agent(name="b", model="demo"), resolve_model=lambda _: swapped)
    kept = await make_server(Agent(name="b", model="demo"), resolve_model=lambda _: DemoModel())
    async with server.client() as client:
        (agent,) = (await client.get("/agents")).json()["agents"]
    assert agent["offlineDemo"] is False
    async with kept.client() as client:
        (agent,) = (await client.get("/agents")).json()["agents"]
    assert agent["offlineDemo"] is True


async def test_the_sessions_list_is_one_statement_however_many_sessions(
    make_server: Any,
) -> None:
    from helix_agents.messages import AssistantMessage, UserMessage
    from helix_agents.state import SessionState
    from tests.store.test_steps import CountingDatabase

    server = await make_server(talker())
    store = server.host.executor.store
    counting = CountingDatabase(store.db)
    store.db = counting
    made = 0
    counts = []
    async with server.client() as client:
        for total in (1, 30):
            for n in range(made, total):
                sid = f"s-{n:02}"
                await store.create_session(
                    SessionState(session_id=sid, agent_type="talker", stream_id=sid)
                )
                first = (
                    AssistantMessage(content="hello")
                    if n % 7 == 3
                    else UserMessage(content=f"  question\n number {n} " + "y" * 90)
                )
                await store.append_messages(sid, [(0, first), (1, UserMessage(content="later"))])
            made = total
            counting.reset()
            listed = (await client.get("/sessions")).json()["sessions"]
            counts.append(counting.statements)
            # What the list showed before: one read per session for its first message.
            expected = []
            for state in await store.list_sessions(limit=200):
                first_rows = await store.load_messages(state.session_id, limit=1)
                message = first_rows[0][1] if first_rows else None
                text = message.content if isinstance(message, UserMessage) else ""
                expected.append((state.session_id, " ".join(text.split())[:80]))
            assert [(s["sessionId"], s["title"]) for s in listed] == expected[:50]
    assert counts == [1, 1]
    titles = {s["sessionId"]: s["title"] for s in listed}
    assert titles["s-29"] == "question number 29 " + "y" * 61
    assert titles["s-03"] == ""  # its first message is not a user's
