"""Agents for the HTTP tests, on the library's test models (no LLM, no network).

Also shipped into the real Worker (``tests/worker_real/app.py``): keep this module free of
pytest, threads and I/O at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from helix_agents import Agent, ToolContext, UsageLimits, tool
from helix_agents.messages import ToolCall, UserMessage
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool

#: What the ``talker`` says: long enough to be cut at many points.
ANSWER = " ".join(f"word{i}" for i in range(60))


@tool
def lookup(city: str) -> dict[str, Any]:
    """Look a city up.

    Args:
        city: The city.
    """
    return {"city": city, "sky": "clear"}


def talker(name: str = "talker", *, delay: float = 0.0, text: str = ANSWER) -> Agent:
    """Calls ``lookup`` once, then answers ``text`` word by word (``delay`` between words)."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield call_tool("lookup", city="Paris")
            return
        for piece in text.split(" "):
            if delay:
                await asyncio.sleep(delay)
            yield piece + " "

    return Agent(name=name, tools=[lookup], model=FunctionModel(stream_function=stream))


def gated(gate: asyncio.Event, name: str = "gated", *, words: int = 20) -> Agent:
    """Says ``words`` words, waits for ``gate``, then says ``words`` more: a run that lasts
    exactly as long as the test wants, without any timing."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        for i in range(words):
            yield f"a{i} "
        await gate.wait()
        for i in range(words):
            yield f"b{i} "

    return Agent(name=name, model=FunctionModel(stream_function=stream))


def tool_then_gate(gate: asyncio.Event) -> Agent:
    """Step 1 says a word, waits for ``gate``, calls ``lookup``; step 2 answers. An
    interrupt during step 1 stops the run before its tool runs."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "before "
            await gate.wait()
            yield call_tool("lookup", city="Oslo")
            return
        yield "after"

    return Agent(name="steps", tools=[lookup], model=FunctionModel(stream_function=stream))


def held(gate: asyncio.Event, name: str = "held", *, words: int = 20) -> Agent:
    """Says ``words`` words and calls ``hold``, a tool that waits for ``gate``; then says
    ``words`` more (the text of :func:`gated_text`). While it waits no model call runs, so
    nothing calls the stream: a Worker's Durable Object may hibernate (during a model call
    the step's ``wait_stop`` is a request in flight, and keeps it awake)."""

    @tool
    async def hold() -> str:
        """Wait until the test goes on."""
        await gate.wait()
        return "held"

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        prefix = "b" if info.tool_results else "a"
        for i in range(words):
            yield f"{prefix}{i} "
        if not info.tool_results:
            yield call_tool("hold")

    return Agent(name=name, tools=[hold], model=FunctionModel(stream_function=stream))


def gated_text(words: int = 20) -> str:
    return "".join(f"a{i} " for i in range(words)) + "".join(f"b{i} " for i in range(words))


def echo(name: str = "echo") -> Agent:
    """Answers with the last user message, at once."""

    def reply(messages: list[Any], info: Any) -> str:
        return f"echo: {info.last_user_message}"

    return Agent(name=name, model=FunctionModel(reply))


# -- client tools (test_client_tools_over_http) ----------------------------------------------


class Location(BaseModel):
    city: str
    accuracy_m: int


@tool(execute="client", output_schema=Location)
def get_location() -> Location:  # type: ignore[empty-body]
    """The user's location, from the browser."""


@tool(execute="client", output_schema={"type": "object", "required": ["ok"]})
def confirm(question: str) -> dict[str, Any]:  # type: ignore[empty-body]
    """Ask the user a yes/no question in the page.

    Args:
        question: The question.
    """


def locator() -> Agent:
    """Asks the browser for its location (and, when the message says "both", also asks a
    question in the same response), then answers every result as ``status: content``."""

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            if "both" in (info.last_user_message or ""):
                return [call_tool("get_location"), call_tool("confirm", question="ok?")]
            return call_tool("get_location")
        return " | ".join(f"{r.status}: {r.content}" for r in info.tool_results)

    return Agent(name="locator", tools=[get_location, confirm], model=FunctionModel(model))


# -- sub-agents and companions (test_subagents_over_http) -------------------------------------


@tool(requires_approval=True)
def publish(text: str) -> str:
    """Publish a text (a human approves first).

    Args:
        text: What to publish.
    """
    return f"published {text}"


def researcher() -> Agent:
    """A child: answers ``found: <task>``, or, for a task that says "publish", publishes a
    draft (an approval) and answers with the result."""

    def model(messages: list[Any], info: Any) -> Any:
        task = info.last_user_message or ""
        if "publish" not in task:
            return f"found: {task}"
        if not info.tool_results:
            return call_tool("publish", text="draft")
        return f"child: {info.tool_results[-1].content}"

    return Agent(name="researcher", tools=[publish], model=FunctionModel(model))


def boss() -> Agent:
    """Delegates the user's message to the ``researcher`` (``ask_researcher``), then reports
    ``report: <status>=<result>``."""

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_researcher", message=f"task: {info.last_user_message}")
        return "report: " + "; ".join(f"{r.status}={r.content}" for r in info.tool_results)

    return Agent(name="boss", tools=[subagent_tool(researcher())], model=FunctionModel(model))


def critic() -> Agent:
    """A companion that counts its turns: ``critic turn <n>: <message>``."""

    def model(messages: list[Any], info: Any) -> Any:
        turns = sum(1 for m in messages if isinstance(m, UserMessage))
        return f"critic turn {turns}: {info.last_user_message}"

    return Agent(name="critic", model=FunctionModel(model))


#: What the ``lead`` calls, one call per model step.
LEAD_SCRIPT = [
    ("spawn_agent", {"agent_type": "critic", "name": "c1", "message": "review v1"}),
    ("send_message", {"name": "c1", "message": "review v2"}),
    ("list_children", {}),
    ("get_child_status", {"name": "c1"}),
]


def lead() -> Agent:
    """Spawns the companion ``c1`` (a ``critic``), talks to it again, lists and checks it
    (:data:`LEAD_SCRIPT`), then answers with every result."""

    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done < len(LEAD_SCRIPT):
            name, args = LEAD_SCRIPT[done]
            return call_tool(name, **args)
        return "lead: " + " | ".join(str(r.content) for r in info.tool_results)

    return Agent(name="lead", companions=[critic()], model=FunctionModel(model))


# -- usage (test_usage_over_http) -------------------------------------------------------------


@tool
def search(ctx: ToolContext, query: str) -> str:
    """Search.

    Args:
        query: What to look for.
    """
    ctx.record_usage("searches")
    return f"results for {query}"


def searcher(
    name: str = "searcher", *, calls_per_step: int = 1, steps: int = 1, **kwargs: Any
) -> Agent:
    """Makes ``steps`` model steps of ``calls_per_step`` searches each, then says ``done``."""

    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done < calls_per_step * steps:
            return [call_tool("search", query=f"q{done + i}") for i in range(calls_per_step)]
        return "done"

    return Agent(name=name, tools=[search], model=FunctionModel(model), **kwargs)


def analyst() -> Agent:
    """Delegates to a ``searcher`` that searches twice in one step, then says ``analysed``."""

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_searcher", message="look it up")
        return "analysed"

    child = searcher(calls_per_step=2)
    return Agent(name="analyst", tools=[subagent_tool(child)], model=FunctionModel(model))


def limited() -> Agent:
    """Three steps of one search each, with at most two model requests a turn."""
    return searcher("limited", steps=3, usage_limits=UsageLimits(max_requests=2))


def capped() -> Agent:
    """Two steps of two searches each, with at most three tool calls a turn."""
    return searcher("capped", calls_per_step=2, steps=2, usage_limits=UsageLimits(max_tool_calls=3))


@tool
def keep(ctx: ToolContext, item: str) -> dict[str, Any]:
    """Keep an item in a list nested in the session's state, changed in place.

    Args:
        item: The item.
    """
    notes = ctx.state.setdefault("notes", {"items": [], "count": 0})
    notes["items"].append(item)
    notes["count"] += 1
    return dict(notes)


def keeper(name: str = "keeper") -> Agent:
    """Keeps each user message with ``keep`` (a nested, in-place state change), then says
    what the state holds: the next turn shows whether the change was persisted."""

    def reply(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("keep", item=info.last_user_message)
        notes = info.tool_results[-1].content
        return f"kept {notes['count']}: {' '.join(notes['items'])}"

    return Agent(name=name, tools=[keep], model=FunctionModel(reply))


def reuser(name: str = "reuser") -> Agent:
    """A provider that numbers its calls per response: every step calls ``lookup`` with the
    id ``call_0`` (three steps: Paris, Oslo, then an answer)."""

    def reply(messages: list[Any], info: Any) -> Any:
        cities = ["Paris", "Oslo"]
        done = len(info.tool_results)
        if done < len(cities):
            return ToolCall(id="call_0", name="lookup", arguments={"city": cities[done]})
        return "looked up " + " ".join(r.content["city"] for r in info.tool_results)

    return Agent(name=name, tools=[lookup], model=FunctionModel(reply))


@tool(execute="client")
def pick(options: list[str]) -> Any:
    """Let the user pick in the page (any JSON back).

    Args:
        options: What to pick from.
    """


def asker(name: str = "asker") -> Agent:
    """Asks the client (``pick``), then answers with the result's status."""

    def reply(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("pick", options=["a", "b"])
        return f"picked: {info.tool_results[-1].status}"

    return Agent(name=name, tools=[pick], model=FunctionModel(reply))


def gated_bank(gate: asyncio.Event, executed: list[int], name: str = "gated_bank") -> Agent:
    """Calls ``transfer`` (approval required); after the decision says how it went, waits
    for ``gate`` in the resumed instance, then ends: a turn of two instances that lasts as
    long as the test wants."""

    @tool(requires_approval=True)
    def transfer(amount: int) -> str:
        """Move money."""
        executed.append(amount)
        return f"sent {amount}"

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "paying "
            yield call_tool("transfer", amount=7)
            return
        yield f"{info.tool_results[-1].status} "
        await gate.wait()
        yield "done"

    return Agent(name=name, tools=[transfer], model=FunctionModel(stream_function=stream))


def flaky(
    gate: asyncio.Event,
    starts: list[int],
    name: str = "flaky",
    *,
    words: int = 4,
    started: Callable[[], Awaitable[int]] | None = None,
) -> Agent:
    """Calls ``hold``, a tool that waits for ``gate`` (no model call is running then, so
    nothing calls the stream: a Worker's Durable Object may hibernate). Its second model
    step says ``words`` words, pauses a second (they reach the readers) and dies, so that
    the step is retried, its dead attempt voided by a reset; the retry says ``words`` other
    words and ends. ``starts`` records each start of the second step: it is how the model
    knows its attempt (the Worker's copy counts them through ``started`` instead, at the
    test's relay)."""

    @tool
    async def hold() -> str:
        """Wait until the test goes on."""
        await gate.wait()
        return "held"

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield "holding "
            yield call_tool("hold")
            return
        if started is not None:
            attempt = await started()
        else:
            starts.append(1)
            attempt = len(starts)
        if attempt == 1:
            for i in range(words):
                yield f"a{i} "
            await asyncio.sleep(1.0)  # past any flush interval: the words go out
            raise RuntimeError("the model died mid-answer (the test's crash)")
        for i in range(words):
            yield f"b{i} "

    return Agent(name=name, tools=[hold], model=FunctionModel(stream_function=stream))
