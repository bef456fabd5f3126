"""After a crash, every reader rebuilds the stored message, whatever its cursor.

A run of three model steps (two with tool calls) dies once or twice at chosen points: in a
model step while it streams or just before its database write, in a tool step after its
output was written, or around the run's last stream write. The local engine retries the
step. Every chunk is written as soon as it is added (no buffering), so each crash point
leaves exactly the chunks it should in the log.

The readers: the live one, which follows the run from its start as ``useChat`` does; a
replay from the start once the run is over (``useChat``'s resume, through the HTTP routes'
turn stream); and, for every event id either of those two received, a reader that had
received everything up to that event and reattaches with it as ``Last-Event-ID``. Each
must end with the message the snapshot rebuilds from the database (GET /chat/{id}).

WebSocket readers are held to the same rule, on both hosts: the local route's frames
(``websocket_frames``, what ``GET /chat/{id}/ws`` sends) and the Durable Object's sockets
(the real ``StreamHub`` over the Cloudflare fakes, every write of the run made on it too,
the object evicted after each one, so that every socket carries on from its attachment as
after hibernation, and replays paged a few chunks at a time). A live socket of each host
follows each instance from its start; then, for every frame it got, a socket comes back
with that frame's ``seq`` (on one host per generated example, on both in the named
cases). Every reader rebuilds the stored message.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.ui_message import UIMessageAssembler

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.chunks import SequencedChunk, StepResetChunk
from helix_agents.core import loop
from helix_agents.core.stream_writer import FlushPolicy
from helix_agents.executor import RunHandle
from helix_agents.hosts.cloudflare import CloudflareApp, DOStreamManager, stream_hub, stream_owner
from helix_agents.hosts.local.host import LocalHost
from helix_agents.http.snapshot import build_snapshot
from helix_agents.http.turns import INSTANCE_STRIDE, Instance, split_position, turn_sse
from helix_agents.http.websocket import websocket_frames
from helix_agents.streaming.ui import UIMessageEncoder, UIVersion, event_id
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.testing.cloudflare.durable_objects import FakeDurableObjectNamespace
from helix_agents.testing.cloudflare.platform import FakeEnv
from helix_agents.testing.cloudflare.shim import install as install_fakes
from helix_agents.testing.cloudflare.shim import workers_module
from helix_agents.testing.cloudflare.websockets import FakeWebSocket

pytestmark = pytest.mark.timeout(120)

#: What the model says at each step: text pieces, then the tools it calls.
SCRIPT: list[tuple[list[str], list[str]]] = [
    (["Let ", "me ", "look. "], ["Paris", "Rome"]),
    (["Now ", "the ", "second. "], ["Oslo"]),
    (["All ", "done."], []),
]
#: Every chunk goes out as soon as it is added: a crash leaves exactly what was added.
EVERY_CHUNK = FlushPolicy(live_interval=0.0, idle_interval=0.0)
RETRIES = 3
FAST_RETRY = {"retries": {"limit": RETRIES, "delay": 1, "backoff": "constant"}}


@tool
def lookup(city: str) -> str:
    """Look a city up.

    Args:
        city: The city.
    """
    return f"{city}: sunny"


@tool(requires_approval=True)
def transfer(amount: int) -> str:
    """Move money (a human approves it).

    Args:
        amount: How much.
    """
    return f"Bank: moved {amount}"


class Crashes:
    """Where the run dies. ``stream``: model step -> how many of its model events go out
    before each of its first attempts dies (``[2, 0]``: the first after two, the second
    before any); ``commit``: model steps that die just before their database write; ``tool``:
    tool calls (by city, "Bank" for the transfer) that die after their output, before their
    result is written;
    ``final``: the run's last stream write dies, before or after it lands."""

    def __init__(
        self,
        stream: dict[int, list[int]],
        commit: set[int],
        tool: set[str],
        final: str | None,
        gated: bool = False,
        v7: bool = False,
        reconnect: str = "both",
    ) -> None:
        self.stream, self.commit, self.tool, self.final = stream, commit, tool, final
        #: Step 1 also calls a tool that needs an approval: the turn suspends after step 1's
        #: other tools and a second instance (``--r1``) runs the rest, so readers follow
        #: the turn across two instances (http/turns.py).
        self.gated = gated
        #: Readers get the v7 chunks (``reset-step``, and the decision on an approval,
        #: which v6 has no chunk for: a v6 client holds it because it made it).
        self.ui_version: UIVersion = 7 if v7 or gated else 6
        #: The hosts whose WebSockets come back with every cursor (``both``, ``local`` or
        #: ``durable``; every host's follow live): one per generated example keeps the
        #: property's cost in check, and the examples cover both.
        self.reconnect = reconnect
        self.happened: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Crashes(stream={self.stream}, commit={self.commit}, tool={self.tool},"
            f" final={self.final!r}, gated={self.gated}, ui_version={self.ui_version},"
            f" reconnect={self.reconnect!r})"
        )

    def once(self, what: str) -> bool:
        if what in self.happened:
            return False
        self.happened.append(what)
        return True


def crashing_agent(crashes: Crashes) -> Agent:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        step = sum(1 for m in messages if getattr(m, "role", None) == "assistant")
        pieces, cities = SCRIPT[step]
        events: list[Any] = [*pieces, *(call_tool("lookup", city=c) for c in cities)]
        if crashes.gated and step == 0:
            events.append(call_tool("transfer", amount=5))
        dies = crashes.stream.get(step + 1, [])
        attempt = crashes.happened.count(f"stream{step + 1}")
        die_after = dies[attempt] if attempt < len(dies) else None
        for n, event in enumerate(events):
            if n == die_after:
                crashes.happened.append(f"stream{step + 1}")
                raise RuntimeError("the process died here")
            await asyncio.sleep(0)
            yield event

    model = FunctionModel(stream_function=stream)
    return Agent(name="a", tools=[lookup, transfer], model=model)


def install(host: LocalHost, crashes: Crashes) -> None:
    real_write = host.streams.write
    real_commit = host.store.commit_model_step
    real_tool = host.store.commit_tool_step
    model_commits: list[int] = []

    async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
        if status is not None and crashes.final is not None and crashes.once("final"):
            if crashes.final == "landed":
                await real_write(stream_id, chunks, status=status)
            raise RuntimeError("the process died here")
        return await real_write(stream_id, chunks, status=status)

    async def commit(*args: Any, **kw: Any) -> Any:
        model_commits.append(1)
        step = len(model_commits)
        if step in crashes.commit and crashes.once(f"commit{step}"):
            model_commits.pop()
            raise RuntimeError("the process died here")
        return await real_commit(*args, **kw)

    async def commit_tool(
        session_id: str, run_id: str, sequence: int, result: Any, **kw: Any
    ) -> Any:
        city = str(result.content).split(":")[0]
        if city in crashes.tool and crashes.once(f"tool{city}"):
            raise RuntimeError("the process died here")
        return await real_tool(session_id, run_id, sequence, result, **kw)

    host.streams.write = write  # type: ignore[method-assign,assignment]
    host.store.commit_model_step = commit  # type: ignore[method-assign]
    host.store.commit_tool_step = commit_tool  # type: ignore[method-assign,assignment]


class DurableSockets:
    """The run's streams made again, write for write, on the Durable Object of the fakes
    (evicted after every write: each of its sockets carries on from its attachment, as after
    hibernation), with one socket following each stream from its creation."""

    def __init__(self, version: UIVersion) -> None:
        self.version: UIVersion = version
        install_fakes()  # the fake js and workers modules (as tests/cloudflare has them)
        app = CloudflareApp(AgentRegistry([]))
        self.namespace = FakeDurableObjectNamespace(app.DurableObject, FakeEnv())
        self.streams = DOStreamManager(self.namespace)
        self.live: dict[str, FakeWebSocket] = {}

    def install(self, host: LocalHost) -> None:
        """Under :func:`install`: a write that died before it landed is not made again."""
        real_create, real_write = host.streams.create, host.streams.write
        real_status = host.streams.set_status

        async def create(stream_id: str) -> Any:
            info = await real_create(stream_id)
            await self.streams.create(stream_id)
            if stream_id not in self.live:
                self.live[stream_id] = await self.connect(stream_id, 0, self.version)
            return info

        async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
            ack = await real_write(stream_id, chunks, status=status)
            await self.streams.write(stream_id, chunks, status=status)
            owner = stream_owner(stream_id)
            if not self.namespace.in_flight(owner):  # an object with a call cannot hibernate
                await self.namespace.evict(owner)
            return ack

        async def set_status(stream_id: str, status: Any) -> Any:
            info = await real_status(stream_id, status)
            await self.streams.set_status(stream_id, status)
            return info

        host.streams.create = create  # type: ignore[method-assign]
        host.streams.write = write  # type: ignore[method-assign,assignment]
        host.streams.set_status = set_status  # type: ignore[method-assign]

    async def connect(self, stream_id: str, after: int, version: UIVersion) -> FakeWebSocket:
        request = workers_module().Request(
            f"https://do/ws?stream={stream_id}&from={after}&v={version}",
            headers={"upgrade": "websocket"},
        )
        response = await self.namespace.getByName(stream_owner(stream_id)).fetch(request)
        assert response.status == 101
        socket: FakeWebSocket = response.web_socket
        return socket

    async def read(self, stream_id: str, after: int, version: UIVersion) -> list[Any]:
        """Every frame a socket that comes back with ``after`` is sent, until it closes."""
        return await (await self.connect(stream_id, after, version)).receive_all()


async def local_frames(host: LocalHost, run_id: str, after: int, version: UIVersion) -> list[Any]:
    """Every frame the local route sends a reader of ``run_id`` that starts after ``after``."""
    return [
        json.loads(text)
        async for text in websocket_frames(host.streams, run_id, after, ui_version=version)
    ]


async def check_websockets(
    host: LocalHost,
    durable: DurableSockets,
    crashes: Crashes,
    instances: list[Instance],
    local_live: list[asyncio.Task[list[Any]]],
    stored: dict[str, Any],
) -> None:
    """The WebSocket readers of both hosts (see the module docstring). A WebSocket follows
    one instance with its own sequences: a client follows the turn instance by instance."""
    version = crashes.ui_version

    async def read(run_id: str, after: int) -> list[Any]:
        if name == "local":
            return await local_frames(host, run_id, after, version)
        return await durable.read(run_id, after, version)

    for name in ("local", "durable"):
        traces: list[list[Any]] = []
        for number, instance in enumerate(instances):
            if name == "local":  # the route's frames, followed live
                frames = await local_live[number]
            else:  # the socket that followed the instance live, across evictions
                live = durable.live[instance.run_id]
                frames = [*live.drain(), *await live.receive_all()]
            done = frames.pop()
            assert done["done"] is True, (crashes, name, done)
            traces.append([(f["seq"], f["chunk"]) for f in frames])
        whole = UIMessageAssembler(ui_version=version)
        for trace in traces:
            for _, ui in trace:
                whole.apply(ui)
        assert whole.message == stored, (crashes, name, "from the start")
        if crashes.reconnect not in (name, "both"):
            continue
        # Coming back with the seq of any frame, holding what the frames up to it built,
        # then following the later instances from their start.
        for index, trace in enumerate(traces):
            earlier = [ui for t in traces[:index] for _, ui in t]
            later = [ui for t in traces[index + 1 :] for _, ui in t]
            for i, (cursor, _) in enumerate(trace):
                reader = UIMessageAssembler()
                for ui in [*earlier, *(ui for _, ui in trace[: i + 1])]:
                    reader.apply(ui)
                rest = await read(instances[index].run_id, cursor)
                assert rest.pop()["done"] is True, (crashes, name, cursor)
                for ui in [*(f["chunk"] for f in rest), *later]:
                    reader.apply(ui)
                assert reader.message == stored, (crashes, name, index, cursor)


def parse_sse(body: bytes) -> list[tuple[int, dict[str, Any]]]:
    events = []
    for block in body.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "id" in fields and fields.get("data") != "[DONE]":
            events.append((int(fields["id"]), json.loads(fields["data"])))
    return events


async def read_turn(
    host: LocalHost, instances: list[Instance], after: int, version: UIVersion
) -> list[tuple[int, dict[str, Any]]]:
    """What the SSE routes send a reader of the turn that comes back with ``after``."""
    index, _ = split_position(after)
    served = [i for i in instances if i.index >= index]
    body = turn_sse(host.streams, served, after, ui_version=version)
    return parse_sse(b"".join([b async for b in body]))


async def follow_live(handle: RunHandle, live: UIMessageAssembler, index: int) -> list[Any]:
    """Follow one instance live from its start, at turn positions, as the SSE routes do;
    the events it was sent, with their ids."""
    base = index * INSTANCE_STRIDE
    live.encoder = UIMessageEncoder(after=base, ui_version=live.encoder.ui_version)
    trace = []
    async for item in handle.stream():
        chunk = item.chunk
        if isinstance(chunk, StepResetChunk) and chunk.superseded_from is not None:
            chunk = chunk.model_copy(update={"superseded_from": base + chunk.superseded_from})
        at = SequencedChunk(seq=base + item.seq, chunk=chunk)
        ui = live.encoder.encode(at)
        if ui is not None:
            live.apply(ui)
            trace.append((event_id(at), ui))
    return trace


async def check(crashes: Crashes, data_dir: Path) -> None:
    async with LocalHost(
        AgentRegistry([crashing_agent(crashes)]), data_dir, flush_policy=EVERY_CHUNK
    ) as host:
        durable = DurableSockets(crashes.ui_version)
        durable.install(host)
        install(host, crashes)
        handle = await host.executor.execute("a", "go")
        instances = [Instance(handle.run_id, 0)]
        version = crashes.ui_version
        ws_live = [asyncio.ensure_future(local_frames(host, handle.run_id, 0, version))]
        # The live reader, with the id of each event it was sent.
        live = UIMessageAssembler(ui_version=version)
        live_trace = await follow_live(handle, live, 0)
        result = await handle.result()
        if crashes.gated:
            assert result.status.value == "suspended_step_partial", crashes
            [pending] = (await handle.get_state()).pending_client_tool_calls
            submission = await host.executor.submit_tool_result(
                handle.session_id,
                tool_call_id=pending.tool_call_id,
                approved=True,
                approval_id=pending.approval_id,
            )
            resumed = host.executor.resumed_handle(submission)
            assert resumed is not None
            instances.append(Instance(resumed.run_id, 1))
            ws_live.append(asyncio.ensure_future(local_frames(host, resumed.run_id, 0, version)))
            live_trace += await follow_live(resumed, live, 1)
            result = await resumed.result()
        assert result.status.value == "completed", crashes
        state = await host.store.load_session(handle.session_id)
        assert state is not None
        stored = (await build_snapshot(host.executor, state))["messages"][-1]
        # Every tool call has its output in the stored message.
        tools = [p for p in stored["parts"] if p["type"].startswith("tool-")]
        assert len(tools) == 3 + crashes.gated, crashes
        assert {p["state"] for p in tools} == {"output-available"}, crashes
        assert live.message == stored, (crashes, "live")

        replay_trace = await read_turn(host, instances, 0, version)
        replay = UIMessageAssembler(ui_version=version)
        for _, ui in replay_trace:
            replay.apply(ui)
        assert replay.message == stored, (crashes, "replay")
        assert (replay.resets, replay.finishes) == (0, 1), crashes

        # Reattaching with the id of any event a reader received, holding what it built
        # from the events up to there; and once more with the id of the first event that
        # reattached reader got (a reader that came back, got one event and left again).
        for name, trace in (("live", live_trace), ("replay", replay_trace)):
            for i, (cursor, _) in enumerate(trace):
                reader = UIMessageAssembler()
                for _, ui in trace[: i + 1]:
                    reader.apply(ui)
                rest = await read_turn(host, instances, cursor, version)
                again = UIMessageAssembler()
                for _, ui in [*trace[: i + 1], *rest[:1]]:
                    again.apply(ui)
                for _, ui in rest:
                    reader.apply(ui)
                assert reader.message == stored, (crashes, name, cursor)
                if name == "replay":
                    assert reader.finishes == 1, (crashes, name, cursor)
                if rest:
                    for _, ui in await read_turn(host, instances, rest[0][0], version):
                        again.apply(ui)
                    assert again.message == stored, (crashes, name, cursor, rest[0][0])
        await check_websockets(host, durable, crashes, instances, ws_live, stored)
    expected = [f"stream{s}" for s, dies in crashes.stream.items() for _ in dies]
    expected += [f"commit{s}" for s in crashes.commit] + [f"tool{c}" for c in crashes.tool]
    assert sorted(crashes.happened) == sorted(expected + (["final"] if crashes.final else []))


STEP_EVENTS = {i + 1: len(p) + len(c) for i, (p, c) in enumerate(SCRIPT)}
CRASHES = st.builds(
    Crashes,
    stream=st.dictionaries(
        st.sampled_from(sorted(STEP_EVENTS)),
        st.lists(st.integers(0, 4), min_size=1, max_size=2),
        max_size=2,
    ).map(lambda d: {s: [min(n, STEP_EVENTS[s] - 1) for n in ns] for s, ns in d.items()}),
    commit=st.sets(st.sampled_from(sorted(STEP_EVENTS)), max_size=2),
    tool=st.sets(st.sampled_from(["Paris", "Rome", "Oslo", "Bank"]), max_size=1),
    final=st.sampled_from([None, "lost", "landed"]),
    gated=st.booleans(),
    v7=st.booleans(),
    reconnect=st.sampled_from(["durable", "local"]),
).filter(lambda c: (c.stream or c.commit or c.tool or c.final) and within_retries(c))


def within_retries(crashes: Crashes) -> bool:
    """Whether every model step dies fewer times than it may be retried: a step that runs
    out of retries fails the run, which is another story."""
    for step in STEP_EVENTS:
        dies = len(crashes.stream.get(step, [])) + (step in crashes.commit)
        dies += step == len(SCRIPT) and crashes.final is not None
        if dies > RETRIES:
            return False
    return crashes.gated or "Bank" not in crashes.tool


def run_check(crashes: Crashes) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        # A socket's replay goes page by page: its reader's memory must cross pages.
        patch.setattr(stream_hub, "_PAGE", 16)
        patch.setattr(loop, "MODEL_STEP_CONFIG", FAST_RETRY)
        patch.setattr(loop, "TOOL_STEP_CONFIG", FAST_RETRY)
        patch.setattr(loop, "FAIL_STEP_CONFIG", FAST_RETRY)  # the suspend step's too
        asyncio.run(check(crashes, Path(tmp)))


def test_a_model_step_retried_after_its_tools_wrote_chunks() -> None:
    # Step 2 dies while it streams, after step 1's tools wrote their outputs: the retry
    # resets step 2's dead attempt. Step 2's own tools then run; their outputs must reach
    # every reader, and no reader that never saw the dead attempt may drop step 1.
    run_check(Crashes(stream={2: [2]}, commit=set(), tool=set(), final=None))


def test_a_model_step_retried_before_its_write() -> None:
    run_check(Crashes(stream={}, commit={1, 2}, tool=set(), final=None))


def test_a_retry_that_dies_after_its_start() -> None:
    # Step 2's first attempt dies after some text, its second right after its start-step
    # (which a live reader shown the first reset is not sent): the live reader must still
    # be told to drop the second attempt, so that the third's start-step is left out too.
    run_check(Crashes(stream={2: [2, 0]}, commit=set(), tool=set(), final=None))


def test_a_resume_whose_model_step_is_retried_after_its_tools() -> None:
    # The turn suspends for an approval; its resume runs the approved call, then its model
    # step dies while it streams and is retried. Readers of the whole turn, from its start
    # or from any event of either instance, end with the stored message.
    run_check(Crashes(stream={2: [1]}, commit=set(), tool=set(), final=None, gated=True))


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(crashes=CRASHES)
def test_every_reader_rebuilds_the_stored_message(crashes: Crashes) -> None:
    run_check(crashes)
