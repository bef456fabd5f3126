"""The Step port: durable steps with Cloudflare Workflows semantics.

Contract:

- ``do(name, fn, config)`` runs ``fn`` at most until it succeeds and caches its JSON result
  under ``name`` (names are unique within an instance). On replay after a restart, a completed
  step returns its cached result without running ``fn``; a step that failed for good raises
  again the same error.
- ``fn`` receives a :class:`StepContext` (its attempt number is 1-based) and returns a JSON
  value (dict, list, str, int, float, bool or None) of at most 1 MiB once encoded.
- Retries follow ``config["retries"]`` = ``{"limit", "delay", "backoff"}`` (delay in ms or a
  duration string such as ``"2 seconds"``; backoff ``constant``/``linear``/``exponential``),
  and ``config["timeout"]`` bounds each attempt. A step that raises
  ``NonRetryableError`` is not retried.
- ``sleep(name, duration)`` and ``wait_for_event(name, type, timeout)`` are durable: they
  survive a restart and, once passed, return at once on replay.
- Code between steps re-runs on every replay, so it must be deterministic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

__all__ = ["JSONValue", "RetryConfig", "Step", "StepConfig", "StepContext", "StepFn"]

JSONValue = Any


class RetryConfig(TypedDict):
    limit: int
    delay: NotRequired[int | float | str]
    backoff: NotRequired[Literal["constant", "linear", "exponential"]]


class StepConfig(TypedDict, total=False):
    retries: RetryConfig
    timeout: int | float | str


@dataclass(frozen=True, slots=True)
class StepContext:
    name: str
    attempt: int


StepFn = Callable[[StepContext], Awaitable[JSONValue]]


@runtime_checkable
class Step(Protocol):
    async def do(self, name: str, fn: StepFn, config: StepConfig | None = None) -> JSONValue:
        """Run ``fn`` durably under ``name`` and return its (cached) JSON result."""
        ...

    async def sleep(self, name: str, duration: int | float | str) -> None:
        """Sleep durably; ``duration`` in ms or as ``"10 seconds"``."""
        ...

    async def wait_for_event(
        self, name: str, event_type: str, timeout: int | float | str = "24 hours"
    ) -> dict[str, Any]:
        """Wait durably for an event sent to this instance; returns
        ``{"type", "payload", "timestamp"}``. Raises StepTimeoutError on timeout."""
        ...
