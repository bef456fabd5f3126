"""The StreamManager Durable Object beyond the port: its storage rules, its WebSockets and
their attachments, its alarm, one object per session, and what is retried after a reset."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from helix_agents.agent import AgentRegistry
from helix_agents.chunks import RunEndChunk, SequencedChunk, StepEndChunk, TextDeltaChunk
from helix_agents.errors import DatabaseError, StreamError
from helix_agents.hosts.cloudflare import CloudflareApp, DOStreamManager, stream_owner
from helix_agents.hosts.cloudflare.do_sql import DurableObjectSql
from helix_agents.hosts.cloudflare.stream_sockets import MAX_ATTACHMENT, SocketState
from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
from helix_agents.testing.cloudflare.invocations import SUBREQUEST_LIMIT
from helix_agents.testing.cloudflare.jsvalues import JsArray, JsException
from helix_agents.testing.cloudflare.platform import FakeEnv
from helix_agents.testing.cloudflare.shim import workers_module
from helix_agents.testing.cloudflare.websockets import FakeWebSocket, WebSocketPair

NOW = 1_800_000_000_000


@pytest.fixture
def clock() -> list[int]:
    return [NOW]


@pytest.fixture
def namespace(clock: list[int]) -> FakeDurableObjectNamespace:
    app = CloudflareApp(AgentRegistry([]), clock=lambda: clock[0])
    return FakeDurableObjectNamespace(app.DurableObject, FakeEnv())


@pytest.fixture
def streams(namespace: FakeDurableObjectNamespace) -> DOStreamManager:
    return DOStreamManager(namespace)


def delta(text: str) -> TextDeltaChunk:
    return TextDeltaChunk(part_id="p", delta=text, step=1, attempt=1)


async def connect(namespace: FakeDurableObjectNamespace, stream_id: str, after: int = 0) -> Any:
    Request = workers_module().Request
    response = await namespace.getByName(stream_owner(stream_id)).fetch(
        Request(
            f"https://do/ws?stream={stream_id}&from={after}&v=6", headers={"upgrade": "websocket"}
        )
    )
    assert response.status == 101
    return response.web_socket


def test_streams_of_a_session_share_its_object() -> None:
    assert stream_owner("s_1--t1") == "s_1"
    assert stream_owner("s_1--t12--r3") == "s_1"
    assert stream_owner("plain") == "plain"


async def test_one_object_per_session(
    streams: DOStreamManager, namespace: FakeDurableObjectNamespace
) -> None:
    for run in ("a--t1", "a--t2", "b--t1"):
        await streams.create(run)
        await streams.write(run, [delta(run)])
    assert sorted(namespace.names()) == ["a", "b"]
    assert [i.chunk.delta for i in (await streams.read("a--t2")).chunks] == ["a--t2"]  # type: ignore[attr-defined]
    assert streams.calls == 7


async def test_storage_refuses_begin_and_rolls_back_a_failed_transaction(
    namespace: FakeDurableObjectNamespace, streams: DOStreamManager
) -> None:
    await streams.create("s--t1")
    hub = namespace.instance("s")._hub
    with pytest.raises(DatabaseError, match="transactionSync"):
        hub.sql.exec("BEGIN")
    sql = DurableObjectSql(hub.ctx.storage)

    def half_done() -> None:
        sql.exec(f"UPDATE {hub.log.streams_table} SET last_seq = 99")
        raise KeyError("the original error")

    with pytest.raises(KeyError, match="original"):
        sql.atomic(half_done)
    assert (await streams.info("s--t1")).last_seq == 0  # type: ignore[union-attr]


async def test_sockets_follow_their_run_and_survive_eviction(
    namespace: FakeDurableObjectNamespace, streams: DOStreamManager
) -> None:
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("one "), delta("two ")])
    ws = await connect(namespace, "s--t1", after=1)
    assert ws.drain() == [{"seq": 2, "chunk": {"type": "text-delta", "id": "p", "delta": "two "}}]
    (server,) = namespace.sockets("s")
    assert SocketState.load(server.deserializeAttachment()).cursor == 2  # type: ignore[union-attr]
    ack = await streams.write("s--t1", [delta("three ")])
    assert ack.readers == 1  # the socket counts as a live reader
    assert ws.drain()[0]["seq"] == 3
    await namespace.evict("s")
    await streams.write("s--t1", [delta("four ")])  # a fresh object finds the socket
    assert ws.drain() == [{"seq": 4, "chunk": {"type": "text-delta", "id": "p", "delta": "four "}}]
    assert namespace.constructions("s") == 2
    await streams.write("s--t1", [RunEndChunk(run_id="s--t1", status="completed")])
    await streams.set_status("s--t1", "ended")
    frames = await ws.receive_all()
    assert frames[-1] == {"done": True, "runId": "s--t1", "status": "completed"}
    assert ws.close_code == 1000
    assert namespace.sockets("s") == []


async def test_a_final_write_ends_the_sockets_in_one_call(
    namespace: FakeDurableObjectNamespace, streams: DOStreamManager
) -> None:
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("one ")])
    ws = await connect(namespace, "s--t1")
    assert [f["seq"] for f in ws.drain()] == [1]
    calls = streams.calls
    end = RunEndChunk(run_id="s--t1", status="completed")
    ack = await streams.write("s--t1", [delta("two "), end], status="ended")
    assert (ack.last_seq, ack.readers) == (3, 1)
    assert streams.calls == calls + 1  # the last chunks and the end: one subrequest
    frames = await ws.receive_all()
    assert [f.get("seq") for f in frames] == [2, 3, None]
    assert frames[-1] == {"done": True, "runId": "s--t1", "status": "completed"}
    assert ws.close_code == 1000
    assert namespace.sockets("s") == []


async def test_a_socket_to_a_stream_that_does_not_exist(
    namespace: FakeDurableObjectNamespace,
) -> None:
    ws = await connect(namespace, "nothing--t1")
    assert await ws.receive_all() == [{"done": True, "active": False}]


async def test_the_alarm_fails_silent_streams_and_deletes_old_ones(
    namespace: FakeDurableObjectNamespace, streams: DOStreamManager, clock: list[int]
) -> None:
    await streams.create("s--t1")
    await streams.create("s--t2")
    await streams.write("s--t2", [delta("x")])
    await streams.set_status("s--t2", "ended")
    ws = await connect(namespace, "s--t1")
    day = 86_400_000
    assert namespace.alarm("s") == NOW + day
    clock[0] = NOW + day + 1
    assert await namespace.run_alarms(clock[0]) == ["s"]
    # The silent active stream was failed (its socket told), the ended one deleted.
    assert (await streams.info("s--t1")).status == "failed"  # type: ignore[union-attr]
    assert await streams.info("s--t2") is None
    assert (await ws.receive_all())[-1]["done"] is True
    assert namespace.alarm("s") == clock[0] + day  # the failed one goes in a day
    clock[0] += day + 1
    await namespace.run_alarms(clock[0])
    assert await streams.info("s--t1") is None
    assert namespace.alarm("s") is None


class ResettingNamespace:
    """A namespace whose objects are reset once under the next call."""

    def __init__(self, inner: FakeDurableObjectNamespace) -> None:
        self.inner = inner
        self.resets = 0

    def getByName(self, name: str) -> Any:
        stub = self.inner.getByName(name)
        outer = self

        class Stub:
            def __getattr__(self, method: str) -> Any:
                async def call(*args: Any) -> Any:
                    if outer.resets:
                        outer.resets -= 1
                        raise JsException("Durable Object reset because its code was updated.")
                    return await getattr(stub, method)(*args)

                return call

        return Stub()


async def test_reads_are_retried_after_a_reset_but_writes_are_not(
    namespace: FakeDurableObjectNamespace,
) -> None:
    resetting = ResettingNamespace(namespace)
    streams = DOStreamManager(resetting)
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("a")])
    resetting.resets = 1
    assert len((await streams.read("s--t1")).chunks) == 1
    resetting.resets = 1
    with pytest.raises(StreamError, match="reset"):
        await streams.write("s--t1", [delta("b")])
    assert (await streams.info("s--t1")).last_seq == 1  # type: ignore[union-attr]


def test_attachments_stay_small() -> None:
    # A reader that saw steps of many sub-agents with long session ids: its memory would
    # not fit, so the least recent scopes go first; the run's own and the latest stay.
    state = SocketState(stream_id="s--t1", cursor=0)
    items = [SequencedChunk(seq=1, chunk=TextDeltaChunk(part_id="p", delta="a", step=3, attempt=2))]
    for i in range(16):
        child = {"source_session_id": f"{'x' * 300}{i}", "agent": "child", "step": 1}
        items.append(SequencedChunk(seq=2 + i, chunk=StepEndChunk(**child, attempt=1)))
    state.frames(items)
    text = state.dump()
    assert len(text.encode()) <= MAX_ATTACHMENT
    loaded = SocketState.load(text)
    assert loaded is not None
    assert loaded.reader is not None
    assert (loaded.stream_id, loaded.cursor) == ("s--t1", 17)
    kept = loaded.reader.encoder.state()
    assert [None, 3, 2, 1] in kept["s"]
    assert kept["f"][-1][0] == f"{'x' * 300}15"
    assert len(kept["f"]) < 16
    assert SocketState.load("not json") is None
    assert SocketState.load(None) is None


async def test_the_fakes_hold_the_platform_rules() -> None:
    from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectState

    namespace = FakeDurableObjectNamespace()
    state = FakeDurableObjectState(namespace, namespace._record("x"))
    client, server = WebSocketPair.new().object_values()
    with pytest.raises(JsException, match="JS array"):
        state.acceptWebSocket(server, ["tag"])
    state.acceptWebSocket(server, JsArray(["tag"]))
    with pytest.raises(JsException, match="could not be cloned"):
        server.serializeAttachment({"a": 1})
    with pytest.raises(JsException, match="2048"):
        server.serializeAttachment("x" * 3000)
    # As workerd takes Pyodide's JS values (tests/fakes_real holds them to it).
    with pytest.raises(JsException, match="Cannot convert a BigInt value to a number"):
        state.storage.sql.exec("SELECT ?", 2**53)
    assert state.storage.sql.exec("SELECT ? AS v", True).one() == {"v": "true"}
    with pytest.raises(JsException, match="too many SQL variables"):
        state.storage.sql.exec("SELECT 1", *range(101))
    with pytest.raises(JsException, match="exactly one"):
        state.storage.sql.exec("SELECT 1 UNION ALL SELECT 2").one()
    assert isinstance(client, FakeWebSocket)
    client.close(1000, "bye")
    with pytest.raises(JsException):
        client.send("after close")


async def test_invocations_count_their_subrequests_and_refuse_the_1001st(
    namespace: FakeDurableObjectNamespace,
) -> None:
    from helix_agents.testing.cloudflare.invocations import (
        TOO_MANY_SUBREQUESTS,
        Invocation,
        start_in,
    )

    streams = DOStreamManager(namespace)
    request = Invocation("fetch", "GET /x")

    async def worker() -> None:
        await streams.create("s--t1")  # 1
        for _ in range(SUBREQUEST_LIMIT - 1):
            await streams.info("s--t1")
        with pytest.raises(StreamError, match=TOO_MANY_SUBREQUESTS):
            await streams.info("s--t1")

    await start_in(request, worker())
    assert request.subrequests == {"durable_object": SUBREQUEST_LIMIT}
    assert request.refused == 1
    assert namespace.calls["s"] == SUBREQUEST_LIMIT  # the refused call never left the Worker


async def test_a_worker_holds_the_client_end_of_an_objects_socket(
    namespace: FakeDurableObjectNamespace, streams: DOStreamManager
) -> None:
    await streams.create("s--t1")
    await streams.write("s--t1", [delta("one "), delta("two ")])
    ws = await connect(namespace, "s--t1")
    events: list[Any] = []

    def listen(kind: str) -> Any:
        return lambda event: events.append((kind, event))

    ws.accept()  # the replay sent before accept() was held until now
    message, close = listen("message"), listen("close")
    ws.addEventListener("message", message)  # after accept(): events come in a later turn
    ws.addEventListener("close", close)
    assert events == []
    await asyncio.sleep(0)
    assert [json.loads(e.data)["seq"] for _, e in events] == [1, 2]
    await streams.write("s--t1", [delta("three ")])
    await asyncio.sleep(0)
    assert json.loads(events[-1][1].data)["seq"] == 3
    ws.removeEventListener("message", message)
    await streams.write("s--t1", [delta("four ")])
    await asyncio.sleep(0)
    assert len(events) == 3
    await namespace.reset("s")  # replaced: the connection drops without a close frame
    await asyncio.sleep(0)
    kind, event = events[-1]
    assert (kind, event.code, event.wasClean) == ("close", 1006, False)
    with pytest.raises(JsException, match="after close"):
        ws.send("ping")
