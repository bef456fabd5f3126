"""The summary ``summarize_older`` sends in place of the older turns, made in a durable step.

Once per run instance, before its first model step, ``turn-T/step-SS/summary`` (SS: the
instance's first agent step) reads the history stored before the turn's model steps, and
when it has turns older than the last ``keep_last`` (the first ``covered`` messages), gets
their summary:

- the session's stored summaries (``__helix_summaries``) are read first: one that covers
  exactly those messages is used as it is, with no model call (a turn whose older part did
  not change, or a retry of a step whose body stored it before failing);
- otherwise the summarizing model is asked for one from the latest stored summary that
  covers fewer messages and only the messages after it (from scratch without one), so a
  turn's summary call reads a bounded input however long the session is. The new summary
  and the call's usage (the session's, like a model step's) are stored together, keyed by
  the step: a retry writes and counts nothing twice.

The step's result (:class:`~helix_agents.history.HistorySummary`: the text and how many
leading messages it covers) is journaled: a replay gets the same summary without reading
or calling anything, and so sends the same requests. Each model call of the instance then
binds it to the processor (:func:`bound_processors`). The history itself
(``__agents_messages``) is never written.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigurationError, ModelProtocolError
from ..history import (
    SUMMARY_HEADING,
    HistoryProcessor,
    HistorySummary,
    SummarizeOlder,
    transcript,
)
from ..ids import summary_step_name
from ..messages import Message, UserMessage
from ..ports.model import ModelRequest, ModelResponse
from ..ports.step import Step, StepConfig, StepContext
from .converter import durable_step
from .run_context import RunContext

__all__ = ["SUMMARY_STEP_CONFIG", "bound_processors", "summarize_history"]

#: A failed summary call is retried as a model step is (the provider may be busy).
SUMMARY_STEP_CONFIG: StepConfig = {
    "retries": {"limit": 3, "delay": 1000, "backoff": "exponential"},
    "timeout": "5 minutes",
}


def summarizer_of(processors: Sequence[HistoryProcessor]) -> SummarizeOlder | None:
    """The agent's ``summarize_older``, which must come first; None without one."""
    found = [i for i, p in enumerate(processors) if isinstance(p, SummarizeOlder)]
    if not found:
        return None
    if found != [0]:
        raise ConfigurationError(
            "summarize_older must be the agent's first history processor, and only once"
        )
    first = processors[0]
    assert isinstance(first, SummarizeOlder)
    return first


async def summarize_history(step: Step, run: RunContext) -> None:
    """Make (or read back from the store or the journal) this instance's summary, when
    the agent summarizes and its history has turns older than ``keep_last``."""
    summarizer = summarizer_of(run.agent.history_processors)
    if summarizer is None:
        return
    params = run.params
    rows = await run.deps.store.load_messages(params.session_id, before=params.base_sequence)
    messages = [message for _, message in rows]
    covered = summarizer.older(messages)
    if not covered:
        run.summary = HistorySummary()
        return

    async def body(ctx: StepContext) -> HistorySummary:
        store = run.deps.store
        previous = await store.latest_summary(params.session_id, covered)
        if previous is not None and previous.covered == covered:
            return previous  # the older part did not change: nothing to ask
        model = run.deps.resolve_model(summarizer.model)
        request = ModelRequest(
            system=summarizer.prompt,
            messages=[UserMessage(content=_input(messages, previous, covered))],
        )
        response: ModelResponse | None = None
        async for event in model.stream(request):
            if isinstance(event, ModelResponse):
                response = event
        if response is None:
            raise ModelProtocolError(f"{model.name}: the summary call ended without a response")
        summary = HistorySummary(text=response.text.strip(), covered=covered)
        usage = run.usage_record(
            ctx.name, response.usage, kind="model", model=response.served_by or model.name
        )
        await store.save_summary(params.session_id, summary, usage)
        return summary

    name = summary_step_name(params.turn, params.start_step)
    run.summary = await durable_step(step, name, body, HistorySummary, SUMMARY_STEP_CONFIG)


def _input(messages: Sequence[Message], previous: HistorySummary | None, covered: int) -> str:
    """What the summarizing model reads: the previous summary, when there is one, and the
    messages it does not cover up to ``covered``."""
    if previous is None:
        return transcript(messages[:covered])
    return f"{SUMMARY_HEADING}\n{previous.text}\n\n[The conversation since]\n" + transcript(
        messages[previous.covered : covered]
    )


def bound_processors(run: RunContext) -> list[HistoryProcessor]:
    """The agent's processors with its ``summarize_older`` bound to the instance's
    summary (the processors as they are when it has none)."""
    processors = list(run.agent.history_processors)
    if processors and isinstance(processors[0], SummarizeOlder):
        processors[0] = processors[0].bind(run.summary)
    return processors
