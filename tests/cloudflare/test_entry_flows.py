"""Full flows through the real ``src/entry.py`` on the faked platform: ``POST /chat`` to a
Workflow instance to the StreamManager Durable Object to an SSE reader and a WebSocket; the
Workflows engine dying mid-run; the Durable Object evicted mid-stream; pings that never wake
it; multi-turn sessions; interrupt, resume and abort; the alarm's cleanup; the cron trigger.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.hosts.cloudflare import DOStreamManager
from helix_agents.store import load_migrations
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.testing.cloudflare.platform import FakeCloudflare, SSEEvent
from tests.cloudflare.entry_helpers import (
    chunks_of,
    gated_model,
    load_entry,
    read_sse,
    text_of,
    words,
)
from tests.support.ui_message import UIMessageAssembler

pytestmark = pytest.mark.timeout(60)

GATED_TEXT = words("a", 10) + words("b", 10)
#: A Worker without a token refuses every API request unless it opts out (test_fail_closed.py).
OPEN = {"HELIX_AUTH": "none"}


@pytest.fixture
async def worker() -> AsyncIterator[tuple[ModuleType, FakeCloudflare]]:
    entry = load_entry()
    platform = FakeCloudflare(entry, vars=OPEN)
    try:
        yield entry, platform
    finally:
        await platform.close()


def use_model(entry: ModuleType, model: Any) -> None:
    """Run the entry's agents on ``model`` from now on (the app resolves models once per
    isolate, so it is given a resolver that reads a holder)."""
    holder = entry.__dict__.setdefault("_test_model", {})
    holder["model"] = model
    entry.app.resolve_model = lambda spec: holder["model"]


async def start_gated(
    entry: ModuleType, platform: FakeCloudflare, session: str, gate: asyncio.Event
) -> tuple[AsyncIterator[SSEEvent], list[SSEEvent]]:
    """POST /chat for a gated run; read its SSE until every word before the gate arrived."""
    use_model(entry, gated_model(gate))
    response = await platform.fetch(
        "POST", "/chat", json={"agentType": "assistant", "message": "hi", "sessionId": session}
    )
    assert response.status == 200
    events = response.sse()
    seen: list[SSEEvent] = []
    async for event in events:
        seen.append(event)
        if text_of(chunks_of(seen)) == words("a", 10):
            break
    return events, seen


async def test_chat_reaches_an_sse_reader_and_a_websocket(
    worker: tuple[ModuleType, FakeCloudflare],
) -> None:
    entry, platform = worker
    gate = asyncio.Event()
    events, seen = await start_gated(entry, platform, "s1", gate)
    ws = await platform.websocket("/chat/s1/ws")
    first = await ws.receive_json()
    assert first == {"seq": 1, "chunk": {"type": "start", "messageId": "s1-t1"}}
    gate.set()
    sse = seen + [e async for e in events]
    frames = [first, *await ws.receive_all()]
    assert ws.close_code == 1000
    assert frames.pop() == {"done": True, "runId": "s1--t1", "status": "completed"}
    assert sse[-1].data == "[DONE]"
    wire = [(int(e.id), e.json()) for e in sse if e.id is not None]
    assert [(f["seq"], f["chunk"]) for f in frames] == wire
    assert text_of(chunks_of(sse)) == GATED_TEXT
    # One Durable Object per session; the run was one Workflow instance.
    assert platform.durable_objects.names() == ["s1"]
    assert platform.workflows.instance_ids() == ["s1--t1"]


async def test_a_workflows_engine_restart_mid_run(
    worker: tuple[ModuleType, FakeCloudflare],
) -> None:
    entry, platform = worker
    gate = asyncio.Event()
    events, seen = await start_gated(entry, platform, "r1", gate)
    await platform.workflows.restart()  # the engine dies mid model step, and comes back
    gate.set()
    chunks = chunks_of(seen + [e async for e in events])
    await platform.wait_for_instances()
    # The live reader saw the superseded attempt, then a reset, then the whole answer.
    resets = [i for i, c in enumerate(chunks) if c["type"] == "data-reset-step"]
    assert resets
    assert text_of(chunks[resets[-1] :]) == GATED_TEXT
    snapshot = await (await platform.fetch("GET", "/chat/r1")).json()
    assert snapshot["status"] == "completed"
    assert snapshot["messages"][-1]["parts"][-1]["text"] == GATED_TEXT
    # The tool step was cached: it ran once; the model step ran twice (the cut attempt).
    attempts = platform.workflows.stats.attempts_by_step
    tool_steps = [k for k in attempts if "/tool/" in k]
    assert [attempts[k] for k in tool_steps] == [1]
    assert attempts["r1--t1/turn-1/step-02/model"] == 2
    # A replay from the start shows the answer once: the log dropped the superseded text.
    handle = await entry.app.runtime(platform.env).executor.get_handle("r1")
    replay = [item.chunk async for item in handle.stream(0)]
    assert "".join(c.delta for c in replay if c.type == "text-delta") == GATED_TEXT


async def test_a_workflows_engine_restart_at_the_last_write(
    worker: tuple[ModuleType, FakeCloudflare], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last model step committed the run's end to D1; the engine dies as the step makes
    # the one write that carries the tail of the answer and the stream's end. The step's
    # retry finds the run ended and streams the stored answer again after a reset.
    entry, platform = worker
    real_write = DOStreamManager.write
    cut: list[str] = []

    async def write(
        self: DOStreamManager, stream_id: str, chunks: Any, *, status: Any = None
    ) -> Any:
        if status is not None and not cut:
            cut.append(stream_id)
            asyncio.get_running_loop().create_task(platform.workflows.restart())
            await asyncio.Event().wait()  # this attempt dies with the engine
        return await real_write(self, stream_id, chunks, status=status)

    monkeypatch.setattr(DOStreamManager, "write", write)
    gate = asyncio.Event()
    events, seen = await start_gated(entry, platform, "f1", gate)
    gate.set()
    sse = seen + [e async for e in events]
    await platform.wait_for_instances()
    assert cut == ["f1--t1"]
    assert sse[-1].data == "[DONE]"
    live = UIMessageAssembler()
    for chunk in chunks_of(sse):
        live.apply(chunk)
    snapshot = await (await platform.fetch("GET", "/chat/f1")).json()
    assert snapshot["status"] == "completed"
    stored = snapshot["messages"][-1]
    assert stored["parts"][-1] == {"type": "text", "text": GATED_TEXT, "state": "done"}
    assert live.message == stored
    assert (live.finishes, live.resets) == (1, 1)
    assert platform.workflows.stats.attempts_by_step["f1--t1/turn-1/step-02/model"] == 2
    # A replay from the start: the answer once, and one end.
    handle = await entry.app.runtime(platform.env).executor.get_handle("f1")
    replay = UIMessageAssembler()
    replay.feed([item async for item in handle.stream(0)])
    assert replay.message == stored
    assert (replay.finishes, replay.resets) == (1, 0)


async def test_a_durable_object_eviction_mid_stream(
    worker: tuple[ModuleType, FakeCloudflare],
) -> None:
    entry, platform = worker
    gate = asyncio.Event()
    events, seen = await start_gated(entry, platform, "e1", gate)
    ws = await platform.websocket("/chat/e1/ws")
    early = [await ws.receive_json() for _ in range(3)]
    assert [f["seq"] for f in early] == [1, 2, 3]
    # The object goes away while the SSE reader (the Worker's own socket to the object) and
    # a client's socket are connected: both survive in hibernation, and a fresh object
    # carries on from their cursors.
    before = platform.durable_objects.instance("e1")
    await platform.durable_objects.evict()
    await asyncio.sleep(0)
    assert platform.durable_objects.instance("e1") is not before
    gate.set()
    sse = seen + [e async for e in events]
    frames = early + await ws.receive_all()
    assert frames.pop() == {"done": True, "runId": "e1--t1", "status": "completed"}
    assert [(f["seq"], f["chunk"]) for f in frames] == [
        (int(e.id), e.json()) for e in sse if e.id is not None
    ]
    assert text_of(chunks_of(sse)) == GATED_TEXT
    assert platform.durable_objects.constructions("e1") >= 2
    assert entry.app.runtime(platform.env).streams.follows == {"socket": 1}
    # Starting the run, and one socket: no read of the reader was cut by the eviction.
    assert platform.invocation("POST /chat").subrequests["durable_object"] == 3


async def test_pings_never_wake_a_hibernated_object(
    worker: tuple[ModuleType, FakeCloudflare],
) -> None:
    # The run waits in a tool, where nothing calls the object: during a model call the
    # step's wait_stop is a request in flight, and an object with one never hibernates.
    entry, platform = worker
    gate, entered = asyncio.Event(), asyncio.Event()

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        prefix = "b" if info.tool_results else "a"
        for i in range(10):
            yield f"{prefix}{i} "
        if not info.tool_results:
            yield call_tool("get_weather", city="Paris")

    async def gated_weather(city: str) -> str:
        entered.set()
        await gate.wait()
        return f"sunny in {city}"

    use_model(entry, FunctionModel(stream_function=stream))
    weather = entry.app.registry.get("assistant").get_tool("get_weather")
    original = weather.function
    weather.function = gated_weather
    try:
        await _pings_never_wake(entry, platform, gate, entered)
    finally:
        weather.function = original


async def _pings_never_wake(
    entry: ModuleType, platform: FakeCloudflare, gate: asyncio.Event, entered: asyncio.Event
) -> None:
    # Started without an SSE reader (whose long poll would keep the object awake).
    await platform.fetch("GET", "/health")
    executor = entry.app.runtime(platform.env).executor
    handle = await executor.execute("assistant", "hi", session_id="h1")
    ws = await platform.websocket("/chat/h1/ws?from=2")
    await asyncio.wait_for(entered.wait(), 10)  # the run waits in its tool
    await platform.durable_objects.evict()
    ws.drain()  # the frames of the first step
    constructed = platform.durable_objects.constructions("h1")
    ws.send("ping")
    assert await ws.receive() == "pong"
    assert platform.durable_objects.instance("h1") is None  # still asleep
    (server,) = platform.durable_objects.sockets("h1")
    assert server.auto_responses == 1
    # A real message wakes it: a new instance finds the socket and replays from its cursor.
    ws.send('{"from": 0}')
    await ws.settled()
    assert platform.durable_objects.constructions("h1") == constructed + 1
    assert (await ws.receive_json())["seq"] == 1
    ws.drain()
    ws.send("nonsense")
    assert (await ws.receive_json())["error"]["code"] == "invalid_cursor"
    gate.set()
    rest = await ws.receive_all()
    assert rest[-1] == {"done": True, "runId": "h1--t1", "status": "completed"}
    assert text_of([f["chunk"] for f in rest[:-1]]) == words("b", 10)
    assert (await handle.result(timeout=10)).status == "completed"


async def test_multi_turn_sessions(worker: tuple[ModuleType, FakeCloudflare]) -> None:
    _, platform = worker
    first = await platform.fetch(
        "POST", "/chat", json={"agentType": "assistant", "message": "hello", "sessionId": "mt"}
    )
    assert (await read_sse(first))[-1].data == "[DONE]"
    second = await platform.fetch(
        "POST",
        "/chat",
        json={
            "id": "mt",
            "trigger": "submit-message",
            "messages": [
                {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "again"}]}
            ],
        },
        headers={"content-type": "application/json"},
    )
    events = await read_sse(second)
    assert events[-1].data == "[DONE]"
    assert chunks_of(events)[0] == {"type": "start", "messageId": "mt-t2"}
    assert sorted(platform.workflows.instance_ids()) == ["mt--t1", "mt--t2"]
    snapshot = await (await platform.fetch("GET", "/chat/mt")).json()
    users = [m for m in snapshot["messages"] if m["role"] == "user"]
    assert [u["parts"][0]["text"] for u in users] == ["hello", "again"]
    assert snapshot["status"] == "completed"


def talk_then_tool(gate: asyncio.Event) -> FunctionModel:
    """Says ten words, waits for ``gate``, calls a tool; after the tool, says "done"."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if info.tool_results:
            yield "done"
            return
        for i in range(10):
            yield f"a{i} "
        await gate.wait()
        yield call_tool("get_weather", city="Paris")

    return FunctionModel(stream_function=stream)


async def test_interrupt_then_resume(worker: tuple[ModuleType, FakeCloudflare]) -> None:
    entry, platform = worker
    gate = asyncio.Event()
    use_model(entry, talk_then_tool(gate))
    response = await platform.fetch(
        "POST", "/chat", json={"agentType": "assistant", "message": "hi", "sessionId": "ia"}
    )
    events = response.sse()
    async for event in events:
        if event.data != "[DONE]" and event.json().get("delta") == "a9 ":
            break
    interrupted = await platform.fetch("POST", "/chat/ia/interrupt")
    assert interrupted.status == 202
    gate.set()
    tail = chunks_of([e async for e in events])
    assert tail[-1] == {"type": "finish", "finishReason": "other"}
    await platform.wait_for_instances()
    snapshot = await (await platform.fetch("GET", "/chat/ia")).json()
    assert snapshot["status"] == "interrupted"
    resumed = await platform.fetch("POST", "/chat/ia/resume")
    assert resumed.status in (200, 202)
    await platform.drain()
    await platform.wait_for_instances()
    assert "ia--t1--r1" in platform.workflows.instance_ids()
    snapshot = await (await platform.fetch("GET", "/chat/ia")).json()
    assert snapshot["status"] == "completed"
    assert snapshot["messages"][-1]["parts"][-1]["text"] == "done"


async def test_abort_terminates_the_instance(worker: tuple[ModuleType, FakeCloudflare]) -> None:
    entry, platform = worker
    hold = asyncio.Event()
    events, _ = await start_gated(entry, platform, "ab", hold)
    aborted = await platform.fetch("POST", "/chat/ab/abort")
    assert aborted.status == 200
    tail = chunks_of([e async for e in events])
    assert tail[-1] == {"type": "abort"}
    status = await platform.workflows.wait("ab--t1")
    assert status["status"] == "terminated"
    assert (await (await platform.fetch("GET", "/chat/ab")).json())["status"] == "aborted"


async def test_the_alarm_cleans_up_ended_streams() -> None:
    entry = load_entry()
    now = [1_800_000_000_000]
    entry.app.clock = lambda: now[0]
    platform = FakeCloudflare(entry, vars=OPEN)
    try:
        response = await platform.fetch(
            "POST", "/chat", json={"agentType": "assistant", "message": "x", "sessionId": "ttl"}
        )
        await read_sse(response)
        await platform.wait_for_instances()
        streams = DOStreamManager(platform.durable_objects)
        assert (await streams.info("ttl--t1")) is not None
        alarm = platform.durable_objects.alarm("ttl")
        assert alarm is not None
        assert await platform.durable_objects.run_alarms(alarm - 1) == []
        now[0] += entry.app.stream_ttl * 1000 + 1
        assert await platform.durable_objects.run_alarms(now[0]) == ["ttl"]
        assert (await streams.info("ttl--t1")) is None
        assert platform.durable_objects.alarm("ttl") is None  # nothing left to clean
    finally:
        await platform.close()


@tool(requires_approval=True, expires_in=60)
def deploy(env: str) -> str:
    """Deploy."""
    raise AssertionError("an expired call must never run")


async def test_the_cron_trigger_expires_suspensions() -> None:
    from helix_agents.hosts.cloudflare import CloudflareApp

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("deploy", env="prod")
        return "never reached"

    now = [1_800_000_000_000]
    app = CloudflareApp(
        [Agent(name="ops", tools=[deploy], model=FunctionModel(model))],
        clock=lambda: now[0],
        environ=OPEN,
    )
    platform = FakeCloudflare(app)
    try:
        response = await platform.fetch(
            "POST", "/chat", json={"agentType": "ops", "message": "ship", "sessionId": "cron"}
        )
        chunks = chunks_of(await read_sse(response))
        assert any(c["type"] == "tool-approval-request" for c in chunks)
        await platform.wait_for_instances()
        snapshot = await (await platform.fetch("GET", "/chat/cron")).json()
        assert snapshot["status"] == "suspended_client_tool"
        await platform.scheduled()  # nothing expired yet
        assert (await (await platform.fetch("GET", "/chat/cron")).json())["status"] == (
            "suspended_client_tool"
        )
        now[0] += 61_000
        await platform.scheduled()
        await platform.wait_for_instances()
        snapshot = await (await platform.fetch("GET", "/chat/cron")).json()
        assert snapshot["status"] == "failed"
        assert "expired" in str(snapshot)
    finally:
        await platform.close()


async def test_websocket_refusals_are_frames(worker: tuple[ModuleType, FakeCloudflare]) -> None:
    _, platform = worker
    ghost = await platform.websocket("/chat/ghost/ws")
    assert await ghost.receive_all() == [
        {"error": {"code": "session_not_found", "message": "session 'ghost' not found"}}
    ]
    assert ghost.close_code == 4404
    bad = await platform.websocket("/chat/bad%20id/ws")
    frames = await bad.receive_all()
    assert frames[0]["error"]["code"] == "invalid_id"
    assert bad.close_code == 4400
    response = await platform.fetch(
        "POST", "/chat", json={"agentType": "assistant", "message": "x", "sessionId": "idle"}
    )
    await read_sse(response)
    await platform.wait_for_instances()
    idle = await platform.websocket("/chat/idle/ws")
    assert await idle.receive_all() == [{"done": True, "active": False}]
    assert idle.close_code == 1000


async def test_the_first_request_migrates_d1(worker: tuple[ModuleType, FakeCloudflare]) -> None:
    _, platform = worker
    tables = await platform.db.prepare(
        "SELECT name FROM sqlite_master WHERE name = '__agents_states'"
    ).all()
    assert tables["results"] == []
    assert (await platform.fetch("GET", "/health")).status == 200
    versions = await platform.db.prepare("SELECT version FROM __agents_schema_version").all()
    assert [row["version"] for row in versions["results"]] == [m.version for m in load_migrations()]
    calls = platform.db.calls
    await platform.fetch("GET", "/agents")
    assert platform.db.calls == calls  # after the first request, the check is free


@pytest.mark.model_requests
async def test_the_examples_run_on_workers_ai_when_configured() -> None:
    from helix_agents.testing import AIReply, FakeAIBinding

    ai = FakeAIBinding(
        AIReply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]),
        AIReply(text="It is cloudy in Paris."),
    )
    entry = load_entry()
    platform = FakeCloudflare(
        entry,
        ai=ai,
        vars={**OPEN, "HELIX_MODEL": "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"},
    )
    try:
        response = await platform.fetch(
            "POST",
            "/chat",
            json={"agentType": "assistant", "message": "weather?", "sessionId": "ai"},
        )
        chunks = chunks_of(await read_sse(response))
    finally:
        await platform.close()
    assert text_of(chunks).strip() == "It is cloudy in Paris."
    outputs = [c for c in chunks if c["type"] == "tool-output-available"]
    assert outputs[0]["output"]["city"] == "Paris"
    assert [call.model for call in ai.calls] == ["@cf/meta/llama-3.3-70b-instruct-fp8-fast"] * 2
    assert ai.calls[0].inputs["stream"] is True


@pytest.mark.model_requests
async def test_the_examples_run_on_an_openai_compatible_provider_over_fetch() -> None:
    import json

    from helix_agents.testing.cloudflare.shim import workers_module
    from helix_agents.testing.cloudflare.workers_sdk import set_fetch_handler

    seen: list[str] = []

    async def provider(request: Any) -> Any:
        seen.append(str(request.url))
        assert request.headers.get("authorization") == "Bearer sk-test"
        frames = [
            {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            for word in ("Hello ", "from ", "fetch.")
        ]
        body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
        return workers_module().Response(body, headers={"content-type": "text/event-stream"})

    entry = load_entry()
    platform = FakeCloudflare(
        entry,
        vars={**OPEN, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "https://llm.example/v1"},
    )
    set_fetch_handler(provider)
    try:
        response = await platform.fetch(
            "POST", "/chat", json={"agentType": "assistant", "message": "hi", "sessionId": "oa"}
        )
        chunks = chunks_of(await read_sse(response))
    finally:
        set_fetch_handler(None)
        await platform.close()
    assert text_of(chunks) == "Hello from fetch."
    assert seen == ["https://llm.example/v1/chat/completions"]
