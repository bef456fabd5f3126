"""A cache of tool results in the key-value port: repeated calls answered from KV.

``cached(tool, ttl=600)`` is the same tool (name, description, arguments) whose result is
kept in ``ctx.services.kv`` for ``ttl`` seconds under a key of the tool's name and its
arguments (canonical JSON, hashed). A repeated call within the TTL returns the kept result
without running the function. Either way the call says what happened in the stream (a
``data-cache`` part: ``{"tool", "hit", "key"}``) and in usage (custom kinds ``cache.hit``
and ``cache.miss``, rolled up per run and session). Only successful results are kept: an
error is never served from the cache.

The wrapped tool is an ordinary tool step, so it is durable as any: a completed call is
never run again, hit or miss. Cache only what may be shared by every session that sees
the same KV namespace (no per-user data unless the arguments carry the user).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ConfigurationError
from ..ports.kv import MIN_TTL_SECONDS, get_json, put_json
from ..tools import Tool, ToolContext, tool

__all__ = ["CACHE_DATA_PART", "cache_key", "cache_toolkit", "cached"]

#: The ``data-<name>`` part a cached tool emits on every call.
CACHE_DATA_PART = "cache"
_CTX = "_helix_cache_ctx"


def cache_key(namespace: str, tool_name: str, arguments: dict[str, Any]) -> str:
    """The KV key of a call: ``cache/<namespace>/<tool>/<sha256 of the arguments' JSON>``."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"cache/{namespace}/{tool_name}/{digest}"


def cached(
    target: Tool | Callable[..., Any],
    *,
    ttl: float = 3600,
    namespace: str = "tools",
) -> Tool:
    """``target`` (a Tool or a function ``@tool`` accepts) with its results cached in KV
    for ``ttl`` seconds (at least 60, KV's minimum)."""
    inner = target if isinstance(target, Tool) else tool(target)
    if inner.function is None:
        raise ConfigurationError(f"tool {inner.name!r} runs in the client: nothing to cache")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < MIN_TTL_SECONDS:
        raise ConfigurationError(
            f"cached({inner.name!r}): ttl must be at least {MIN_TTL_SECONDS} seconds"
        )
    if not namespace or "/" in namespace:
        raise ConfigurationError("a cache namespace is a non-empty name without '/'")
    function = inner.function
    from ..core.tool_step import jsonable

    async def run(**kwargs: Any) -> Any:
        ctx: ToolContext = kwargs.pop(_CTX)
        key = cache_key(namespace, inner.name, jsonable(kwargs))
        kv = ctx.services.kv
        hit = await get_json(kv, key)
        if isinstance(hit, dict) and "result" in hit:
            await ctx.emit(CACHE_DATA_PART, {"tool": inner.name, "hit": True, "key": key})
            ctx.record_usage("cache.hit")
            return hit["result"]
        if inner.context_param is not None:
            kwargs[inner.context_param] = ctx
        result = function(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        value = jsonable(result)
        await put_json(kv, key, {"result": value}, ttl=ttl, metadata={"tool": inner.name})
        await ctx.emit(CACHE_DATA_PART, {"tool": inner.name, "hit": False, "key": key})
        ctx.record_usage("cache.miss")
        return value

    return replace(
        inner,
        function=run,
        context_param=_CTX,
        metadata={**inner.metadata, "cache": {"ttl": ttl, "namespace": namespace}},
    )


def cache_toolkit(
    *tools: Tool | Callable[..., Any] | Sequence[Tool | Callable[..., Any]],
    ttl: float = 3600,
    namespace: str = "tools",
) -> list[Tool]:
    """Each of ``tools`` cached (:func:`cached`): ``tools=[*cache_toolkit(a, b, ttl=600)]``."""
    flat: list[Tool | Callable[..., Any]] = []
    for item in tools:
        if isinstance(item, Tool) or callable(item):
            flat.append(item)
        else:
            flat.extend(item)
    return [cached(item, ttl=ttl, namespace=namespace) for item in flat]
