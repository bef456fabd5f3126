"""``RunApi`` (what a Worker's RPC methods forward to) on the real local host: JSON in and
out, runs started once per message id, approvals and client results, interrupt and abort,
errors as values. tests/worker_real/test_rpc_real.py calls the same methods over Workers
RPC from a second Worker."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.hosts.local.host import LocalHost
from helix_agents.rpc import RunApi
from helix_agents.testing import FunctionModel
from tests.http.agents import locator
from tests.support.agents import bank

pytestmark = pytest.mark.timeout(60)


def echo() -> Agent:
    def reply(messages: list[Any], info: Any) -> str:
        return f"echo: {info.last_user_message}"

    return Agent("echo", model=FunctionModel(reply))


async def until(api: RunApi, session: str, statuses: set[str]) -> dict[str, Any]:
    for _ in range(400):
        result = await api.result(session)
        if result.get("status") in statuses:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"{session} never reached {statuses}: {result}")


def pending_call(snapshot: dict[str, Any], state: str) -> str:
    for message in snapshot["messages"]:
        for part in message["parts"]:
            if part.get("state") == state:
                return str(part["toolCallId"])
    raise AssertionError(f"no part in state {state!r}")


async def test_start_follow_and_read_back(tmp_path: Path) -> None:
    async with LocalHost(echo(), tmp_path / "data", sweep_interval=None) as host:
        api = RunApi(host.executor)
        started = await api.start_run("echo", "hi", None, {"from": "rpc"})
        session = started["sessionId"]
        assert started == {"sessionId": session, "runId": f"{session}--t1", "turn": 1}
        result = await until(api, session, {"completed"})
        assert result == {
            "sessionId": session,
            "runId": f"{session}--t1",
            "turn": 1,
            "status": "completed",
            "done": True,
            "text": "echo: hi",
            "output": "echo: hi",
            "error": None,
        }
        snapshot = await api.snapshot(session)
        assert snapshot["status"] == "completed"
        assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"]
        assert (await host.executor.get_session(session)).metadata == {"from": "rpc"}
        # Every answer is JSON (it crosses Workers RPC).
        for answer in (started, result, snapshot):
            assert json.loads(json.dumps(answer)) == answer
        second = await api.start_run("echo", "again", session)
        assert second["turn"] == 2
        assert (await until(api, session, {"completed"}))["text"] == "echo: again"


async def test_a_message_id_starts_one_run(tmp_path: Path) -> None:
    async with LocalHost(echo(), tmp_path / "data", sweep_interval=None) as host:
        api = RunApi(host.executor)
        first = await api.start_run("echo", "x", "s1", None, "m1")
        again = await api.start_run("echo", "x", "s1", None, "m1")
        assert first == again == {"sessionId": "s1", "runId": "s1--t1", "turn": 1}
        await until(api, "s1", {"completed"})
        assert len(await host.store.list_runs("s1")) == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("nobody", "x"), "unknown_agent"),
        (("echo", ""), "invalid_request"),
        (("echo", 42), "invalid_request"),
        (("echo", "x", "bad id!"), "invalid_id"),
        (("echo", "x", None, "not a dict"), "invalid_request"),
    ],
)
async def test_bad_starts_are_errors_as_values(
    tmp_path: Path, args: tuple[Any, ...], code: str
) -> None:
    async with LocalHost(echo(), tmp_path / "data", sweep_interval=None) as host:
        answer = await RunApi(host.executor).start_run(*args)
        assert answer["error"]["code"] == code
        assert answer["error"]["message"]


async def test_unknown_sessions_are_errors_as_values(tmp_path: Path) -> None:
    async with LocalHost(echo(), tmp_path / "data", sweep_interval=None) as host:
        api = RunApi(host.executor)
        for answer in (
            await api.result("nope"),
            await api.snapshot("nope"),
            await api.interrupt("nope"),
            await api.abort("nope"),
            await api.approve("nope", "call-1"),
            await api.submit_tool_result("nope", "call-1", {"x": 1}),
        ):
            assert answer["error"]["code"] == "session_not_found"
        assert (await api.result(None))["error"]["code"] == "invalid_request"


async def test_approve_and_submit_a_client_result(tmp_path: Path) -> None:
    executed: list[int] = []
    async with LocalHost([bank(executed), locator()], tmp_path / "data") as host:
        api = RunApi(host.executor)
        session = (await api.start_run("bank", "pay"))["sessionId"]
        waiting = await until(api, session, {"suspended_client_tool"})
        assert waiting["done"] is True
        call_id = pending_call(await api.snapshot(session), "approval-requested")
        approved = await api.approve(session, call_id, True)
        assert approved["stillPending"] == []
        assert approved["resumedRunId"] == f"{session}--t1--r1"
        assert (await until(api, session, {"completed"}))["text"] == "success: sent 100"
        assert executed == [100]
        assert (await api.approve(session, call_id))["error"]["code"] == "conflict"

        session = (await api.start_run("locator", "where?"))["sessionId"]
        await until(api, session, {"suspended_client_tool"})
        call_id = pending_call(await api.snapshot(session), "input-available")
        bad = await api.submit_tool_result(session, call_id, {"city": "Oslo"})
        assert bad["error"]["code"] == "invalid_tool_submission"
        submitted = await api.submit_tool_result(
            session, call_id, {"city": "Oslo", "accuracy_m": 5}
        )
        assert submitted["resumedRunId"]
        assert "Oslo" in (await until(api, session, {"completed"}))["text"]


async def test_interrupt_then_abort(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def slow(messages: list[Any], info: Any) -> Any:
        yield "thinking "
        await gate.wait()
        yield "done"

    async with LocalHost(
        Agent("slow", model=FunctionModel(stream_function=slow)), tmp_path / "data"
    ) as host:
        api = RunApi(host.executor)
        started = await api.start_run("slow", "go")
        session = started["sessionId"]
        await asyncio.sleep(0.2)
        interrupted = await api.interrupt(session, "enough")
        assert interrupted == {
            "sessionId": session,
            "runId": started["runId"],
            "status": "interrupting",
        }
        gate.set()
        await until(api, session, {"interrupted"})
        aborted = await api.abort(session, "done")
        assert aborted == {"sessionId": session, "runId": started["runId"], "status": "aborted"}
        assert (await api.result(session))["status"] == "aborted"
        assert (await api.interrupt(session))["error"]["code"] == "conflict"


async def test_the_snapshot_gives_back_file_parts_as_http_does(make_server: Any) -> None:
    from tests.http.agents import echo as http_echo
    from tests.http.harness import read_wire

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    image = {
        "type": "file",
        "mediaType": "image/png",
        "url": "data:image/png;base64," + base64.b64encode(png).decode(),
        "filename": "dot.png",
    }
    body = {
        "id": "with-file",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "see"}, image]}
        ],
    }
    server = await make_server(http_echo())
    async with server.client() as client:
        async with client.stream("POST", "/chat?agent=echo", json=body) as res:
            assert res.status_code == 200
            await read_wire(res)
        over_http = (await client.get("/chat/with-file")).json()
    host = server.host
    snapshot = await RunApi(host.executor, services=host.services).snapshot("with-file")
    assert snapshot["messages"][0]["parts"] == [{"type": "text", "text": "see"}, image]
    assert snapshot == over_http
    assert json.loads(json.dumps(snapshot)) == snapshot
    # Without object storage the file part is left out, as the HTTP snapshot leaves it out.
    bare = await RunApi(host.executor).snapshot("with-file")
    assert bare["messages"][0]["parts"] == [{"type": "text", "text": "see"}]
