"""``summarize_older``: the turns before the last ``keep_last`` sent as a summary a model
wrote, made in a journaled step of its own, stored beside the history (never in it) and
extended turn by turn from the previous summary."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.core.run_context import RunContext
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
    """A deterministic summarizing model: says which user questions it was shown, after
    those of the previous summary it was given."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []

    def __call__(self, messages: list[Any], info: Any) -> str:
        text = messages[-1].content
        self.prompts.append((info.request.system, text))
        lines = text.split("\n")
        asked = [line[len("User: ") :] for line in lines if line.startswith("User: ")]
        if lines[0] == "[Summary of the earlier conversation]":
            asked = [*lines[1][len("asked ") :].split(", "), *asked]
        return "asked " + ", ".join(asked)


async def stored_summaries(host: Any, session_id: str) -> list[tuple[int, str]]:
    rows = await host.store.db.query(
        "SELECT covered, text FROM __helix_summaries WHERE session_id = ? ORDER BY covered",
        [session_id],
    )
    return [(row["covered"], row["text"]) for row in rows]


async def summary_usage(host: Any, session_id: str) -> list[tuple[str, str | None, int]]:
    records = await host.store.usage_records(session_id)
    return [
        (r.record_id.split("/", 1)[1], r.model, r.usage.requests)
        for r in records
        if r.record_id.endswith("/summary")
    ]


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
    for text in ["q2", "q3", "q4"]:
        assert (await handle.result()).status == "completed"
        handle = await handle.send(text)
    assert (await handle.result()).status == "completed"
    sid = handle.session_id

    # Turns 1 and 2 had nothing older than the last 2 turns; turn 3 summarized turn 1, once
    # for its two model steps; turn 4 summarized only turn 2, on top of turn 3's summary.
    assert [text for _, text in summarizer.prompts] == [
        'User: q1\nAssistant:  [called look {"t":1}]\nTool look (success): looked 1\n'
        "Assistant: done",
        "[Summary of the earlier conversation]\nasked q1\n\n[The conversation since]\n"
        'User: q2\nAssistant:  [called look {"t":3}]\nTool look (success): looked 3\n'
        "Assistant: done",
    ]
    assert seen[5][:2] == ["U:[Summary of the earlier conversation]\nasked q1", "U:q2"]
    assert seen[4][0] == seen[5][0]  # the same summary in both steps of turn 3
    assert seen[3][0] == "U:q1"  # turn 2 had no summary: nothing older than 2 turns
    assert seen[-1][:2] == ["U:[Summary of the earlier conversation]\nasked q1, q2", "U:q3"]
    # The summaries are stored beside the history; the history keeps everything, and no
    # summary. Each summary call counts in the session's usage, once.
    assert await stored_summaries(host, sid) == [(4, "asked q1"), (8, "asked q1, q2")]
    stored = await host.store.load_messages(sid)
    assert len(stored) == 16
    assert not any("Summary" in str(getattr(m, "content", "")) for _, m in stored)
    assert await summary_usage(host, sid) == [
        ("turn-3/step-01/summary", "function", 1),
        ("turn-4/step-01/summary", "function", 1),
    ]
    names = [row[0] for row in host.engine.journal.raw("SELECT name FROM engine_steps")]
    assert [n for n in names if n.endswith("/summary")] == [
        "turn-3/step-01/summary",
        "turn-4/step-01/summary",
    ]

    # Rewinding before turn 3 drops the summary that covers turn 2, keeps turn 1's.
    q2 = next(seq for seq, m in stored if getattr(m, "content", None) == "q2")
    q3 = next(seq for seq, m in stored if getattr(m, "content", None) == "q3")
    await host.store.rewind(sid, q3)
    assert await stored_summaries(host, sid) == [(4, "asked q1"), (8, "asked q1, q2")]
    await host.store.rewind(sid, q2)
    assert await stored_summaries(host, sid) == [(4, "asked q1")]


class JournalStep:
    """Runs a step's body the first time and keeps its result; later serves it (a replay).
    ``retry``: the first attempt's result is lost (it failed after its body's writes), so
    the body runs again."""

    def __init__(self, *, retry: bool = False) -> None:
        self.journal: dict[str, Any] = {}
        self.ran: list[str] = []
        self.retry = retry

    async def do(self, name: str, body: Any, config: Any = None) -> Any:
        if name not in self.journal:
            ctx = SimpleNamespace(name=name, attempt=1)
            if self.retry:
                self.ran.append(name)
                await body(ctx)
                ctx = SimpleNamespace(name=name, attempt=2)
            self.ran.append(name)
            self.journal[name] = await body(ctx)
        return self.journal[name]


async def test_a_stored_summary_is_reused_and_a_replay_asks_nothing(
    make_host: Callable[..., Any],
) -> None:
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
    assert len(summarizer.prompts) == 1  # turn 2 summarized turn 1, and stored it
    sid = handle.session_id
    stored = await host.store.load_messages(sid)
    usage = await host.store.usage_records(sid)

    def run(start_step: int) -> Any:
        return SimpleNamespace(
            agent=agent,
            summary=None,
            deps=SimpleNamespace(store=host.store, resolve_model=lambda m: m),
            params=SimpleNamespace(
                session_id=sid,
                run_id="run-x",
                turn=2,
                start_step=start_step,
                base_sequence=stored[3][0],
            ),
        )

    # Another instance of turn 2 (a resumed run, say): the older part has not changed, so
    # its summary step reads the stored summary and asks no model.
    step = JournalStep()
    first = run(3)
    await summarize_history(step, first)  # type: ignore[arg-type]
    assert step.ran == ["turn-2/step-03/summary"]
    assert first.summary == HistorySummary(text="asked first", covered=2)
    assert len(summarizer.prompts) == 1
    replay = run(3)
    await summarize_history(step, replay)  # type: ignore[arg-type]
    assert step.ran == ["turn-2/step-03/summary"]  # journaled: the body did not run again
    assert replay.summary == first.summary
    processors = bound_processors(replay)
    sent = processors[0]([m for _, m in stored])
    assert sent[0].content.endswith("asked first")
    assert sent[1:] == [m for _, m in stored[2:]]
    assert summarizer.prompts[0][0] == SUMMARY_PROMPT
    assert await stored_summaries(host, sid) == [(2, "asked first")]
    assert await host.store.usage_records(sid) == usage  # nothing more counted


async def test_a_retried_summary_step_writes_and_counts_once(
    make_host: Callable[..., Any],
) -> None:
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
    handle = await handle.send("third")
    assert (await handle.result()).status == "completed"
    sid = handle.session_id
    await host.store.db.query("DELETE FROM __helix_summaries WHERE covered = 4")
    await host.store.db.query("DELETE FROM __agents_usage WHERE record_id LIKE '%turn-3%summary'")
    stored = await host.store.load_messages(sid)
    summarizer.prompts.clear()

    run = SimpleNamespace(
        agent=agent,
        summary=None,
        deps=SimpleNamespace(store=host.store, resolve_model=lambda m: m, clock=host.store.clock),
        params=SimpleNamespace(
            session_id=sid, run_id="run-y", turn=3, start_step=5, base_sequence=stored[5][0]
        ),
    )
    run.usage_record = lambda *a, **k: RunContext.usage_record(run, *a, **k)  # type: ignore[arg-type]
    step = JournalStep(retry=True)
    await summarize_history(step, run)  # type: ignore[arg-type]
    assert step.ran == ["turn-3/step-05/summary"] * 2  # the body ran twice
    # The first attempt asked the model from turn 2's summary and stored its answer; the
    # second found it stored and asked nothing.
    assert [text for _, text in summarizer.prompts] == [
        "[Summary of the earlier conversation]\nasked first\n\n[The conversation since]\n"
        "User: second\nAssistant: ok"
    ]
    assert run.summary == HistorySummary(text="asked first, second", covered=4)
    assert await stored_summaries(host, sid) == [(2, "asked first"), (4, "asked first, second")]
    assert await summary_usage(host, sid) == [
        ("turn-2/step-01/summary", "function", 1),
        ("turn-3/step-05/summary", "function", 1),
    ]
    # Stored again under the same step (a retry whose first write did land): nothing changes.
    [record] = [
        r
        for r in await host.store.usage_records(sid)
        if r.record_id == "run-y/turn-3/step-05/summary"
    ]
    await host.store.save_summary(sid, HistorySummary(text="other", covered=4), record)
    assert await stored_summaries(host, sid) == [(2, "asked first"), (4, "asked first, second")]
    assert len(await summary_usage(host, sid)) == 2


def test_summarize_older_must_come_first() -> None:
    from helix_agents.core.summaries import summarizer_of

    processor = summarize_older("test")
    assert summarizer_of([processor, drop_old_tool_outputs()]) is processor
    assert summarizer_of([drop_old_tool_outputs()]) is None
    with pytest.raises(ConfigurationError, match="first history processor"):
        summarizer_of([drop_old_tool_outputs(), processor])
