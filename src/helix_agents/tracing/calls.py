"""The spans of a step's own work: a model request (``chat``) and a tool call
(``execute_tool``), with the attributes of the OpenTelemetry GenAI semantic conventions.

Each function takes the instance's tracer, or None when tracing is off, and then does
nothing: the loop calls them unconditionally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spans import CLIENT, Span, Tracer

if TYPE_CHECKING:
    from ..usage import Usage

__all__ = ["end_model_span", "end_tool_span", "model_span", "tool_span"]


def _provider(model_name: str) -> str | None:
    provider, sep, _ = model_name.partition(":")
    if not sep:
        return None
    return {"openai": "openai", "workers-ai": "cloudflare.workers_ai"}.get(provider, provider)


def model_span(tracer: Tracer | None, model_name: str, *, key: str) -> Span | None:
    """A model request to ``model_name`` (the agent's model, e.g. ``openai:gpt-4o-mini``)
    starting now, as a child of the step in progress."""
    if tracer is None:
        return None
    _, sep, bare = model_name.partition(":")
    request_model = bare if sep else model_name
    return tracer.start(
        f"chat {request_model}",
        key=key,
        kind=CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": request_model,
            "gen_ai.provider.name": _provider(model_name) or "helix",
        },
    )


def end_model_span(
    tracer: Tracer | None,
    span: Span | None,
    *,
    usage: Usage | None = None,
    finish_reason: str | None = None,
    response_model: str | None = None,
    served_by: str | None = None,
    failed_over: tuple[str, ...] = (),
    error: BaseException | None = None,
) -> None:
    if tracer is None or span is None:
        return
    if usage is not None:
        span.set("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set("gen_ai.usage.output_tokens", usage.output_tokens)
    if finish_reason is not None:
        span.set("gen_ai.response.finish_reasons", [finish_reason])
    span.set("gen_ai.response.model", response_model)
    if served_by is not None:
        span.set("helix.model.served_by", served_by)
    if failed_over:
        span.set("helix.model.failed_over", list(failed_over))
    if error is not None:
        span.fail(error)
    tracer.end(span)


def tool_span(
    tracer: Tracer | None, tool_name: str, call_id: str, *, description: str | None = None
) -> Span | None:
    """A tool call starting now, as a child of its step."""
    if tracer is None:
        return None
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool_name,
        "gen_ai.tool.call.id": call_id,
    }
    if description:
        attributes["gen_ai.tool.description"] = description[:500]
    return tracer.start(
        f"execute_tool {tool_name}", key=f"tool\x1f{call_id}", attributes=attributes
    )


def end_tool_span(tracer: Tracer | None, span: Span | None, *, error: str | None = None) -> None:
    if tracer is None or span is None:
        return
    if error is not None:
        span.status = (2, error[:1000])
        span.attributes["error.type"] = "tool_error"
    tracer.end(span)
