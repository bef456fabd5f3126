"""Opt-in: a model's responses served from the key-value port for repeated requests.

``Agent(model=cached_model("openai:gpt-4o-mini", ttl=3600))`` answers a request it has
seen within ``ttl`` seconds (the same system prompt, history, tools and settings, on the
same model) from ``ctx.services.kv`` instead of calling the provider; every other request
goes to the model and its response is kept. As with a cached tool (:mod:`.cache`), every
request says what happened in the stream and in usage. In the stream: a ``data-cache``
part, ``{"model", "hit", "key"}``, before a hit's text (a miss's comes at its end). In
usage: a hit costs no tokens (zero tokens; the step still counts as a request) and adds the
custom kind ``model_cache.hit``, a miss adds ``model_cache.miss`` to the model's own usage,
rolled up per run and session like any usage (each model step's usage record carries its
own). A hit replays the kept text and tool calls as one delta each; its response's
``model_name`` ends in ``(cached)``.

The host gives the model its KV when it resolves the agent's model (the wrapped model
itself is resolved by the host as usual: a string like ``"workers-ai:..."`` works on both
hosts). Tool-call ids are normalized in the key, so the same conversation in another
session hits too. Only cache what is deterministic enough to share: a response kept for
one user is served to any other who sends the very same request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ServiceNotConfiguredError
from ..messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from ..ports.kv import MIN_TTL_SECONDS, get_json, put_json
from ..ports.model import (
    DataPart,
    Model,
    ModelEvent,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
)
from .cache import CACHE_DATA_PART

if TYPE_CHECKING:
    from ..services import Services

__all__ = ["CachedModel", "cached_model", "request_key"]


def cached_model(
    model: Model | str, *, ttl: float = 3600, namespace: str = "models"
) -> CachedModel:
    """``model`` with its responses cached in the host's KV for ``ttl`` seconds (>= 60)."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < MIN_TTL_SECONDS:
        raise ConfigurationError(f"cached_model: ttl must be at least {MIN_TTL_SECONDS} seconds")
    if not namespace or "/" in namespace:
        raise ConfigurationError("a cache namespace is a non-empty name without '/'")
    return CachedModel(model, ttl=ttl, namespace=namespace)


class CachedModel:
    """A Model that answers repeated requests from KV. Build one with :func:`cached_model`;
    a host binds it (:meth:`bind_host`) to its services and its model resolution."""

    def __init__(
        self,
        model: Model | str,
        *,
        ttl: float,
        namespace: str,
        services: Services | None = None,
        resolve: Callable[[Model | str], Model] | None = None,
    ) -> None:
        self.model = model
        self.ttl = ttl
        self.namespace = namespace
        self._services = services
        self._resolve = resolve
        self.name = f"{model if isinstance(model, str) else model.name}"

    def __repr__(self) -> str:
        return f"cached_model({self.model!r}, ttl={self.ttl})"

    def bind_host(self, services: Services, resolve: Callable[[Model | str], Model]) -> CachedModel:
        """This cache on a host: its KV, and how it resolves the wrapped model."""
        return CachedModel(
            self.model, ttl=self.ttl, namespace=self.namespace, services=services, resolve=resolve
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if self._services is None or self._resolve is None:
            raise ServiceNotConfiguredError(
                "cached_model runs only on a host (it needs the host's key-value store)"
            )
        kv = self._services.kv
        inner = self._resolve(self.model)
        key = f"cache/{self.namespace}/{request_key(inner.name, request)}"
        kept = await get_json(kv, key)
        if isinstance(kept, dict) and "text" in kept:
            yield DataPart(CACHE_DATA_PART, {"model": inner.name, "hit": True, "key": key})
            async for event in _replay(kept, inner.name):
                yield event
            return
        async for event in inner.stream(request):
            if isinstance(event, ModelResponse):
                await put_json(kv, key, _keep(event), ttl=self.ttl, metadata={"model": inner.name})
                custom = {
                    **event.usage.custom,
                    "model_cache.miss": event.usage.custom.get("model_cache.miss", 0) + 1,
                }
                # Every other field as the model gave it (who served it, among them).
                event = replace(event, usage=event.usage.model_copy(update={"custom": custom}))
                yield DataPart(CACHE_DATA_PART, {"model": inner.name, "hit": False, "key": key})
            yield event


def request_key(model_name: str, request: ModelRequest) -> str:
    """The sha256 of a request's canonical JSON, tool-call ids numbered in order."""
    ids: dict[str, str] = {}

    def norm(call_id: str) -> str:
        return ids.setdefault(call_id, f"c{len(ids)}")

    def message(m: Message) -> dict[str, Any]:
        if isinstance(m, UserMessage):
            return {"role": "user", "content": m.content}
        if isinstance(m, AssistantMessage):
            return {
                "role": "assistant",
                "content": m.content,
                "reasoning": m.reasoning,
                "calls": [[norm(c.id), c.name, c.arguments] for c in m.tool_calls],
            }
        assert isinstance(m, ToolResultMessage)
        return {
            "role": "tool",
            "call": norm(m.tool_call_id),
            "name": m.tool_name,
            "content": m.content,
            "status": m.status,
        }

    canonical = {
        "model": model_name,
        "system": request.system,
        "messages": [message(m) for m in request.messages],
        "tools": [[t.name, t.description, t.parameters] for t in request.tools],
        "settings": [
            request.settings.temperature,
            request.settings.max_tokens,
            request.settings.extra,
        ],
        "output": request.output_tool,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keep(response: ModelResponse) -> dict[str, Any]:
    return {
        "text": response.text,
        "reasoning": response.reasoning,
        "calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
        ],
        "finish": response.finish_reason,
    }


async def _replay(kept: dict[str, Any], model_name: str) -> AsyncIterator[ModelEvent]:
    from ..usage import Usage

    text = str(kept.get("text") or "")
    reasoning = kept.get("reasoning")
    if reasoning:
        yield ReasoningDelta(str(reasoning))
    if text:
        yield TextDelta(text)
    yield ModelResponse(
        text=text,
        reasoning=str(reasoning) if reasoning else None,
        tool_calls=[
            ToolCall(id=str(c["id"]), name=str(c["name"]), arguments=dict(c["arguments"]))
            for c in kept.get("calls") or []
        ],
        usage=Usage(custom={"model_cache.hit": 1}),
        finish_reason=str(kept.get("finish") or "stop"),
        model_name=f"{model_name} (cached)",
    )
