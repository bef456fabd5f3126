"""Other Workers over RPC, on the real runtime: one ``wrangler dev`` session runs the helix
Worker and a second Worker, in JavaScript (``rpc_client/client.mjs``), bound to it by a
service binding (``HELIX``). The test reaches the second Worker through the helix Worker's
test route ``/__test__/rpc/<op>`` (a service binding back, ``RPC_CLIENT``: only the first
Worker of a session listens on a port); every call below then crosses Workers RPC from
JavaScript into the Python entrypoint's methods.

The second Worker starts a run and follows it to its end over RPC alone (``start_run``,
``result`` polled, ``snapshot``); approves a call, submits a client tool's result,
interrupts and aborts a run; errors come back as values."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helix_agents.http.auth import AUTH_ENV
from helix_agents.workerd.launch import local_worker
from helix_agents.workerd.process import LocalWorker
from helix_agents.workerd.site import COMPATIBILITY_DATE
from tests.http.agents import gated
from tests.support.agents import bank
from tests.worker_real.app import RELAY_VAR, mount_path
from tests.worker_real.queue_route import QUEUE_PATH, RPC_CLIENT_PREFIX

from .harness import APP, WorkerPool
from .relay import Relay, describe

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

RUN = uuid.uuid4().hex[:8]
SLOT = "rpc"
CLIENT = Path(__file__).parent / "rpc_client" / "client.mjs"
#: The helix Worker's name in the generated configuration (workerd.site.worker_config).
OUR_WORKER = "helix-agents-local"
CLIENT_NAME = "helix-rpc-client"


class TwoWorkers(LocalWorker):
    """``wrangler dev -c wrangler.json -c rpc-client/wrangler.json``: the helix Worker first
    (it listens on the port), the second Worker beside it in the same session."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("dev") + 1
        configs = ["-c", "wrangler.json", "-c", "rpc-client/wrangler.json"]
        return command[:at] + configs + command[at:]


def _two_workers(state: Path, relay: Relay) -> LocalWorker:
    single = local_worker(
        app=APP,
        state_dir=state,
        environ={},
        extra_vars={AUTH_ENV: "none", RELAY_VAR: relay.base(SLOT)},
        open_without_token=False,
    )
    site = single.site
    config = json.loads((site / "wrangler.json").read_text(encoding="utf-8"))
    assert config["name"] == OUR_WORKER
    config["services"] = [{"binding": "RPC_CLIENT", "service": CLIENT_NAME}]
    (site / "wrangler.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    client = site / "rpc-client"
    client.mkdir()
    shutil.copy2(CLIENT, client / "client.mjs")
    client_config = {
        "name": CLIENT_NAME,
        "main": "client.mjs",
        "compatibility_date": COMPATIBILITY_DATE,
        "services": [{"binding": "HELIX", "service": OUR_WORKER}],
    }
    (client / "wrangler.json").write_text(json.dumps(client_config, indent=2), encoding="utf-8")
    return TwoWorkers(single.runtime, site, single.persist, port=single.port)


@pytest.fixture(scope="module")
def workers(
    worker_pool: WorkerPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalWorker]:
    local = _two_workers(tmp_path_factory.mktemp("rpc"), worker_pool.relay)
    local.start()
    try:
        local.wait_ready()
        yield local
    finally:
        local.kill()
        worker_pool.relay.release(SLOT)


@pytest.fixture
async def client(workers: LocalWorker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=workers.url + RPC_CLIENT_PREFIX, timeout=90) as c:
        yield c


async def call(client: httpx.AsyncClient, op: str, **body: Any) -> Any:
    """One RPC call, made by the second Worker."""
    res = await client.post(op, json=body)
    assert res.status_code == 200, res.text
    return res.json()["answer"]


async def until(client: httpx.AsyncClient, session: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        result: dict[str, Any] = await call(client, "result", sessionId=session)
        if result["status"] in statuses:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{session} did not reach {statuses}: {result}")
        await asyncio.sleep(0.2)


def pending_call(snapshot: dict[str, Any], state: str) -> str:
    """The tool call id of the snapshot's part in ``state``."""
    for message in snapshot["messages"]:
        for part in message["parts"]:
            if part.get("state") == state:
                return str(part["toolCallId"])
    raise AssertionError(f"no part in state {state!r}: {snapshot['messages']}")


async def test_a_second_worker_starts_and_follows_a_run(client: httpx.AsyncClient) -> None:
    answer = await call(client, "follow", agentType="echo", message="hello over RPC")
    started, result, snapshot = answer["started"], answer["result"], answer["snapshot"]
    session = started["sessionId"]
    assert started["runId"] == f"{session}--t1"
    assert started["turn"] == 1
    assert result["status"] == "completed"
    assert result["done"] is True
    assert result["text"] == "echo: hello over RPC"
    assert result["runId"] == started["runId"]
    assert snapshot["sessionId"] == session
    assert snapshot["status"] == "completed"
    assert snapshot["agentType"] == "echo"
    texts = [p.get("text") for m in snapshot["messages"] for p in m["parts"]]
    assert "hello over RPC" in texts
    assert "echo: hello over RPC" in texts


async def test_start_run_with_a_message_id_starts_one_run(
    client: httpx.AsyncClient, workers: LocalWorker
) -> None:
    session = f"rpc-once-{RUN}"
    tag = f"rpc-{RUN}"
    args = {"agentType": "echo", "message": "once", "sessionId": session, "messageId": "m1"}
    first = await call(client, "start_run", **args, metadata={"tag": tag, "n": [1, None]})
    again = await call(client, "start_run", **args)
    assert first == again == {"sessionId": session, "runId": f"{session}--t1", "turn": 1}
    await until(client, session, {"completed"})
    snapshot = await call(client, "snapshot", sessionId=session)
    assert snapshot["turn"] == 1
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"]
    # The metadata crossed from JavaScript as JSON, nulls included (D1 has it).
    async with httpx.AsyncClient(base_url=workers.url, timeout=30) as helix:
        res = await helix.get(QUEUE_PATH, params={"tag": tag})
    assert res.json()["sessions"] == {session: [[f"{session}--t1", "completed"]]}
    assert res.json()["metadata"] == {session: {"tag": tag, "n": [1, None]}}


async def test_the_snapshot_over_rpc_gives_back_file_parts(
    client: httpx.AsyncClient, workers: LocalWorker
) -> None:
    chat = f"rpc-files-{RUN}"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    image = {
        "type": "file",
        "mediaType": "image/png",
        "url": "data:image/png;base64," + base64.b64encode(png).decode(),
        "filename": "dot.png",
    }
    parts = [{"type": "text", "text": "see"}, image]
    body = {"id": chat, "messages": [{"id": "u1", "role": "user", "parts": parts}]}
    # The HTTP API of an app with the echo agent, on the same D1 and R2 (the Worker's own
    # configuration serves no agent).
    api = workers.url + mount_path(json.dumps({"agents": ["echo"]}))
    async with httpx.AsyncClient(base_url=api, timeout=60) as helix:
        res = await helix.post("/chat?agent=echo", json=body)
        assert res.status_code == 200, res.text
        await until(client, chat, {"completed"})
        over_http = (await helix.get(f"/chat/{chat}")).json()
    # The file is read back from R2 by the same code as the HTTP snapshot's.
    snapshot = await call(client, "snapshot", sessionId=chat)
    assert snapshot["messages"][0]["parts"] == parts
    assert snapshot["messages"] == over_http["messages"]


async def test_errors_come_back_as_values(client: httpx.AsyncClient) -> None:
    unknown = await call(client, "start_run", agentType="nobody", message="x")
    assert unknown["error"]["code"] == "unknown_agent"
    missing = await call(client, "result", sessionId=f"no-such-{RUN}")
    assert missing["error"]["code"] == "session_not_found"
    bad = await call(client, "start_run", agentType="echo", message="")
    assert bad["error"]["code"] == "invalid_request"
    bad_id = await call(client, "start_run", agentType="echo", message="x", sessionId="a b")
    assert bad_id["error"]["code"] == "invalid_id"


async def test_a_second_worker_approves_a_call(
    client: httpx.AsyncClient, worker_pool: WorkerPool
) -> None:
    executed: list[int] = []
    worker_pool.relay.register(SLOT, describe(bank(executed)))
    started = await call(client, "start_run", agentType="bank", message="pay the rent")
    session = started["sessionId"]
    waiting = await until(client, session, {"suspended_client_tool"})
    assert waiting["done"] is True
    snapshot = await call(client, "snapshot", sessionId=session)
    call_id = pending_call(snapshot, "approval-requested")
    approved = await call(client, "approve", sessionId=session, toolCallId=call_id, approved=True)
    assert approved["toolCallId"] == call_id
    assert approved["stillPending"] == []
    assert approved["resumedRunId"]
    result = await until(client, session, {"completed"})
    assert result["text"] == "success: sent 100"
    assert executed == [100]
    again = await call(client, "approve", sessionId=session, toolCallId=call_id)
    assert again["error"]["code"] == "conflict"


async def test_a_second_worker_submits_a_client_tool_result(client: httpx.AsyncClient) -> None:
    started = await call(client, "start_run", agentType="locator", message="where am I?")
    session = started["sessionId"]
    await until(client, session, {"suspended_client_tool"})
    snapshot = await call(client, "snapshot", sessionId=session)
    call_id = pending_call(snapshot, "input-available")
    submitted = await call(
        client,
        "submit_tool_result",
        sessionId=session,
        toolCallId=call_id,
        result={"city": "Oslo", "accuracy_m": 5},
    )
    assert submitted["resumedRunId"]
    result = await until(client, session, {"completed"})
    assert "Oslo" in result["text"]


async def test_a_second_worker_interrupts_and_aborts_a_run(
    client: httpx.AsyncClient, worker_pool: WorkerPool
) -> None:
    opened = worker_pool.relay.register(SLOT, describe(gated(asyncio.Event(), words=3)))
    try:
        started = await call(client, "start_run", agentType="gated", message="go")
        session = started["sessionId"]
        deadline = time.monotonic() + 60
        while True:  # the run is active once its first words are out
            snapshot = await call(client, "snapshot", sessionId=session)
            if snapshot["activeRun"] and snapshot["activeRun"]["lastSequence"] > 2:
                break
            assert time.monotonic() < deadline, snapshot
            await asyncio.sleep(0.2)
        interrupted = await call(client, "interrupt", sessionId=session, reason="enough")
        assert interrupted == {
            "sessionId": session,
            "runId": started["runId"],
            "status": "interrupting",
        }
        opened.set()
        await until(client, session, {"interrupted"})
        aborted = await call(client, "abort", sessionId=session, reason="done")
        assert aborted["status"] == "aborted"
        assert (await call(client, "result", sessionId=session))["status"] == "aborted"
        nothing = await call(client, "interrupt", sessionId=session)
        assert nothing["error"]["code"] == "conflict"
    finally:
        opened.set()
