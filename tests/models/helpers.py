"""Small helpers shared by the model tests."""

from __future__ import annotations

from typing import Any

from helix_agents.messages import UserMessage
from helix_agents.ports.model import (
    Model,
    ModelEvent,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)


def ask(text: str = "Hello", **options: Any) -> ModelRequest:
    return ModelRequest(
        system=options.pop("system", "Be brief."), messages=[UserMessage(content=text)], **options
    )


async def collect(model: Model, request: ModelRequest) -> tuple[list[ModelEvent], ModelResponse]:
    """Every event of one response; asserts the contract's shape (the response comes last,
    exactly once)."""
    events = [event async for event in model.stream(request)]
    assert events, "a model must yield at least its response"
    *deltas, last = events
    assert isinstance(last, ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in deltas)
    return deltas, last


def texts(events: list[ModelEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def reasonings(events: list[ModelEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, ReasoningDelta)]


def tool_deltas(events: list[ModelEvent]) -> list[ToolCallDelta]:
    return [e for e in events if isinstance(e, ToolCallDelta)]


async def drain(model: Model, request: ModelRequest, into: list[ModelEvent]) -> None:
    """Consume a stream, keeping every event that arrived before it ended or failed."""
    async for event in model.stream(request):
        into.append(event)
