"""Long SSE responses through the Worker, on virtual time: a model step streaming for minutes
reaches its reader at a cost in subrequests that does not grow with the stream; Durable
Object evictions and resets lose or repeat nothing; the long-poll fallback paces itself and,
past its budget, ends the response cleanly for the client to reattach.

Each response is one Worker invocation of the fake platform, which counts its subrequests
and refuses the 1,001st as Cloudflare does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from helix_agents import Agent, tool
from helix_agents.hosts.cloudflare import CloudflareApp, ReaderPolicy
from helix_agents.streaming.sse import REATTACH
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.testing.cloudflare.invocations import SUBREQUEST_LIMIT
from helix_agents.testing.cloudflare.platform import FakeCloudflare, FakeResponse
from helix_agents.testing.cloudflare.virtual_time import run_virtual, virtual_clock_ms

RATE = 50.0  # tokens per second


@tool
def lookup(i: int) -> int:
    """Look something up.

    Args:
        i: Which thing.
    """
    return i


def streaming_model(deltas: int, steps: int = 1) -> Any:
    """Streams ``deltas`` text deltas in all over ``steps`` model steps (each but the last
    ends with a tool call), at :data:`RATE` a second."""
    per_step = deltas // steps

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        step = len(info.tool_results)
        for i in range(step * per_step, (step + 1) * per_step):
            await asyncio.sleep(1 / RATE)
            yield f"t{i} "
        if step < steps - 1:
            yield call_tool("lookup", i=step)

    return FunctionModel(stream_function=stream)


@dataclass
class Body:
    """An SSE body as a client reads it: events (id, data) and whether it ended [DONE]."""

    events: list[tuple[int, str]] = field(default_factory=list)
    done: bool = False
    reattach: bool = False
    errors: list[str] = field(default_factory=list)


async def read_body(response: FakeResponse) -> Body:
    body = Body()
    buffer = b""
    async for chunk in response.chunks():
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            if block + b"\n\n" == REATTACH:
                body.reattach = True
            lines = block.decode().split("\n")
            data = [line[6:] for line in lines if line.startswith("data: ")]
            ids = [int(line[4:]) for line in lines if line.startswith("id: ")]
            if data == ["[DONE]"]:
                body.done = True
            elif data and ids:
                body.events.append((ids[0], data[0]))
            elif data:
                body.errors.append(json.loads(data[0]).get("errorText", ""))
    return body


def text(events: list[tuple[int, str]]) -> str:
    return "".join(
        c.get("delta", "") for c in (json.loads(d) for _, d in events) if c["type"] == "text-delta"
    )


def expected_text(deltas: int) -> str:
    return "".join(f"t{i} " for i in range(deltas))


async def on_platform(
    deltas: int,
    scenario: Callable[[FakeCloudflare, CloudflareApp], Awaitable[Any]],
    *,
    steps: int = 1,
    **app_options: Any,
) -> Any:
    model = streaming_model(deltas, steps)
    app = CloudflareApp(
        [Agent(name="talker", model="test", tools=[lookup], max_steps=steps + 1)],
        clock=virtual_clock_ms,
        resolve_model=lambda spec: model,
        environ={"HELIX_AUTH": "none"},  # no token: opted out explicitly
        **app_options,
    )
    platform = FakeCloudflare(app, clock=virtual_clock_ms, sleep=asyncio.sleep)
    try:
        return await scenario(platform, app)
    finally:
        await platform.close()


async def chat(platform: FakeCloudflare) -> FakeResponse:
    response = await platform.fetch(
        "POST", "/chat", json={"agentType": "talker", "message": "go", "sessionId": "long"}
    )
    assert response.status == 200
    return response


def test_a_long_sse_response_costs_a_few_subrequests() -> None:
    deltas = 15_000  # 300 seconds of text

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        body = await read_body(await chat(platform))
        assert body.done
        ids = [seq for seq, _ in body.events]
        assert ids == sorted(set(ids))
        assert text(body.events) == expected_text(deltas)
        invocation = platform.invocation("POST /chat")
        # Starting the run (D1, the Workflow, the stream's creation and first write) and
        # one socket: the same whatever the length of the stream.
        assert invocation.subrequests["durable_object"] == 3
        assert invocation.total < 20
        assert app.runtime(platform.env).streams.follows == {"socket": 1}

    run_virtual(lambda: on_platform(deltas, scenario))


def test_evictions_and_a_reset_mid_stream_lose_and_repeat_nothing() -> None:
    deltas = 10_000  # 200 seconds

    async def disturb(platform: FakeCloudflare) -> None:
        for second in range(10, 200, 10):
            await asyncio.sleep(10)
            if second == 100:
                await platform.durable_objects.reset()  # a deploy: the socket drops
            else:
                await platform.durable_objects.evict()  # hibernation: the socket stays

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        disturber = asyncio.ensure_future(disturb(platform))
        body = await read_body(await chat(platform))
        disturber.cancel()
        assert body.done
        ids = [seq for seq, _ in body.events]
        events = [json.loads(data) for _, data in body.events]
        # Ids never go back, and never repeat but for a shown reset, which carries the id
        # before its own sequence (streaming.ui.event_id): nothing was sent twice.
        assert ids == sorted(ids)
        repeated = [i for i in range(1, len(ids)) if ids[i] == ids[i - 1]]
        assert all(events[i]["type"] == "data-reset-step" for i in repeated)
        # An eviction can cut a write in flight: the model step is retried, and the reader
        # sees the superseded attempt's text withdrawn (a reset), then the whole answer.
        resets = [i for i, c in enumerate(events) if c["type"] == "data-reset-step"]
        after = body.events[resets[-1] :] if resets else body.events
        assert text(after) == expected_text(deltas)
        assert platform.durable_objects.constructions("long") > 10
        # One socket, and one more after the reset, reopened from the reader's cursor.
        assert platform.invocation("POST /chat").subrequests["durable_object"] == 4

    run_virtual(lambda: on_platform(deltas, scenario))


def test_the_long_poll_fallback_paces_itself_under_the_limit() -> None:
    deltas = 15_000  # 300 seconds in one model step

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        platform.durable_objects.refuse_websockets("Network connection lost.")
        body = await read_body(await chat(platform))
        assert body.done
        assert text(body.events) == expected_text(deltas)
        invocation = platform.invocation("POST /chat")
        assert invocation.refused == 0
        assert invocation.subrequests["durable_object"] < 400
        assert app.runtime(platform.env).streams.follows == {"poll": 1}

    run_virtual(lambda: on_platform(deltas, scenario))


def test_a_spent_budget_ends_the_response_and_the_client_reattaches() -> None:
    deltas = 3_000  # 60 seconds

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        bodies = [await read_body(await chat(platform))]
        while not bodies[-1].done:
            assert bodies[-1].reattach
            assert not bodies[-1].errors
            last = bodies[-1].events[-1][0]
            response = await platform.fetch(
                "GET", "/chat/long/stream", headers={"Last-Event-ID": str(last)}
            )
            assert response.status == 200
            bodies.append(await read_body(response))
        assert len(bodies) > 3
        events = [event for body in bodies for event in body.events]
        ids = [seq for seq, _ in events]
        assert ids == sorted(set(ids))  # each event exactly once across the responses
        assert text(events) == expected_text(deltas)
        for invocation in platform.invocations:
            assert invocation.subrequests["durable_object"] <= 40 + 3

    run_virtual(
        lambda: on_platform(deltas, scenario, reader_policy=ReaderPolicy(socket=False, budget=40))
    )


def test_many_steps_cost_the_socket_reader_nothing_more() -> None:
    deltas, steps = 15_000, 30  # 30 model steps of 10 seconds each

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        body = await read_body(await chat(platform))
        assert body.done
        assert text(body.events) == expected_text(deltas)
        assert platform.invocation("POST /chat").subrequests["durable_object"] == 3

    run_virtual(lambda: on_platform(deltas, scenario, steps=steps))


def test_a_reader_that_ignores_the_limit_is_cut_off_by_the_platform() -> None:
    """What the budget prevents: a reader that follows every write of 30 model steps of 10
    seconds needs more than 1,000 subrequests (each step writes about 4 times a second),
    and the platform refuses the rest: the response breaks off."""
    deltas, steps = 15_000, 30
    unpaced = ReaderPolicy(socket=False, budget=10_000, widen_after=10**6)

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        body = await read_body(await chat(platform))
        assert not body.done
        assert body.errors
        assert "Too many subrequests" in body.errors[-1]
        invocation = platform.invocation("POST /chat")
        assert invocation.total == SUBREQUEST_LIMIT
        assert invocation.refused >= 1

    run_virtual(lambda: on_platform(deltas, scenario, steps=steps, reader_policy=unpaced))


def test_the_paced_fallback_follows_the_same_run_to_its_end() -> None:
    deltas, steps = 15_000, 30

    async def scenario(platform: FakeCloudflare, app: CloudflareApp) -> None:
        platform.durable_objects.refuse_websockets()
        body = await read_body(await chat(platform))
        assert body.done
        assert text(body.events) == expected_text(deltas)
        assert platform.invocation("POST /chat").total < 600

    run_virtual(lambda: on_platform(deltas, scenario, steps=steps))
