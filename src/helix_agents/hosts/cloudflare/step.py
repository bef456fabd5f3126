"""The Step port over Cloudflare Workflows' Python step API.

Workflows hands ``run(event, step)`` the SDK's step wrapper: ``step.do`` is a decorator
(with implicit dependencies, from compatibility date 2026-02-25: a parameter named ``ctx``
receives ``{"attempt", "step", "config"}``, any other parameter must name an earlier step),
``step.sleep(name, duration)`` and ``step.wait_for_event(name, type, timeout=...)``.
:class:`WorkflowsStep` turns that into our :class:`~helix_agents.ports.step.Step`, with
the same contract the local engine keeps:

- step names are unique within an instance (Workflows would silently count a second use
  of a name as another step);
- a result is JSON of at most 1 MiB, and the first run sees it after the same JSON round
  trip as a replay does;
- a failed step raises the same error on the first run and on every replay (our errors
  with their type and attributes; see :mod:`.carrier`); an error that must not be retried
  (``NonRetryableError``, the loop's run signals, a result that is not JSON or too large)
  is returned as a value so Workflows neither retries it nor aborts the instance;
- a step whose attempt timed out raises :class:`~helix_agents.errors.StepTimeoutError`;
- when the engine stops this invocation of ``run`` (a pause, a restart, a terminate: its
  rejections then say ``Aborting engine: ...``), every step call raises
  :class:`WorkflowAborted`, which is no ``Exception``: the loop does not take it for a
  failure of the run (its fail step would record one durably while the engine goes away).
  A paused instance, once resumed, replays its steps from the journal like any restart.

Nothing here imports ``workers`` or ``js``: the step wrapper is duck-typed, so the module is
tested on CPython against the fake in :mod:`helix_agents.testing.cloudflare`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ...durations import format_duration
from ...error_codec import decode_error, encode_error, is_retryable
from ...errors import (
    NonRetryableError,
    StepError,
    StepTimeoutError,
)
from ...ports.step import JSONValue, Step, StepConfig, StepContext, StepFn
from ...workflow_rules import (
    claim_step_name,
    encode_result,
    resolve_step_config,
    validate_event_type,
    validate_wait,
)
from .carrier import FAILED_STEP_KEY, carrier, find_carried, js_error_name, js_error_text

__all__ = ["WorkflowAborted", "WorkflowsStep", "plain", "run_workflow"]

#: How the engine's rejections begin when it stops the instance's ``run`` (miniflare's
#: engine, the one Workflows runs: ``ABORT_PREFIX``).
ENGINE_ABORT: Final = "Aborting engine:"


class WorkflowAborted(BaseException):
    """The Workflows engine stopped this invocation of ``run``: nothing more may run in it,
    and nothing about the run failed. Deliberately not an ``Exception``. ``reason`` is the
    engine's message (``Aborting engine: User called pause``): ``run`` must reject with an
    error of exactly that message, the only way the engine tells an abort from a failure
    (any other error from ``run`` marks the instance ``errored``, a paused one too), and a
    Python error reaches JS as a ``PythonError`` whose message is its traceback; so the
    entrypoint rejects with a plain JS error of that message (``CloudflareApp.run``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_FATAL = (KeyboardInterrupt, SystemExit, asyncio.CancelledError, WorkflowAborted)

WorkflowFn = Callable[[dict[str, Any], Step], Awaitable[Any]]


class WorkflowsStep:
    """Our Step port over the SDK step wrapper ``step`` that Workflows gave ``run``.

    Make a new one for every call of ``run`` (it tracks the names used in this run).
    """

    def __init__(self, step: Any) -> None:
        self._step = step
        self._claimed: set[str] = set()

    async def do(self, name: str, fn: StepFn, config: StepConfig | None = None) -> JSONValue:
        # Refuse what Workflows would refuse, clearly, before a round trip.
        timeout_ms = resolve_step_config(config).timeout_ms
        self._claim(name)

        async def callback(ctx: Any) -> Any:
            return await _attempt(name, fn, _attempt_number(ctx))

        decorated = self._step.do(name, config=_js_config(config))(callback)
        try:
            value = await decorated()
        except _FATAL:
            raise
        except Exception as exc:  # the step failed for good: Workflows threw its error back
            _raise_if_aborted(exc)
            raise _failure(exc, f"step {name!r}", timeout_ms) from None
        if isinstance(value, Mapping) and FAILED_STEP_KEY in value:
            raise decode_error(plain(value[FAILED_STEP_KEY]))
        return plain(value)

    async def sleep(self, name: str, duration: int | float | str) -> None:
        ms = validate_wait(duration, f"sleep {name!r} duration")
        self._claim(name)
        try:
            await self._step.sleep(name, duration)
        except _FATAL:
            raise
        except Exception as exc:
            _raise_if_aborted(exc)
            raise _failure(exc, f"sleep {name!r}", ms) from None

    async def wait_for_event(
        self, name: str, event_type: str, timeout: int | float | str = "24 hours"
    ) -> dict[str, Any]:
        validate_event_type(event_type)
        ms = validate_wait(timeout, f"wait_for_event {name!r} timeout")
        self._claim(name)
        try:
            event = await self._step.wait_for_event(name, event_type, timeout=timeout)
        except _FATAL:
            raise
        except Exception as exc:
            _raise_if_aborted(exc)
            if _is_timeout(exc):
                raise StepTimeoutError(
                    f"wait_for_event {name!r} timed out after {format_duration(ms)} "
                    f"without a {event_type!r} event"
                ) from None
            raise _failure(exc, f"wait_for_event {name!r}", ms) from None
        event = plain(event) if isinstance(event, Mapping) else {}
        return {
            "type": event.get("type", event_type),
            "payload": event.get("payload"),
            "timestamp": _aware(event.get("timestamp")),
        }

    def _claim(self, name: str) -> None:
        claim_step_name(self._claimed, name, "this instance")


async def run_workflow(fn: WorkflowFn, event: Any, step: Any) -> Any:
    """Run ``fn(event, step)`` as a Workflow's ``run`` body: with our Step port, and with an
    error that escapes it carried intact to the instance's status (``{"name", "message"}``
    of the original error, which :class:`~.launcher.WorkflowLauncher` reads back)."""
    port = WorkflowsStep(step)
    try:
        return await fn(plain(event) if isinstance(event, Mapping) else event, port)
    except _FATAL:
        raise
    except BaseException as exc:
        raise carrier(encode_error(exc)) from None


async def _attempt(name: str, fn: StepFn, attempt: int) -> Any:
    """One attempt, inside Workflows: the result as JSON, or the error made to cross."""
    try:
        result = fn(StepContext(name, attempt))
        if inspect.isawaitable(result):
            result = await result
    except _FATAL:
        raise
    except BaseException as exc:
        encoded = encode_error(exc)
        if not is_retryable(exc):
            return {FAILED_STEP_KEY: encoded}
        raise carrier(encoded) from None
    try:
        text = encode_result(result, f"the result of step {name!r}")
    except StepError as exc:  # not JSON, or too large: retrying would not help
        return {FAILED_STEP_KEY: encode_error(exc)}
    # The JSON round trip, so that the first run sees exactly what a replay will.
    return json.loads(text)


def _failure(exc: BaseException, what: str, timeout_ms: float) -> BaseException:
    """Our error for what Workflows threw back from a step that failed for good."""
    text = js_error_text(exc)
    carried = find_carried(text)
    if carried is not None:
        return decode_error(carried)
    if _is_timeout(exc):
        return StepTimeoutError(f"{what} timed out after {format_duration(timeout_ms)}")
    name = js_error_name(exc)
    if name == "NonRetryableError":
        return NonRetryableError(text)
    error = StepError(f"{what} failed: {text}" if text else f"{what} failed")
    error.error_name = name  # type: ignore[attr-defined]
    return error


def _raise_if_aborted(exc: BaseException) -> None:
    """:class:`WorkflowAborted` for a rejection that says the engine stops this ``run``."""
    text = js_error_text(exc)
    if ENGINE_ABORT in text and find_carried(text) is None:
        reason = text[text.index(ENGINE_ABORT) :].splitlines()[0].strip()
        raise WorkflowAborted(reason) from None


def _is_timeout(exc: BaseException) -> bool:
    return js_error_name(exc) == "WorkflowTimeoutError" or (
        "WorkflowTimeoutError" in js_error_text(exc)
    )


def _attempt_number(ctx: Any) -> int:
    attempt = ctx.get("attempt") if isinstance(ctx, Mapping) else getattr(ctx, "attempt", None)
    try:
        return max(1, int(attempt)) if attempt is not None else 1
    except (TypeError, ValueError):
        return 1


def _js_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The config as plain dicts (the SDK converts it for JS; a mapping proxy would not)."""
    if not config:
        return None
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in config.items()}


def plain(value: Any) -> Any:
    """A value that came over RPC as plain Python: the SDK's ``JsDict`` becomes ``dict``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _aware(value: Any) -> datetime:
    """Workflows' event timestamp as an aware UTC datetime (the SDK gives a naive local
    one: UTC inside a Worker)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is None else value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, UTC)
    return datetime.fromtimestamp(0, UTC)
