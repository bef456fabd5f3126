"""``summarize_older``: the turns before the last ``keep_last`` sent as a summary a model
wrote, made once per run instance in a journaled step of its own, the store untouched."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.core.summaries import bound_processors, summarize_history
from helix_agents.errors import ConfigurationError
from helix_agents.history import (
    SUMMARY_PROMPT,
    HistorySummary,
    drop_old_tool_outputs,
    summarize_older,
)
from helix_agents.messages import AssistantMessage, Message, UserMessage
from helix_agents.testing import FunctionModel, call_tool

pytestmark = pytest.mark.timeout(60)


class Summarizer:
    """A deterministic summarizing model: says which user questions it was shown."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []

    def __call__(self, messages: list[Any], info: Any) -> str:
        text = messages[-1].content
        self.prompts.append((info.request.system, text))
        asked = [line[len("User: ") :] for line in text.split("\n") if line.startswith("User: ")]
        return "asked " + ", ".join(asked)


def test_the_processor_alone() -> None:
    with pytest.raises(ConfigurationError):
        summarize_older("test", keep_last=0)
    with pytest.raises(ConfigurationError):
        summarize_older("test", prompt=" ")
    processor = summarize_older("test", keep_last=2)
    history: list[Message] = []
    for t in range(4):
        history += [UserMessage(content=f"q{t}"), AssistantMessage(content=f"a{t}")]
    assert processor.older(history) == 4  # q0 a0 q1 a1
    assert processor(list(history)) == history  # unbound: nothing changes
    bound = processor.bind(HistorySummary(text="earlier stuff", covered=4))
    out = bound(list(history))
    assert out[0] == UserMessage(content="[Summary of the earlier conversation]\nearlier stuff")
    assert out[1:] == history[4:]
    assert processor.bind(None)(list(history)) == history
    assert summarize_older("test", keep_last=9).older(history) == 0


async def test_the_loop_sends_the_summary_and_the_last_turns(
    make_host: Callable[..., Any],
) -> None:
    seen: list[list[str]] = []
    summarizer = Summarizer()

    @tool
    def look(t: int) -> str:
        """Look something up."""
        return f"looked {t}"

    def model(messages: list[Any], info: Any) -> Any:
        seen.append([f"{type(m).__name__[0]}:{getattr(m, 'content', '')}" for m in messages])
        if not info.tool_results:
            return call_tool("look", t=len(seen))
        return "done"

    agent = Agent(
        name="long",
        tools=[look],
        model=FunctionModel(model),
        history_processors=[
            summarize_older(FunctionModel(summarizer), keep_last=2),
            drop_old_tool_outputs(keep=1),
        ],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("long", "q1")
    for text in ["q2", "q3"]:
        assert (await handle.result()).status == "completed"
        handle = await handle.send(text)
    assert (await handle.result()).status == "completed"

    # Turns 1 and 2 had nothing older than the last 2 turns; turn 3 summarized turn 1, once
    # for its two model steps.
    assert len(summarizer.prompts) == 1
    assert summarizer.prompts[0][1] == (
        'User: q1\nAssistant:  [called look {"t":1}]\nTool look (success): looked 1\n'
        "Assistant: done"
    )
    assert seen[-1][:2] == ["U:[Summary of the earlier conversation]\nasked q1", "U:q2"]
    assert seen[-2][0] == seen[-1][0]  # the same summary in both steps of turn 3
    assert seen[3][0] == "U:q1"  # turn 2 had no summary: nothing older than 2 turns
    # The store keeps everything, and no summary.
    stored = await handle.messages()
    assert len(stored) == 12
    assert not any("Summary" in str(getattr(m, "content", "")) for m in stored)
    names = [row[0] for row in host.engine.journal.raw("SELECT name FROM engine_steps")]
    assert [n for n in names if n.endswith("/summary")] == ["turn-3/step-01/summary"]


class JournalStep:
    """Runs a step's body the first time and keeps its result; later serves it (a replay)."""

    def __init__(self) -> None:
        self.journal: dict[str, Any] = {}
        self.ran: list[str] = []

    async def do(self, name: str, body: Any, config: Any = None) -> Any:
        if name not in self.journal:
            self.ran.append(name)
            self.journal[name] = await body(SimpleNamespace(name=name, attempt=1))
        return self.journal[name]


async def test_a_replay_reuses_the_journaled_summary(make_host: Callable[..., Any]) -> None:
    summarizer = Summarizer()
    agent = Agent(
        name="s",
        model=FunctionModel(lambda m, i: "ok"),
        history_processors=[summarize_older(FunctionModel(summarizer), keep_last=1)],
    )
    host = await make_host(agent)
    handle = await host.executor.execute("s", "first")
    assert (await handle.result()).status == "completed"
    handle = await handle.send("second")
    assert (await handle.result()).status == "completed"
    assert len(summarizer.prompts) == 1  # turn 2 summarized turn 1
    stored = await host.store.load_messages(handle.session_id)

    def run() -> Any:
        return SimpleNamespace(
            agent=agent,
            summary=None,
            deps=SimpleNamespace(store=host.store, resolve_model=lambda m: m),
            params=SimpleNamespace(
                session_id=handle.session_id, turn=2, start_step=1, base_sequence=stored[3][0]
            ),
        )

    step = JournalStep()
    first = run()
    await summarize_history(step, first)  # type: ignore[arg-type]
    assert step.ran == ["turn-2/step-01/summary"]
    assert first.summary == HistorySummary(text="asked first", covered=2)
    replay = run()
    await summarize_history(step, replay)  # type: ignore[arg-type]
    assert step.ran == ["turn-2/step-01/summary"]  # not asked again
    assert len(summarizer.prompts) == 2  # the first call above; the replay made none
    assert replay.summary == first.summary
    processors = bound_processors(replay)
    sent = processors[0]([m for _, m in stored])
    assert sent[0].content.endswith("asked first")
    assert sent[1:] == [m for _, m in stored[2:]]
    assert summarizer.prompts[0][0] == SUMMARY_PROMPT


def test_summarize_older_must_come_first() -> None:
    from helix_agents.core.summaries import summarizer_of

    processor = summarize_older("test")
    assert summarizer_of([processor, drop_old_tool_outputs()]) is processor
    assert summarizer_of([drop_old_tool_outputs()]) is None
    with pytest.raises(ConfigurationError, match="first history processor"):
        summarizer_of([drop_old_tool_outputs(), processor])
