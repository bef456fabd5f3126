"""The Python side of a Workflow step, as workers-runtime-sdk gives it to ``run``.

:class:`WorkflowStepWrapper` reproduces what the SDK's ``_WorkflowStepWrapper`` does in
implicit-dependency mode (compatibility date >= 2026-02-25), so that code written for the
real SDK runs unchanged against the fake engine:

- ``step.do(name=None, *, concurrent=False, config=None)`` is a decorator that does not run
  the step; awaiting the decorated function does. Its parameters must be ``ctx`` (the
  attempt's context, converted from JS) or the names of earlier decorated steps, whose
  results are injected (resolved in order, or together with ``concurrent=True``); any
  other parameter is a ``TypeError("Received unexpected parameter ...")``.
- The callback's result goes to JS through ``python_to_rpc`` (tuples refused), and the
  cached value comes back through ``python_from_rpc`` (dicts become ``JsDict``).
- An error thrown back by the engine is rebuilt as the SDK rebuilds it: only
  ``TypeError``, ``ValueError`` (with the traceback's last line as their message) and
  ``NonRetryableError`` keep a type; anything else stays the ``JsException``.
- ``sleep`` passes through to JS; ``wait_for_event(name, type, timeout=...)`` returns the
  event converted from JS (``{"payload", "timestamp", "type"}``, a naive datetime).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from .jsvalues import JsException, JsObject, from_rpc, to_rpc

__all__ = ["WorkflowStepWrapper", "from_js_error"]

_CTX = object()


def _non_retryable() -> type[Exception]:
    from .shim import NonRetryableError  # what ``workers.workflows`` exports

    return NonRetryableError


def from_js_error(exc: BaseException) -> BaseException:
    """What the SDK raises in ``run`` for an error a step threw back (see the docstring)."""
    message = getattr(exc, "message", None) or ""
    name = getattr(exc, "name", None)
    non_retryable = _non_retryable()
    if name == "NonRetryableError":
        return non_retryable(message)
    if message == "NonRetryableError":
        return non_retryable()
    if message.startswith("NonRetryableError: "):
        return non_retryable(message[len("NonRetryableError: ") :])
    if name != "PythonError" and not message.startswith("PythonError"):
        return _plain_js(exc, name, message)
    lines = message.rstrip().split("\n")
    if len(lines) < 2:
        return _plain_js(exc, name, message)
    last = lines[-1]
    if last.startswith("TypeError"):
        return TypeError(last)
    if last.startswith("ValueError"):
        return ValueError(last)
    if last.startswith("workers.workflows.NonRetryableError"):
        return non_retryable(last)
    return _plain_js(exc, name, message)


def _plain_js(exc: BaseException, name: str | None, message: str) -> BaseException:
    if name == "RangeError":
        return ValueError(message)
    if name == "TypeError":
        return TypeError(message)
    return exc


class WorkflowStepWrapper:
    """The SDK's step wrapper over a JS step (here: the fake engine's)."""

    def __init__(self, js_step: Any) -> None:
        self._js_step = js_step
        self._memoized: dict[Any, Any] = {}
        self._in_flight: dict[Any, asyncio.Task[Any]] = {}
        self.step_closures: dict[str, Callable[[], Any]] = {}

    def do(
        self, name: str | None = None, *, concurrent: bool = False, config: Any = None
    ) -> Callable[[Callable[..., Any]], Callable[[], Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[[], Any]:
            step_name = func.__name__ if name is None else name

            async def wrapper() -> Any:
                deps: list[Any] = []
                for parameter in inspect.signature(func).parameters.values():
                    if parameter.name in self.step_closures:
                        deps.append(self.step_closures[parameter.name])
                    elif parameter.name == "ctx":
                        deps.append(_CTX)
                    else:
                        raise TypeError(f"Received unexpected parameter {parameter.name}")
                if concurrent:
                    results = list(await asyncio.gather(*(self._resolve(d) for d in deps)))
                else:
                    results = [await self._resolve(d) for d in deps]
                return await self._call(step_name, wrapper, config, func, results)

            wrapper._step_name = step_name  # type: ignore[attr-defined]
            self.step_closures[step_name] = wrapper
            return wrapper

        return decorator

    async def _resolve(self, dep: Any) -> Any:
        if dep is _CTX:
            return _CTX
        if dep in self._memoized:
            return self._memoized[dep]
        if dep in self._in_flight:
            return await self._in_flight[dep]
        return await dep()

    async def _call(
        self, name: str, key: Any, config: Any, func: Callable[..., Any], results: list[Any]
    ) -> Any:
        async def callback(ctx: Any = None) -> Any:
            args = [from_rpc(ctx) if r is _CTX else r for r in results]
            result = func(*args)
            if inspect.iscoroutine(result):
                result = await result
            return to_rpc(result)

        async def closure() -> Any:
            try:
                if config is None:
                    value = await self._js_step.do(name, callback)
                else:
                    value = await self._js_step.do(name, _to_js(config), callback)
                return from_rpc(value)
            except JsException as exc:
                raise from_js_error(exc) from exc

        task = asyncio.ensure_future(closure())
        self._in_flight[key] = task
        try:
            result = await task
            self._memoized[key] = result
        finally:
            self._in_flight.pop(key, None)
        return result

    def sleep(self, *args: Any, **kwargs: Any) -> Any:
        return self._js_step.sleep(*args, **kwargs)

    def sleep_until(self, name: str, timestamp: Any) -> Any:
        if not isinstance(timestamp, str):
            timestamp = to_rpc(timestamp)
        return self._js_step.sleepUntil(name, timestamp)

    async def wait_for_event(self, name: str, event_type: str, /, timeout: Any = "24 hours") -> Any:
        return from_rpc(
            await self._js_step.waitForEvent(name, JsObject(type=event_type, timeout=timeout))
        )


def _to_js(config: Any) -> Any:
    """``to_js(config, dict_converter=Object.fromEntries)``."""
    if isinstance(config, dict):
        return JsObject({k: _to_js(v) for k, v in config.items()})
    if isinstance(config, list | tuple):
        return [_to_js(v) for v in config]
    return config
