"""The model step that ends a run writes its tail and the stream's end in one write, after
its database commit. A crash between the two leaves the run ended and the stream open: the
step's retry streams the stored response again, as a new attempt after resets of the dead
one, so every reader ends up with the stored message exactly once (core/replay.py).

Each scenario "dies" once, either just before that last write (it never lands) or just
after it (it landed, the step did not finish), and is then retried by the local engine. A
live reader follows the run from the start throughout, as ``useChat`` would; a second reader
replays the stream once the run is over. Both must hold what the snapshot rebuilds from the
database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from tests.support.ui_message import UIMessageAssembler, stored_and_replayed

from helix_agents import Agent, AgentRegistry, UsageLimits, tool
from helix_agents.hosts.local.host import LocalHost
from helix_agents.http.snapshot import build_snapshot
from helix_agents.ports.model import ReasoningDelta
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.usage import Usage

pytestmark = pytest.mark.timeout(60)

WORDS = [f"w{i} " for i in range(12)]


class Answer(BaseModel):
    summary: str


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
    return f"moved {amount}"


async def slow_words() -> AsyncIterator[str]:
    """Words slow enough that the local host's writer flushes between them, so the live
    reader has shown part of the final response when the step dies."""
    for word in WORDS:
        await asyncio.sleep(0.01)
        yield word


def scenario_agent(kind: str) -> Agent:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "Let me look. "
            yield call_tool("lookup", city="Paris")
            return
        if kind == "reasoning":
            yield ReasoningDelta("thinking it over")
        async for word in slow_words():
            yield word
        if kind == "output":
            yield call_tool("final_result", summary="done")
        elif kind == "approval":
            yield call_tool("transfer", amount=5)
        elif kind == "tokens":
            yield Usage(input_tokens=500, output_tokens=500, total_tokens=1000, requests=1)
        elif kind == "limit":  # at the step limit: an unknown tool, and a call not run
            yield call_tool("nope", x=1)
            yield call_tool("lookup", city="Rome")
        elif kind == "badoutput":  # at the step limit: an output the schema refuses
            yield call_tool("final_result", wrong=1)

    model = FunctionModel(stream_function=stream)
    if kind == "output":
        return Agent(name="a", tools=[lookup], model=model, output_type=Answer)
    if kind == "approval":
        return Agent(name="a", tools=[lookup, transfer], model=model)
    if kind == "tokens":  # the response goes over the limit: the step ends the run failed
        limits = UsageLimits(max_total_tokens=600)
        return Agent(name="a", tools=[lookup], model=model, usage_limits=limits)
    if kind == "limit":
        return Agent(name="a", tools=[lookup], model=model, max_steps=2)
    if kind == "badoutput":
        return Agent(name="a", tools=[lookup], model=model, output_type=Answer, max_steps=2)
    if kind == "refused":  # the second request is refused before it is made
        limits = UsageLimits(max_requests=1)
        return Agent(name="a", tools=[lookup], model=model, usage_limits=limits)
    return Agent(name="a", tools=[lookup], model=model)


EXPECTED = {
    "text": ("completed", "ended"),
    "reasoning": ("completed", "ended"),
    "output": ("completed", "ended"),
    "approval": ("suspended_client_tool", "ended"),
    "tokens": ("failed", "failed"),
    "limit": ("failed", "failed"),
    "badoutput": ("failed", "failed"),
    "refused": ("failed", "failed"),
}


@pytest.fixture
async def host(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LocalHost]:
    kind = request.node.callspec.params["kind"]
    local = LocalHost(AgentRegistry([scenario_agent(kind)]), tmp_path / "data")
    await local.start()
    try:
        yield local
    finally:
        await local.close()


def die_once(host: LocalHost, *, landed: bool) -> list[int]:
    """Make the first write that ends a stream fail as a crash would: before it lands, or
    after. Returns the list the crash is recorded in."""
    real_write = host.streams.write
    crashes: list[int] = []

    async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
        if status is not None and not crashes:
            crashes.append(1)
            if landed:
                await real_write(stream_id, chunks, status=status)
            raise RuntimeError("the process died here")
        return await real_write(stream_id, chunks, status=status)

    host.streams.write = write  # type: ignore[method-assign]
    return crashes


@pytest.mark.parametrize("landed", [False, True], ids=["before-the-write", "after-the-write"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
async def test_a_crash_around_the_last_write(host: LocalHost, kind: str, landed: bool) -> None:
    crashes = die_once(host, landed=landed)
    handle = await host.executor.execute("a", "go")
    live = UIMessageAssembler()
    async for item in handle.stream():
        live.feed([item])
    result = await handle.result()
    run_status, stream_status = EXPECTED[kind]
    assert (crashes, result.status.value) == ([1], run_status)

    stored, replay = await stored_and_replayed(host, handle.session_id, handle.stream_id)
    assert live.message == stored
    assert replay.message == stored
    assert (live.finishes, replay.finishes) == (1, 1)
    # The dead attempt's text was shown live (it streamed before the commit): when its last
    # write was lost, the live reader was told to drop it before the replay. A refused
    # request stored no response: there is nothing to replay, only the end to write.
    assert live.resets == (0 if landed or kind == "refused" else 1)
    assert replay.resets == 0
    info = await host.streams.info(handle.stream_id)
    assert info is not None
    assert info.status == stream_status
    with sqlite3.connect(host.data_dir / "state.db") as db:
        (ends,) = db.execute(
            "SELECT count(*) FROM __helix_stream_chunks WHERE stream_id = ? AND kind = 'run-end'",
            [handle.stream_id],
        ).fetchone()
    assert ends == 1  # written once: by the retry, or by the dead attempt (then left alone)


def record_order(host: LocalHost, events: list[str], describe: Callable[[Any, Any], str]) -> None:
    """Record the host's stream writes (as ``describe`` puts them) and model-step commits
    in the order they happen."""
    real_write, real_commit = host.streams.write, host.store.commit_model_step

    async def write(stream_id: str, chunks: Any, *, status: Any = None) -> Any:
        events.append(describe(chunks, status))
        return await real_write(stream_id, chunks, status=status)

    async def commit(*args: Any, **kw: Any) -> Any:
        events.append("commit")
        return await real_commit(*args, **kw)

    host.streams.write = write  # type: ignore[method-assign]
    host.store.commit_model_step = commit  # type: ignore[method-assign]


async def test_the_last_model_step_writes_once_after_the_commit(tmp_path: Path) -> None:
    # The order that the retry relies on: the commit, then one write carrying the tail of
    # the response, the step's end and the run's end, which also ends the stream.
    events: list[str] = []
    model = FunctionModel(stream_function=lambda m, i: slow_words())
    async with LocalHost(AgentRegistry([Agent(name="a", model=model)]), tmp_path) as host:
        record_order(
            host,
            events,
            lambda chunks, status: f"write {status} {chunks[-1].type if chunks else '-'}",
        )
        handle = await host.executor.execute("a", "go")
        assert (await handle.result()).status == "completed"
    after = events[events.index("commit") + 1 :]
    assert after == ["write ended run-end"]
    assert all(e.startswith("write None") for e in events[: events.index("commit")])


async def test_a_step_that_goes_on_flushes_before_its_commit(tmp_path: Path) -> None:
    # A step that does not end the run keeps its flush before the commit: a retry after a
    # crash between the two reuses the stored response without streaming it again.
    events: list[str] = []

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("lookup", city="Oslo") if not info.tool_results else "done"

    agent = Agent(name="a", tools=[lookup], model=FunctionModel(model))
    async with LocalHost(AgentRegistry([agent]), tmp_path) as host:
        record_order(
            host, events, lambda chunks, status: "write " + ",".join(c.type for c in chunks)
        )
        handle = await host.executor.execute("a", "go")
        assert (await handle.result()).status == "completed"
    first_commit = events.index("commit")
    # The response's last chunk went out just before the commit.
    assert events[first_commit - 1].endswith("tool-input-available")


async def test_a_boundary_step_that_dies_at_its_last_write(tmp_path: Path) -> None:
    # A response that calls a server tool and a gated one: the tool runs, then the
    # ``suspend`` step commits the suspension and ends the stream. If it dies between the
    # two, its retry finds the run suspended and writes the stream's end itself.
    def model(messages: list[Any], info: Any) -> Any:
        return [call_tool("lookup", city="Oslo"), call_tool("transfer", amount=3)]

    agent = Agent(name="a", tools=[lookup, transfer], model=FunctionModel(model))
    async with LocalHost(AgentRegistry([agent]), tmp_path) as host:
        crashes = die_once(host, landed=False)
        handle = await host.executor.execute("a", "go")
        live = UIMessageAssembler()
        async for item in handle.stream():
            live.feed([item])
        result = await handle.result()
        assert (crashes, result.status.value) == ([1], "suspended_step_partial")
        state = await host.store.load_session(handle.session_id)
        assert state is not None
        stored = (await build_snapshot(host.executor, state))["messages"][-1]
        info = await host.streams.info(handle.stream_id)
    assert live.message == stored
    assert live.finishes == 1
    assert info is not None
    assert info.status == "ended"
