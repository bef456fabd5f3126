"""The summary ``summarize_older`` sends in place of the older turns, made in a durable step.

Once per run instance, before its first model step, ``turn-T/step-SS/summary`` (SS: the
instance's first agent step) reads the history stored before the turn's model steps, and
when it has turns older than the last ``keep_last``, asks the summarizing model for a
summary of them. The step's result (:class:`~helix_agents.history.HistorySummary`: the text
and how many leading messages it covers) is journaled: a replay gets the same summary
without calling the model again, and so sends the same requests. Each model call of the
instance then binds it to the processor (:func:`bound_processors`). Nothing is written to
the history; the summary lives in the journal of the instance that made it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigurationError, ModelProtocolError
from ..history import HistoryProcessor, HistorySummary, SummarizeOlder, transcript
from ..ids import summary_step_name
from ..messages import UserMessage
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
    """Make (or read back from the journal) this instance's summary, when the agent
    summarizes and its history has turns older than ``keep_last``."""
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
        model = run.deps.resolve_model(summarizer.model)
        request = ModelRequest(
            system=summarizer.prompt,
            messages=[UserMessage(content=transcript(messages[:covered]))],
        )
        response: ModelResponse | None = None
        async for event in model.stream(request):
            if isinstance(event, ModelResponse):
                response = event
        if response is None:
            raise ModelProtocolError(f"{model.name}: the summary call ended without a response")
        return HistorySummary(text=response.text.strip(), covered=covered)

    name = summary_step_name(params.turn, params.start_step)
    run.summary = await durable_step(step, name, body, HistorySummary, SUMMARY_STEP_CONFIG)


def bound_processors(run: RunContext) -> list[HistoryProcessor]:
    """The agent's processors with its ``summarize_older`` bound to the instance's
    summary (the processors as they are when it has none)."""
    processors = list(run.agent.history_processors)
    if processors and isinstance(processors[0], SummarizeOlder):
        processors[0] = processors[0].bind(run.summary)
    return processors
