"""The agent of the real-Worker executor-API tests (``test_executor_api_real.py``), shipped
in the test Worker's catalog (``tests.worker_real.app``): no pytest, threads, I/O or
randomness here.

``summing`` keeps the last turn as it is and sends the older ones as a summary
(``summarize_older(..., keep_last=1)``). Both of its models are deterministic and report to
the test's relay (``post``, ``POST /executed/summing``) what they were given, which is how
the test sees from outside what each model request of the Worker carried and how many times
the summarizer really ran:

- the summarizer posts ``{"kind": "summary", "transcript": ...}`` and answers ``asked <the
  user questions of the transcript>``, after those of the previous summary it was given;
- the agent's model posts ``{"kind": "model", "messages": ["U:<content>", ...]}``;
  its first step of a turn calls ``look``, its second answers ``seen <how many messages>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from helix_agents import Agent, tool
from helix_agents.history import SUMMARY_HEADING, summarize_older
from helix_agents.testing import FunctionModel, call_tool

__all__ = ["SUMMING", "summing_agent"]

SUMMING = "summing"

#: A POST to the test's relay: ``post(path, body)`` answers its JSON.
Post = Callable[[str, Any], Awaitable[Any]]


@tool
def look(topic: str) -> str:
    """Look a topic up."""
    return f"all about {topic}"


def _shown(message: Any) -> str:
    return f"{type(message).__name__[0]}:{getattr(message, 'content', '')}"


def summing_agent(post: Post) -> Agent:
    """``summing`` (see the module docstring), reporting through ``post``."""

    async def summarize(messages: list[Any], info: Any) -> str:
        text = str(messages[-1].content)
        await post(f"/executed/{SUMMING}", {"kind": "summary", "transcript": text})
        lines = text.split("\n")
        asked = [line[len("User: ") :] for line in lines if line.startswith("User: ")]
        if lines[0] == SUMMARY_HEADING:  # the previous summary, then the turns after it
            asked = [*lines[1][len("asked ") :].split(", "), *asked]
        return "asked " + ", ".join(asked)

    async def model(messages: list[Any], info: Any) -> Any:
        shown = [_shown(m) for m in messages]
        await post(f"/executed/{SUMMING}", {"kind": "model", "messages": shown})
        if not info.tool_results:
            return call_tool("look", topic="x")
        return f"seen {len(shown)}"

    return Agent(
        name=SUMMING,
        tools=[look],
        model=FunctionModel(model),
        history_processors=[summarize_older(FunctionModel(summarize), keep_last=1)],
    )
