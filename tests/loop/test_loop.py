"""The agent loop end to end on the real local host (SQLite, local engine, local streams)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from helix_agents import Agent, tool
from helix_agents.chunks import SequencedChunk
from helix_agents.errors import ConflictError, ModelStreamInterruptedError
from helix_agents.executor import RunHandle
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import AssistantMessage, ToolResultMessage, UserMessage
from helix_agents.testing import FunctionModel, TestModel, call_tool
from helix_agents.tools import ToolContext

pytestmark = pytest.mark.timeout(60)


async def collect(handle: RunHandle) -> list[SequencedChunk]:
    return [item async for item in handle.stream()]


def text_of(chunks: list[SequencedChunk]) -> str:
    return "".join(c.chunk.delta for c in chunks if c.chunk.type == "text-delta")  # type: ignore[union-attr]


async def test_tools_then_answer(make_host: Callable[..., Any]) -> None:
    calls: list[int] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        calls.append(a + b)
        return a + b

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("add", a=2, b=3), call_tool("add", a=10, b=20)]
        return f"The sums are {[r.content for r in info.tool_results]}"

    host = await make_host(Agent(name="adder", tools=[add], model=FunctionModel(model)))
    handle = await host.executor.execute("adder", "add things")
    chunks = await collect(handle)
    run = await handle.result()
    assert run.status == "completed"
    assert sorted(calls) == [5, 30]
    assert text_of(chunks) == "The sums are [5, 30]"
    seqs = [c.seq for c in chunks]
    assert seqs == list(range(1, len(seqs) + 1))
    messages = await handle.messages()
    assert [type(m).__name__ for m in messages] == [
        "UserMessage",
        "AssistantMessage",
        "ToolResultMessage",
        "ToolResultMessage",
        "AssistantMessage",
    ]
    state = await handle.get_state()
    assert state.status == "completed"
    assert state.output == "The sums are [5, 30]"
    usage = await handle.usage()
    assert usage.usage.requests == 2
    assert usage.usage.tool_calls == 2


async def test_multi_turn_session(make_host: Callable[..., Any]) -> None:
    def model(messages: list[Any], info: Any) -> str:
        users = [m.content for m in messages if isinstance(m, UserMessage)]
        return f"turn {len(users)}: heard {' / '.join(users)}"

    host = await make_host(Agent(name="echo", model=FunctionModel(model)))
    h1 = await host.executor.execute("echo", "one")
    assert (await h1.result()).status == "completed"
    h2 = await h1.send("two")
    assert h2.run_id.endswith("--t2")
    assert (await h2.result()).status == "completed"
    h3 = await host.executor.execute("echo", "three", session_id=h1.session_id)
    assert text_of(await collect(h3)) == "turn 3: heard one / two / three"
    messages = await h3.messages()
    assert [m.role for m in messages] == ["user", "assistant"] * 3


async def test_second_run_on_active_session_is_refused(make_host: Callable[..., Any]) -> None:
    release = asyncio.Event()

    @tool
    async def wait() -> str:
        """Wait."""
        await release.wait()
        return "done"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("wait") if not info.tool_results else "ok"

    host = await make_host(Agent(name="w", tools=[wait], model=FunctionModel(model)))
    handle = await host.executor.execute("w", "go")
    with pytest.raises(ConflictError):
        await host.executor.execute("w", "again", session_id=handle.session_id)
    release.set()
    assert (await handle.result()).status == "completed"
    # The refused turn left nothing behind.
    assert [m.role for m in await handle.messages()] == ["user", "assistant", "tool", "assistant"]


async def test_interrupt_then_resume_continues(make_host: Callable[..., Any]) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    @tool
    async def slow(label: str) -> str:
        """A slow tool."""
        runs.append(label)
        started.set()
        await release.wait()
        return f"did {label}"

    def model(messages: list[Any], info: Any) -> Any:
        done = [r.content for r in info.tool_results]
        if not done:
            return call_tool("slow", label="first")
        if len(done) == 1:
            return call_tool("slow", label="second")
        return "all done: " + ", ".join(done)

    host = await make_host(Agent(name="s", tools=[slow], model=FunctionModel(model)))
    handle = await host.executor.execute("s", "go")
    await started.wait()
    await handle.interrupt("user asked")
    release.set()
    run = await handle.result()
    assert run.status == "interrupted"
    assert runs == ["first"]
    assert (await handle.get_state()).status == "interrupted"

    resumed = await handle.resume()
    assert resumed.run_id.endswith("--t1--r1")
    chunks = await collect(resumed)
    assert (await resumed.result()).status == "completed"
    assert runs == ["first", "second"]
    assert text_of(chunks) == "all done: did first, did second"
    roles = [m.role for m in await resumed.messages()]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


async def test_interrupt_during_a_silent_model_call_cuts_it_and_resume_asks_again(
    make_host: Callable[..., Any],
) -> None:
    # The stop reaches the step while the model is silent (wait_stop, no write needed): the
    # call is cut, its text kept, its tool never asked for; the resume asks the model again.
    streaming, release = asyncio.Event(), asyncio.Event()
    tool_runs: list[str] = []

    @tool
    def note(text: str) -> str:
        """Take a note."""
        tool_runs.append(text)
        return "noted"

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if info.tool_results:
            yield "finished"
            return
        yield "thinking "
        streaming.set()
        await release.wait()
        yield call_tool("note", text="x")

    host = await make_host(
        Agent(name="n", tools=[note], model=FunctionModel(stream_function=stream))
    )
    handle = await host.executor.execute("n", "go")
    await streaming.wait()
    await handle.interrupt()
    assert (await asyncio.wait_for(handle.result(), 5)).status == "interrupted"
    release.set()
    assert tool_runs == []
    first = await handle.messages()
    assert [(m.role, getattr(m, "content", None)) for m in first] == [
        ("user", "go"),
        ("assistant", "thinking "),
    ]
    assert isinstance(first[-1], AssistantMessage)
    assert not first[-1].tool_calls
    resumed = await handle.resume()
    assert (await resumed.result()).status == "completed"
    assert tool_runs == ["x"]
    messages = await resumed.messages()
    assert [m.role for m in messages][-3:] == ["assistant", "tool", "assistant"]


async def test_abort_is_final(make_host: Callable[..., Any]) -> None:
    started = asyncio.Event()

    @tool
    async def forever() -> str:
        """Never ends."""
        started.set()
        await asyncio.sleep(3600)
        return "never"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("forever")

    host = await make_host(Agent(name="f", tools=[forever], model=FunctionModel(model)))
    handle = await host.executor.execute("f", "go")
    await started.wait()
    await handle.abort("stop it")
    chunks = await collect(handle)
    assert chunks[-1].chunk.type == "run-end"
    assert chunks[-1].chunk.status == "aborted"  # type: ignore[union-attr]
    assert (await handle.result()).status == "aborted"
    state = await handle.get_state()
    assert state.status == "aborted"
    assert state.aborted
    with pytest.raises(ConflictError):
        await handle.resume()
    with pytest.raises(ConflictError):
        await handle.abort()
    # The aborted run is final, but the session can take a new turn.
    started.clear()
    nxt = await handle.send("again")
    await started.wait()
    await nxt.abort()
    assert (await nxt.result()).status == "aborted"
    assert nxt.run_id.endswith("--t2")


async def test_max_steps(make_host: Callable[..., Any]) -> None:
    @tool
    def again() -> str:
        """Again."""
        return "again"

    host = await make_host(
        Agent(
            name="loop",
            tools=[again],
            model=FunctionModel(lambda m, i: call_tool("again")),
            max_steps=3,
        )
    )
    handle = await host.executor.execute("loop", "go")
    run = await handle.result()
    assert run.status == "failed"
    state = await handle.get_state()
    assert state.failure_reason == "max_steps"
    messages = await handle.messages()
    # Three model calls; the last one's tool call was answered with an error, not run.
    assistants = [m for m in messages if isinstance(m, AssistantMessage)]
    assert len(assistants) == 3
    last = messages[-1]
    assert isinstance(last, ToolResultMessage)
    assert last.status == "error"
    assert "step limit" in str(last.content)


class Weather(BaseModel):
    city: str
    temperature: int


async def test_structured_output(make_host: Callable[..., Any]) -> None:
    @tool
    def get_temperature(city: str) -> int:
        """The temperature in a city."""
        return 21

    host = await make_host(
        Agent(name="w", tools=[get_temperature], model=TestModel(), output_type=Weather)
    )
    handle = await host.executor.execute("w", "weather?")
    chunks = await collect(handle)
    assert (await handle.result()).status == "completed"
    output = (await handle.get_state()).output
    Weather.model_validate(output)
    assert [c.chunk.output for c in chunks if c.chunk.type == "output"] == [output]  # type: ignore[union-attr]


async def test_structured_output_text_answer_is_corrected(make_host: Callable[..., Any]) -> None:
    def model(messages: list[Any], info: Any) -> Any:
        if not any(isinstance(m, UserMessage) and "final_result" in m.content for m in messages):
            return "just text"
        return call_tool("final_result", city="Oslo", temperature=3)

    host = await make_host(Agent(name="w", model=FunctionModel(model), output_type=Weather))
    handle = await host.executor.execute("w", "weather?")
    assert (await handle.result()).status == "completed"
    assert (await handle.get_state()).output == {"city": "Oslo", "temperature": 3}


async def test_tool_that_raises_is_reported_to_the_model(make_host: Callable[..., Any]) -> None:
    @tool
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("the disk is on fire")

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("broken")
        return f"the tool said: {info.tool_results[0].content}"

    host = await make_host(Agent(name="b", tools=[broken], model=FunctionModel(model)))
    handle = await host.executor.execute("b", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status == "completed"
    errors = [c.chunk for c in chunks if c.chunk.type == "tool-error"]
    assert len(errors) == 1
    assert "the disk is on fire" in errors[0].error
    assert "the disk is on fire" in text_of(chunks)


async def test_invalid_arguments_corrected_by_the_model(make_host: Callable[..., Any]) -> None:
    seen: list[int] = []

    @tool
    def square(n: int) -> int:
        """Square a number."""
        seen.append(n)
        return n * n

    def model(messages: list[Any], info: Any) -> Any:
        results = info.tool_results
        if not results:
            return call_tool("square", n="not a number")
        if results[-1].status == "error":
            return call_tool("square", n=7)
        return f"squared: {results[-1].content}"

    host = await make_host(Agent(name="sq", tools=[square], model=FunctionModel(model)))
    handle = await host.executor.execute("sq", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status == "completed"
    assert seen == [7]
    input_errors = [c.chunk for c in chunks if c.chunk.type == "tool-error"]
    assert input_errors
    assert input_errors[0].input_error
    assert text_of(chunks) == "squared: 49"


async def test_unknown_tool_is_reported(make_host: Callable[..., Any]) -> None:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("nope")
        return "ok then"

    host = await make_host(Agent(name="u", model=FunctionModel(model)))
    handle = await host.executor.execute("u", "go")
    assert (await handle.result()).status == "completed"
    result = (await handle.messages())[2]
    assert isinstance(result, ToolResultMessage)
    assert result.status == "error"
    assert "Unknown tool" in str(result.content)


async def test_retried_model_step_shows_text_once(make_host: Callable[..., Any]) -> None:
    attempts: list[int] = []

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        attempts.append(1)
        yield "Hello "
        yield "world"
        if len(attempts) == 1:
            raise ModelStreamInterruptedError("connection dropped mid-stream")

    host = await make_host(Agent(name="r", model=FunctionModel(stream_function=stream)))
    handle = await host.executor.execute("r", "go")
    run = await handle.result()
    assert run.status == "completed"
    assert len(attempts) == 2
    # A reader that replays the stream sees the superseded attempt dropped: text once.
    chunks = await collect(handle)
    assert text_of(chunks) == "Hello world"
    assert any(c.chunk.type == "step-reset" for c in chunks)
    assert (await handle.get_state()).output == "Hello world"


async def test_custom_state_and_emit(make_host: Callable[..., Any]) -> None:
    @tool
    async def count(ctx: ToolContext) -> int:
        """Count calls."""
        n = int(ctx.state.get("n", 0)) + 1
        ctx.state["n"] = n
        await ctx.emit("progress", {"n": n})
        ctx.record_usage("counts")
        return n

    def model(messages: list[Any], info: Any) -> Any:
        if len(info.tool_results) < 2:
            return call_tool("count")
        return "counted"

    host = await make_host(
        Agent(
            name="c",
            tools=[count],
            model=FunctionModel(model),
            system_prompt=lambda state: f"n={state.custom_state.get('n', 0)}",
        )
    )
    handle = await host.executor.execute("c", "go")
    chunks = await collect(handle)
    assert (await handle.result()).status == "completed"
    assert (await handle.get_state()).custom_state == {"n": 2}
    data = [c.chunk for c in chunks if c.chunk.type == "data"]
    assert [d.data for d in data if d.name == "progress"] == [{"n": 1}, {"n": 2}]  # type: ignore[union-attr]
    # Each change of the state also streams as a JSON Patch (core/context.py).
    patches = [d.data for d in data if d.name == "state-patch"]  # type: ignore[union-attr]
    assert patches == [
        [{"op": "add", "path": "/n", "value": 1}],
        [{"op": "replace", "path": "/n", "value": 2}],
    ]
    usage = await handle.usage()
    assert usage.usage.custom == {"counts": 2}


async def test_handle_rebuilt_after_restart(tmp_path: Path) -> None:
    agent = Agent(name="e", model=FunctionModel(lambda m, i: "hi"))
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("e", "hello")
        await handle.result()
    async with LocalHost([agent], tmp_path) as host:
        rebuilt = await host.executor.get_handle(handle.session_id)
        assert rebuilt is not None
        assert rebuilt.run_id == handle.run_id
        assert text_of(await collect(rebuilt)) == "hi"
        assert (await rebuilt.get_state()).status == "completed"


async def test_abort_after_an_interrupted_turn_stops_the_new_turn(
    make_host: Callable[..., Any],
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    @tool
    async def slow() -> str:
        """Slow."""
        started.set()
        await release.wait()
        return "ok"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("slow") if not info.tool_results else "done"

    host = await make_host(Agent(name="s", tools=[slow], model=FunctionModel(model)))
    first = await host.executor.execute("s", "one")
    await started.wait()
    await first.interrupt()
    release.set()
    assert (await first.result()).status == "interrupted"
    # The user moves on without resuming; the new turn is then aborted.
    started.clear()
    release.clear()
    second = await first.send("two")
    await started.wait()
    await second.abort()
    chunks = await collect(second)
    assert chunks[-1].chunk.type == "run-end"
    assert (await second.result()).status == "aborted"
    runs = await host.store.list_runs(first.session_id)
    assert [(r.run_id, r.status.value) for r in runs] == [
        (first.run_id, "interrupted"),
        (second.run_id, "aborted"),
    ]
    release.set()


async def test_a_lost_last_write_is_streamed_again_by_the_retry(
    make_host: Callable[..., Any],
) -> None:
    # The final step streams part of its answer, commits the run's end, then dies before
    # its last write (the tail of the text, the step's end and the stream's end in one).
    # The retry streams the stored answer again as attempt 2, after a reset of attempt 1:
    # a live reader is told to drop attempt 1's parts, a replay never shows them.
    words = [f"w{i} " for i in range(40)]
    text_written = asyncio.Event()

    async def answer(messages: list[Any], info: Any) -> AsyncIterator[str]:
        for i, word in enumerate(words):
            yield word
            await asyncio.sleep(0.002)
            if i == len(words) // 2 and not text_written.is_set():
                # Half the answer is said: go on once the writer's timer has written some
                # of it. Not by the clock alone, which differs by runtime (Pyodide's short
                # sleeps are shorter than an idle stream's flush interval).
                await asyncio.wait_for(text_written.wait(), 10)

    host = await make_host(Agent(name="e", model=FunctionModel(stream_function=answer)))
    real_write = host.streams.write
    writes: list[list[str]] = []

    async def write(stream_id: str, chunks: Any, status: Any = None) -> Any:
        writes.append([c.type for c in chunks])
        if "text-delta" in writes[-1]:
            text_written.set()
        if status is not None and len([w for w in writes if "run-end" in w]) == 1:
            raise RuntimeError("the process died here")
        return await real_write(stream_id, chunks, status)

    host.streams.write = write  # type: ignore[method-assign]
    handle = await host.executor.execute("e", "hi")
    live = await collect(handle)
    result = await handle.result()
    assert result.status == "completed"
    # Part of attempt 1's text reached the stream before the commit.
    assert any("text-delta" in w for w in writes[:-2])
    # The last write carried the run's end with the tail: one write, no set_status.
    assert "run-end" in writes[-1]
    stored = await host.store.load_messages(handle.session_id)
    assert stored[-1][1].content == "".join(words)  # type: ignore[union-attr]
    replay = await collect(handle)
    assert text_of(replay) == "".join(words)
    # A live reader drops the chunks of an attempt a reset names, as the UI encoder does.
    reset = {(c.chunk.step, c.chunk.attempt) for c in live if c.chunk.type == "step-reset"}
    kept = [c for c in live if (c.chunk.step, c.chunk.attempt) not in reset]
    assert text_of(kept) == "".join(words)
    assert [c.chunk.type for c in replay].count("run-end") == 1
    resets = [c.chunk for c in live if c.chunk.type == "step-reset"]
    assert [(r.step, r.attempt) for r in resets] == [(1, 1)]


async def test_run_end_lost_after_the_commit_is_written_by_the_retry(
    make_host: Callable[..., Any],
) -> None:
    # The step commits the run's end, then dies before the stream's last write: its retry
    # finds the run ended and writes the stream's end, so no reader waits forever.
    host = await make_host(Agent(name="e", model=FunctionModel(lambda m, i: "bye")))
    real_write = host.streams.write
    failed: list[int] = []

    async def write(stream_id: str, chunks: Any, status: Any = None) -> Any:
        if not failed and any(c.type == "run-end" for c in chunks):
            failed.append(1)
            raise RuntimeError("the process died here")
        return await real_write(stream_id, chunks, status)

    host.streams.write = write  # type: ignore[method-assign]
    handle = await host.executor.execute("e", "hi")
    chunks = await collect(handle)
    assert failed == [1]
    ends = [c.chunk for c in chunks if c.chunk.type == "run-end"]
    assert len(ends) == 1
    assert ends[0].status == "completed"  # type: ignore[union-attr]
    assert (await handle.result()).status == "completed"
    assert text_of(chunks) == "bye"
    info = await host.streams.info(handle.stream_id)
    assert info is not None
    assert info.status == "ended"


async def test_nested_custom_state_changes_persist(make_host: Callable[..., Any]) -> None:
    """In-place changes to nested values (append to a list, set a key of a nested dict) are
    persisted with the tool's step, and a key a tool deletes is gone."""

    @tool
    def remember(ctx: ToolContext, item: str) -> int:
        """Remember an item."""
        items = ctx.state.setdefault("items", [])
        items.append(item)
        ctx.state.setdefault("a", {"b": 0, "gone": True})
        ctx.state["a"]["b"] += 1
        ctx.state["a"].pop("gone", None)
        return len(items)

    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        return call_tool("remember", item=f"x{done}") if done < 2 else "ok"

    host = await make_host(
        Agent(
            name="nested",
            tools=[remember],
            model=FunctionModel(model),
            system_prompt=lambda state: f"items={state.custom_state.get('items')}",
        )
    )
    handle = await host.executor.execute("nested", "go")
    assert (await handle.result()).status == "completed"
    assert (await handle.get_state()).custom_state == {"items": ["x0", "x1"], "a": {"b": 2}}
    messages = await handle.messages()
    assert [m.content for m in messages if isinstance(m, ToolResultMessage)] == [1, 2]
    # The next turn's tools start from the persisted state.
    second = await handle.send("again")
    assert (await second.result()).status == "completed"
    state = await second.get_state()
    assert state.custom_state == {"items": ["x0", "x1", "x0", "x1"], "a": {"b": 4}}


async def test_nested_state_change_is_written_once_across_a_retried_tool_step(
    make_host: Callable[..., Any],
) -> None:
    """A tool step whose write fails is retried: the retry starts from the stored state, not
    from the first attempt's in-place change, and the change is written once."""
    runs: list[int] = []

    @tool
    def append(ctx: ToolContext) -> int:
        """Append to a list kept in the state."""
        runs.append(1)
        ctx.state["log"]["items"].append(len(runs))
        return len(ctx.state["log"]["items"])

    @tool
    def init(ctx: ToolContext) -> str:
        """Start the list."""
        ctx.state["log"] = {"items": []}
        return "ok"

    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done == 0:
            return call_tool("init")
        return call_tool("append") if done == 1 else "ok"

    host = await make_host(Agent(name="retry", tools=[init, append], model=FunctionModel(model)))
    commit = host.store.commit_tool_step
    failed: list[int] = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        if runs and not failed:
            failed.append(1)
            raise ConnectionError("the database went away")
        return await commit(*args, **kwargs)

    host.store.commit_tool_step = failing_once  # type: ignore[method-assign]
    handle = await host.executor.execute("retry", "go")
    assert (await handle.result()).status == "completed"
    assert failed == [1]
    assert len(runs) == 2
    assert (await handle.get_state()).custom_state == {"log": {"items": [2]}}
    messages = await handle.messages()
    assert [m.content for m in messages if isinstance(m, ToolResultMessage)] == ["ok", 1]
