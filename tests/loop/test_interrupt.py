"""Interrupt and abort on the local host: what stops, how fast, and what is kept.

Once an interrupt is accepted no model call and no tool call starts; a model call that is
streaming is cut short (the reader sees the run end within 200 ms); the text streamed so
far is the stored assistant message, exactly what a reader rebuilds from the stream; the
run ends ``interrupted`` and ``resume`` continues with a fresh model call. Abort ends the
run at once and keeps the streamed text too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.openai_server import OpenAIServer, reply_text
from tests.support.ui_message import UIMessageAssembler

from helix_agents import Agent, tool
from helix_agents.chunks import SequencedChunk
from helix_agents.executor import RunHandle
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import AssistantMessage, Message
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.testing import FunctionModel, TestModel, call_tool
from helix_agents.tools import ToolContext

pytestmark = pytest.mark.timeout(60)

#: What the reader may wait, from the interrupt's acceptance to the end of the stream.
STOP_WITHIN = 0.2


class Follower:
    """A live reader of one run's stream, in a task of its own."""

    def __init__(self, handle: RunHandle) -> None:
        self.chunks: list[SequencedChunk] = []
        self.ended_at: float | None = None
        self._task = asyncio.ensure_future(self._read(handle))

    async def _read(self, handle: RunHandle) -> None:
        async for item in handle.stream():
            self.chunks.append(item)
        self.ended_at = time.monotonic()

    def text(self) -> str:
        return "".join(c.chunk.delta for c in self.chunks if c.chunk.type == "text-delta")

    async def until_text(self, predicate: Callable[[str], bool]) -> None:
        while not predicate(self.text()):
            assert not self._task.done(), "the stream ended first"
            await asyncio.sleep(0.002)

    async def done(self) -> None:
        await asyncio.wait_for(self._task, 10)

    def ui_text(self) -> str:
        """The text parts a useChat client holds at the end (resets applied)."""
        assembler = UIMessageAssembler()
        assembler.feed(self.chunks)
        assert assembler.message is not None
        return "".join(p["text"] for p in assembler.message["parts"] if p["type"] == "text")


def _assistant(messages: list[Message]) -> list[AssistantMessage]:
    return [m for m in messages if isinstance(m, AssistantMessage)]


def words(n: int, prefix: str = "w") -> Iterator[str]:
    return (f"{prefix}{i} " for i in range(n))


async def test_interrupt_cuts_a_streaming_model_call_and_keeps_its_text(
    make_host: Callable[..., Any],
) -> None:
    requests: list[int] = []

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        requests.append(len(messages))
        if len(requests) > 1:
            yield "continued."
            return
        for word in words(200):
            yield word
            await asyncio.sleep(0.01)

    host = await make_host(Agent(name="t", model=FunctionModel(stream_function=stream)))
    handle = await host.executor.execute("t", "talk")
    reader = Follower(handle)
    await reader.until_text(lambda t: t.count(" ") >= 5)
    accepted = time.monotonic()
    await handle.interrupt("enough")
    await reader.done()
    assert reader.ended_at is not None
    assert reader.ended_at - accepted < STOP_WITHIN
    assert (await handle.result()).status == "interrupted"
    seen = reader.ui_text()
    assert seen.startswith("w0 w1 w2 w3 w4 ")
    assert len(seen) < len("".join(words(200)))
    [stored] = _assistant(await handle.messages())
    assert stored.content == seen
    assert stored.tool_calls == []
    end = reader.chunks[-1].chunk
    assert end.type == "run-end"
    assert end.status == "interrupted"

    # Resume continues from the stored partial with a fresh model call.
    resumed = await handle.resume()
    assert (await resumed.result()).status == "completed"
    assert len(requests) == 2
    assert requests[1] == 2  # the user message and the partial answer
    answers = _assistant(await resumed.messages())
    assert [a.content for a in answers] == [seen, "continued."]


async def test_interrupt_while_the_model_is_silent_stops_it(
    make_host: Callable[..., Any],
) -> None:
    # No token comes after the first ones: the stop must not wait for the model.
    silent = asyncio.Event()
    closed: list[bool] = []

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        try:
            yield "thinking about it "
            silent.set()
            await asyncio.sleep(30)
            yield "never said"
        finally:
            closed.append(True)

    host = await make_host(Agent(name="s", model=FunctionModel(stream_function=stream)))
    handle = await host.executor.execute("s", "go")
    reader = Follower(handle)
    await silent.wait()
    await reader.until_text(lambda t: t == "thinking about it ")
    accepted = time.monotonic()
    await handle.interrupt()
    await reader.done()
    assert reader.ended_at is not None
    assert reader.ended_at - accepted < STOP_WITHIN
    assert (await handle.result()).status == "interrupted"
    assert closed == [True]  # the model's stream was closed, not left running
    [stored] = _assistant(await handle.messages())
    assert stored.content == "thinking about it " == reader.ui_text()


async def test_interrupt_during_the_last_model_call_does_not_complete_the_run(
    make_host: Callable[..., Any],
) -> None:
    host = await make_host(Agent(name="d", model=TestModel(delta_delay=0.02)))
    handle = await host.executor.execute("d", "say " + "something long " * 20)
    reader = Follower(handle)
    await reader.until_text(lambda t: len(t) > 10)
    await handle.interrupt()
    await reader.done()
    assert (await handle.result()).status == "interrupted"
    [stored] = _assistant(await handle.messages())
    assert stored.content == reader.ui_text()
    assert not stored.content.endswith("...")  # cut well before its end


async def test_no_tool_call_starts_once_an_interrupt_is_accepted(
    make_host: Callable[..., Any],
) -> None:
    # The first of two calls of one response interrupts the run as it runs: the second
    # call's step starts after the interrupt was accepted, so its tool must not run.
    ran: list[str] = []
    host: LocalHost

    @tool
    async def first(ctx: ToolContext) -> str:
        """The first."""
        ran.append("first")
        await host.executor.interrupt(ctx.session_id)
        return "one"

    @tool
    def second() -> str:
        """The second."""
        ran.append("second")
        return "two"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("first"), call_tool("second")]
        return "done: " + ", ".join(str(r.content) for r in info.tool_results)

    host = await make_host(Agent(name="two", tools=[first, second], model=FunctionModel(model)))
    handle = await host.executor.execute("two", "go")
    assert (await handle.result()).status == "interrupted"
    assert ran == ["first"]
    # The unrun call runs when the run is resumed, then the model answers.
    resumed = await handle.resume()
    assert (await resumed.result()).status == "completed"
    assert ran == ["first", "second"]
    assert _assistant(await resumed.messages())[-1].content == "done: one, two"


async def test_abort_keeps_the_streamed_text(make_host: Callable[..., Any]) -> None:
    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        for word in words(200, "a"):
            yield word
            await asyncio.sleep(0.01)

    host = await make_host(Agent(name="ab", model=FunctionModel(stream_function=stream)))
    handle = await host.executor.execute("ab", "talk")
    reader = Follower(handle)
    await reader.until_text(lambda t: t.count(" ") >= 4)
    await handle.abort("stop")
    await reader.done()
    assert (await handle.result()).status == "aborted"
    seen = reader.ui_text()
    assert seen.startswith("a0 a1 a2 a3 ")
    [stored] = _assistant(await handle.messages())
    assert stored.content == seen
    end = reader.chunks[-1].chunk
    assert end.type == "run-end"
    assert end.status == "aborted"


@pytest.mark.model_requests
async def test_interrupt_cuts_a_real_http_model_stream(
    make_host: Callable[..., Any], tmp_path: Path
) -> None:
    # The OpenAI-compatible adapter over a real socket: the interrupt closes the HTTP
    # response mid-body (the server sees its client leave), and the text the reader saw is
    # the stored message.
    server = OpenAIServer(api_key="k")
    server.start()
    try:
        server.script(
            reply_text(*(f"t{i} " for i in range(300)), frame_delay=0.01),
            reply_text("resumed."),
        )
        model = OpenAIChatModel("test-model", base_url=server.base_url, api_key="k")
        host = await make_host(Agent(name="o", model=model))
        handle = await host.executor.execute("o", "talk")
        reader = Follower(handle)
        await reader.until_text(lambda t: t.count(" ") >= 5)
        accepted = time.monotonic()
        await handle.interrupt()
        await reader.done()
        assert reader.ended_at is not None
        assert reader.ended_at - accepted < STOP_WITHIN
        assert (await handle.result()).status == "interrupted"
        [stored] = _assistant(await handle.messages())
        assert stored.content == reader.ui_text()
        assert stored.content.startswith("t0 t1 t2 t3 t4 ")
        for _ in range(500):  # the server's handler notices its client left
            if server.streams:
                break
            await asyncio.sleep(0.01)
        [(sent, whole)] = server.streams
        assert not whole
        assert sent < 100
        resumed = await handle.resume()
        assert (await resumed.result()).status == "completed"
        sent_history = server.requests[-1].body["messages"]
        assert sent_history[-1] == {"role": "assistant", "content": stored.content}
    finally:
        server.stop()


async def test_a_step_out_of_retries_after_ending_the_run_streams_the_stored_end(
    make_host: Callable[..., Any],
) -> None:
    # The last model step commits the run's end, then its stream's last write fails on
    # every attempt: the run's fail step must not stream an error over a completed run,
    # but the stored answer and the run's end, so readers rebuild what the session holds.
    async def answer(messages: list[Any], info: Any) -> AsyncIterator[str]:
        for word in words(30, "x"):
            yield word
            await asyncio.sleep(0.003)

    host = await make_host(Agent(name="e", model=FunctionModel(stream_function=answer)))
    real_write = host.streams.write
    refused: list[int] = []

    async def write(stream_id: str, chunks: Any, status: Any = None) -> Any:
        ends = [c for c in chunks if c.type == "run-end"]
        if ends and ends[0].status == "completed" and len(refused) < 3:
            refused.append(1)  # the model step's three attempts
            raise RuntimeError("the stream manager is down")
        return await real_write(stream_id, chunks, status)

    host.streams.write = write
    handle = await host.executor.execute("e", "hi")
    reader = Follower(handle)
    await reader.done()
    assert refused == [1, 1, 1]
    assert (await handle.result()).status == "completed"
    [stored] = _assistant(await handle.messages())
    assert stored.content == "".join(words(30, "x"))
    assert reader.ui_text() == stored.content
    ends = [c.chunk for c in reader.chunks if c.chunk.type == "run-end"]
    assert [e.status for e in ends] == ["completed"]
    assert not [c for c in reader.chunks if c.chunk.type == "error"]


async def test_a_retry_after_a_crash_mid_answer_keeps_what_readers_saw(
    make_host: Callable[..., Any],
) -> None:
    # Attempt 1 streams five words and dies just as the interrupt is accepted; attempt 2
    # finds the flag set before its model call: it keeps attempt 1's text (read back from
    # the stream), stores it and streams it again after a reset, so a live reader, a
    # replay and the session all hold the same answer.
    die = asyncio.Event()
    attempts: list[int] = []

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[str]:
        attempts.append(1)
        for word in words(5, "p"):
            yield word
            await asyncio.sleep(0.01)
        await die.wait()
        raise RuntimeError("the process died here")

    host = await make_host(Agent(name="c", model=FunctionModel(stream_function=stream)))
    handle = await host.executor.execute("c", "go")
    reader = Follower(handle)
    await reader.until_text(lambda t: t == "p0 p1 p2 p3 p4 ")
    await handle.interrupt()
    die.set()  # before any empty write could bring the stop to the step
    await reader.done()
    assert (await handle.result()).status == "interrupted"
    assert attempts == [1]  # the retry made no model call
    [stored] = _assistant(await handle.messages())
    assert stored.content == "p0 p1 p2 p3 p4 "
    assert reader.ui_text() == stored.content
    replay = Follower(handle)
    await replay.done()
    assert replay.ui_text() == stored.content
    assert replay.text() == stored.content  # the dead attempt is hidden from a replay
