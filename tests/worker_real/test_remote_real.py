"""A remote sub-agent on the real Worker: the Worker's ``remote_boss`` delegates to the
``researcher`` of a local host the test serves on 127.0.0.1 (a real socket), over that
host's HTTP API. The Workflow step starts the remote turn, proxies its stream into the
parent's (Durable Object) stream through the Workers ``fetch``, and writes its output as the
call's result; the reference row in D1 records the remote, and the remote's usage rolls up
into the Worker's snapshot. An interrupt of the Worker's parent reaches the remote, and the
parent's resume resumes the remote turn. A remote approval suspends the Worker's parent and
is answered through it; aborting a parent suspended so aborts the remote run."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool
from tests.http.harness import read_wire, start_server
from tests.worker_real.remote_agents import REMOTE_VAR, remote_boss

from .harness import WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]


def researcher(gate: asyncio.Event, executions: list[str] | None = None) -> Agent:
    @tool(requires_approval=True)
    def publish(text: str) -> str:
        """Publish."""
        if executions is not None:
            executions.append(text)
        return f"published {text}"

    async def stream(messages: list[Any], info: Any) -> Any:
        if "publish" in info.last_user_message:
            if not info.tool_results:
                yield call_tool("publish", text="draft")
            else:
                yield str(info.tool_results[-1].content)
            return
        if "wait" in info.last_user_message:
            yield "waiting "
            await gate.wait()
        for word in ("reading ", "the ", "sources "):
            await asyncio.sleep(0.1)
            yield word
        yield f"found: {info.last_user_message}"

    return Agent(name="researcher", tools=[publish], model=FunctionModel(stream_function=stream))


def remote_runs(tmp_path: Path, child: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(tmp_path / "remote" / "state.db")
    try:
        return db.execute(
            "SELECT run_id, status FROM __agents_runs WHERE session_id = ? ORDER BY run_id",
            [child],
        ).fetchall()
    finally:
        db.close()


def remote_usage(tmp_path: Path, child: str) -> tuple[int, int]:
    """Model requests and tool calls the remote counted for the child's session."""
    db = sqlite3.connect(tmp_path / "remote" / "state.db")
    try:
        row = db.execute(
            "SELECT SUM(requests), SUM(tool_calls) FROM __agents_usage WHERE session_id = ?",
            [child],
        ).fetchone()
    finally:
        db.close()
    return int(row[0] or 0), int(row[1] or 0)


async def _post_and_read(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    async with client.stream("POST", "/chat", json=body) as response:
        assert response.status_code == 200, await response.aread()
        return await read_wire(response)


async def _remote_child_running(tmp_path: Path, parent: str) -> str:
    for _ in range(600):
        if (tmp_path / "remote" / "state.db").exists():
            db = sqlite3.connect(tmp_path / "remote" / "state.db")
            try:
                row = db.execute(
                    "SELECT session_id FROM __agents_runs WHERE session_id LIKE ? "
                    "AND status = 'active'",
                    [f"{parent}-remote-%"],
                ).fetchone()
            finally:
                db.close()
            if row is not None:
                return str(row[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the remote child never ran")


async def test_a_worker_parent_delegates_to_a_local_host(
    worker_pool: WorkerPool, tmp_path: Path
) -> None:
    gate = asyncio.Event()
    executions: list[str] = []
    remote = await start_server(tmp_path / "remote", researcher(gate, executions))
    try:
        config, _ = config_of((remote_boss(),), {})
        env = tuple(sorted({**dict(root_env(config)), REMOTE_VAR: remote.url}.items()))
        # Starting the Worker blocks this loop for a while; the remote is not needed then.
        worker = worker_pool.get(env, "test_remote_real")
        since = worker.log_length()
        async with httpx.AsyncClient(base_url=worker.url, timeout=120) as client:
            body = {"agentType": "remote_boss", "message": "otters", "sessionId": "wr1"}
            async with client.stream("POST", "/chat", json=body) as response:
                assert response.status_code == 200, await response.aread()
                wire = await read_wire(response)
            assert wire.done
            text = "".join(c.get("delta", "") for c in wire.chunks if c["type"] == "text-delta")
            assert text == "report: success=reading the sources found: otters"
            sub = [c for c in wire.chunks if c["type"] == "data-subagent-chunk"]
            assert "".join(c["data"]["chunk"].get("delta", "") for c in sub) == (
                "reading the sources found: otters"
            )
            assert {c["data"]["agent"] for c in sub} == {"researcher"}
            parts = [c for c in wire.chunks if c["type"] == "data-subagent"]
            assert [p["data"]["status"] for p in parts] == ["running", "completed"]
            child = parts[0]["data"]["sessionId"]
            assert child.startswith("wr1-remote-")

            snapshot = (await client.get("/chat/wr1")).json()
            assert snapshot["status"] == "completed"
            (assistant,) = [m for m in snapshot["messages"] if m["role"] == "assistant"]
            (part,) = [p for p in assistant["parts"] if p["type"] == "data-subagent"]
            assert part["data"]["status"] == "completed"
            assert part["data"]["sessionId"] == child
            # One run on the remote: the child's session, started once.
            assert remote_runs(tmp_path, child) == [(f"{child}--t1", "completed")]
            # The remote's usage (one model request) rolls up into the Worker's snapshot.
            assert remote_usage(tmp_path, child) == (1, 0)
            assert (snapshot["usage"]["requests"], snapshot["usage"]["toolCalls"]) == (3, 1)

            # Interrupt: the Worker's step sends it on to the remote, the parent stops
            # interrupted; its resume resumes the remote turn (not a new one).
            body = {"agentType": "remote_boss", "message": "wait for it", "sessionId": "wr2"}
            started = asyncio.ensure_future(_post_and_read(client, body))
            child = await _remote_child_running(tmp_path, "wr2")
            res = await client.post("/chat/wr2/interrupt", json={})
            assert res.status_code == 202, res.text
            first = await asyncio.wait_for(started, 60)
            assert [c["type"] for c in first.chunks][-1] == "finish"
            for _ in range(200):
                if remote_runs(tmp_path, child) == [(f"{child}--t1", "interrupted")]:
                    break
                await asyncio.sleep(0.05)
            assert remote_runs(tmp_path, child) == [(f"{child}--t1", "interrupted")]
            assert (await client.get("/chat/wr2")).json()["status"] == "interrupted"
            gate.set()
            async with client.stream(
                "POST", "/chat/wr2/resume", headers={"accept": "text/event-stream"}, json={}
            ) as response:
                assert response.status_code == 200, await response.aread()
                resumed = await read_wire(response)
            assert resumed.done
            assert (await client.get("/chat/wr2")).json()["status"] == "completed"
            assert remote_runs(tmp_path, child) == [
                (f"{child}--t1", "interrupted"),
                (f"{child}--t1--r1", "completed"),
            ]

            # An approval: the remote stops for one, the Worker's parent suspends awaiting
            # it; the client answers through the Worker by approval id, and the Worker's
            # resumed step sends the answer on and follows the remote's resumed turn.
            body = {"agentType": "remote_boss", "message": "publish it", "sessionId": "wr3"}
            waiting = await _post_and_read(client, body)
            sub = [c["data"]["chunk"] for c in waiting.chunks if c["type"] == "data-subagent-chunk"]
            (request,) = [c for c in sub if c["type"] == "tool-approval-request"]
            assert (await client.get("/chat/wr3")).json()["status"] == (
                "suspended_awaiting_children"
            )
            assert executions == []
            answer = {"approvalId": request["approvalId"], "approved": True}
            async with client.stream(
                "POST",
                "/chat/wr3/submit-tool-result",
                headers={"accept": "text/event-stream"},
                json=answer,
            ) as response:
                assert response.status_code == 200, await response.aread()
                resumed = await read_wire(response)
            assert resumed.done
            text = "".join(c.get("delta", "") for c in resumed.chunks if c["type"] == "text-delta")
            assert text == "report: success=published draft"
            assert executions == ["draft"]
            again = await client.post("/chat/wr3/submit-tool-result", json=answer)
            assert again.status_code == 409, again.text
            final = (await client.get("/chat/wr3")).json()
            assert final["status"] == "completed"
            child = next(
                p["data"]["sessionId"]
                for m in final["messages"]
                for p in m["parts"]
                if p["type"] == "data-subagent"
            )
            assert remote_runs(tmp_path, child) == [
                (f"{child}--t1", "suspended_client_tool"),
                (f"{child}--t1--r1", "completed"),
            ]
            assert remote_usage(tmp_path, child) == (2, 1)
            assert (final["usage"]["requests"], final["usage"]["toolCalls"]) == (4, 2)

            # Aborted while it waits on the remote's question: no step of the Worker's
            # parent runs, so its abort request sends the abort on to the remote.
            body = {"agentType": "remote_boss", "message": "publish it", "sessionId": "wr4"}
            await _post_and_read(client, body)
            (ref,) = [
                p["data"]
                for m in (await client.get("/chat/wr4")).json()["messages"]
                for p in m["parts"]
                if p["type"] == "data-subagent"
            ]
            child = ref["sessionId"]
            assert remote_runs(tmp_path, child) == [(f"{child}--t1", "suspended_client_tool")]
            res = await client.post("/chat/wr4/abort", json={"reason": "not needed"})
            assert res.status_code == 200, res.text
            assert remote_runs(tmp_path, child) == [(f"{child}--t1", "aborted")]
            assert (await client.get("/chat/wr4")).json()["status"] == "aborted"
            assert executions == ["draft"]
        assert worker.error_lines(since) == []
    finally:
        await remote.stop()
