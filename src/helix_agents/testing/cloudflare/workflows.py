"""A fake of Cloudflare Workflows: the engine, the binding, and the JS step it hands ``run``.

It follows Workflows' documented semantics and its local engine (workers-sdk's
``workflows-shared``) at every point the runtime depends on:

- an instance runs the Workflow class's ``run(event, step)`` through the ``workers`` shim
  (:mod:`.shim`), so the step is the SDK's wrapper (:mod:`.sdk_step`) and the event has
  been converted from JS (``payload``, ``timestamp``, ``instanceId``, ``workflowName``);
- ``step.do`` results are cached by name (and how many times the name was used) together
  with the step's final error. The first run gets back the very value its callback
  returned (a ``set`` stays a ``set``); the cache keeps what a structured clone keeps of it
  (a ``set`` or another Python object becomes ``{}``);
- :meth:`FakeWorkflows.crash` is the engine dying: every run stops where it is, and an
  unfinished instance stays ``running`` without running, as on the local engine, until an
  event is sent to it or :meth:`FakeWorkflows.wake` (what production's engine does by
  itself, and the local explorer's pause and resume) runs it again from the top: completed steps return their
  cached value without running, and an attempt cut by the crash counts.
  :meth:`FakeWorkflows.restart` is both (production's restart);
- retries follow the step config merged over the documented defaults (5 retries, 10 s,
  exponential, 10 minutes per attempt), and the callback's ``ctx`` shows that merged
  config as given (``{"retries": {"limit", "delay", "backoff"}, "timeout"}``); an attempt
  past its timeout fails with ``WorkflowTimeoutError: Execution timed out after <ms>ms``; a
  ``NonRetryableError`` is never retried;
- an error reaches ``run`` as it crosses the engine's RPC boundary: a standard JS error
  (``TypeError``, ...) keeps its name, any other arrives as ``Error`` with the message
  ``"<name>: <message>"`` (a Python exception: ``"PythonError: <traceback>"``); the same
  for an error escaping ``run`` (the instance's ``error``);
- ``sleep`` and ``wait_for_event`` are durable, events sent early are buffered, a wait
  times out with ``WorkflowTimeoutError``; an event for a finished instance is accepted
  and goes nowhere;
- ``status()`` is ``{"status", "output", "error"}`` (``None`` where there is none);
- instance ids are write-once and follow the id rules, and the binding's errors are the
  local engine's texts (``WorkflowError: (instance.already_exists) ...``,
  ``instance.not_found``, ...).

Where the platform documents a rule the local engine does not enforce, the fake enforces
it (each place is marked ``STRICTER``): results, params and event payloads of at most
1 MiB, and the ``waiting`` status while an instance sleeps or waits for an event. One more
point is stricter on purpose: a replay that asks for another step than the first run did
at that position errors the instance (``NonDeterminismError``), where Workflows would
silently run the new step. Code that passes here also works there.

Time comes from ``clock`` (ms) and ``sleep`` (seconds), so tests can use fake time.
``stats`` counts what the platform would bill: steps run, attempts, binding calls.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...clock import now_ms
from ...durations import parse_duration
from ...workflow_rules import (
    DEFAULT_STEP_CONFIG,
    MAX_PAYLOAD_BYTES,
    is_instance_id,
    resolve_step_config,
    validate_step_name,
)
from .invocations import Invocation, count_subrequest, start_in
from .jsvalues import (
    JsArray,
    JsDate,
    JsException,
    JsObject,
    crossed,
    from_rpc,
    js_error,
    python_error,
    to_rpc,
)

__all__ = ["FakeWorkflowBinding", "FakeWorkflowInstance", "FakeWorkflows", "WorkflowStats"]

_FINAL = frozenset({"complete", "errored", "terminated"})

EntrypointFactory = Callable[[], Any]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class WorkflowStats:
    """What the platform counts: step.do executions and attempts, sleeps and waits, and the
    binding's round trips (each one a subrequest of the caller)."""

    steps: int = 0
    attempts: int = 0
    sleeps: int = 0
    waits: int = 0
    binding_calls: int = 0
    steps_by_instance: dict[str, int] = field(default_factory=dict)
    #: Attempts per ``"<instance id>/<step name>"`` (how often a step's callback ran).
    attempts_by_step: dict[str, int] = field(default_factory=dict)


@dataclass
class _Step:
    kind: str
    value: Any = None
    done: bool = False
    error: tuple[str, str] | None = None
    attempts: int = 0
    running: bool = False
    retry_at: float | None = None
    wake_at: float | None = None
    config: Any = None


@dataclass
class _Instance:
    """Everything the engine keeps durably about one instance."""

    id: str
    params: Any
    created_at: float
    status: str = "queued"
    output: Any = None
    error: dict[str, str] | None = None
    steps: dict[str, _Step] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, Any, float]] = field(default_factory=list)


class _Diverged(BaseException):
    """Ends a run whose replay diverged (the instance is already errored)."""


class FakeWorkflows:
    """One Workflow (one ``[[workflows]]`` entry): its instances and their engine.

    ``factory()`` returns a new instance of the Workflow class (the platform constructs one
    per run); set it with :meth:`bind`. ``binding`` is what ``env.AGENT_WORKFLOW`` is.
    """

    def __init__(
        self,
        name: str = "workflow",
        factory: EntrypointFactory | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.name = name
        self._factory = factory
        self._clock = clock or now_ms
        self._sleep = sleep or asyncio.sleep
        self._instances: dict[str, _Instance] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._attempt_tasks: set[asyncio.Task[Any]] = set()
        self._waiters: dict[str, list[tuple[str, asyncio.Future[tuple[Any, float]]]]] = {}
        self._busy: dict[str, list[int]] = {}
        self._finished: dict[str, list[asyncio.Future[None]]] = {}
        self._started = True
        self.stats = WorkflowStats()
        self.binding = FakeWorkflowBinding(self)

    def bind(self, factory: EntrypointFactory) -> None:
        self._factory = factory

    # -- what tests drive --------------------------------------------------------------------

    async def restart(self) -> None:
        """The engine dies and comes back, and resumes every unfinished instance: what
        production's engine does (:meth:`crash`, then :meth:`wake`)."""
        await self.crash()
        self.wake()

    async def crash(self) -> None:
        """The engine dies (every run and attempt stops where it is, nothing is written) and
        comes back. As on the local engine, an unfinished instance stays ``running`` but
        does not run until :meth:`wake` or an event sent to it; new instances run."""
        await self.stop()
        self._started = True
        for instance in self._instances.values():
            if instance.status not in _FINAL:
                instance.status = "running"

    def wake(self, instance_id: str | None = None) -> None:
        """Run an unfinished instance that does not run (every one without an id) again from
        the top, as production's engine does after a crash by itself."""
        for instance in self._instances.values():
            if instance.status not in _FINAL and instance_id in (None, instance.id):
                self._launch(instance)

    async def stop(self) -> None:
        """Stop every run as a crash would (see :meth:`restart`)."""
        self._started = False
        tasks = [*self._tasks.values(), *self._attempt_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._attempt_tasks.clear()
        self._waiters.clear()
        self._busy.clear()

    async def wait(self, instance_id: str, timeout: float | None = 10.0) -> dict[str, Any]:
        """Until the instance is complete, errored or terminated; its status."""
        instance = self._instances[instance_id]
        if instance.status not in _FINAL:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._finished.setdefault(instance_id, []).append(future)
            await asyncio.wait_for(future, timeout)
        return self._status(instance)

    def instance_ids(self) -> list[str]:
        return list(self._instances)

    # -- the binding's operations ------------------------------------------------------------

    def _binding_call(self) -> None:
        """A call through the binding: a subrequest of the invocation that makes it."""
        count_subrequest("workflow")
        self.stats.binding_calls += 1

    def _create(self, options: Any) -> str:
        options = from_rpc(options) or {}
        instance_id = options.get("id")
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        if not is_instance_id(instance_id):
            raise js_error("Error", "WorkflowError: Workflow instance has invalid id")
        params = options.get("params", {})
        _check_size(params, "Instance parameters")
        if instance_id in self._instances:
            raise js_error(
                "Error",
                "WorkflowError: (instance.already_exists) Workflow instance with id "
                f'"{instance_id}" already exists',
            )
        instance = _Instance(instance_id, _clone(params), self._clock())
        self._instances[instance_id] = instance
        if self._started:
            self._launch(instance)
        return instance_id

    def _get(self, instance_id: str) -> _Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise js_error("Error", "instance.not_found")
        return instance

    def _status(self, instance: _Instance) -> dict[str, Any]:
        return {
            "status": instance.status,
            "output": instance.output if instance.status == "complete" else None,
            "error": dict(instance.error) if instance.error is not None else None,
        }

    def _send_event(self, instance: _Instance, event: Any) -> None:
        event = from_rpc(event) or {}
        event_type = event.get("type")
        if not isinstance(event_type, str):
            raise js_error("Error", "(event.invalid_type) an event needs a type")
        payload = event.get("payload")
        _check_size(payload, "Event payload")
        if instance.status in _FINAL:
            return  # accepted, and goes nowhere (as on the local engine)
        payload = _clone(payload)
        if self._started and instance.id not in self._tasks:
            # An event wakes an instance a crash left idle (the local engine does so).
            self._launch(instance)
        now = self._clock()
        for index, (wanted, future) in enumerate(self._waiters.get(instance.id, [])):
            if wanted == event_type and not future.done():
                del self._waiters[instance.id][index]
                future.set_result((payload, now))
                return
        instance.events.append((event_type, payload, now))

    async def _terminate(self, instance: _Instance) -> None:
        if instance.status in _FINAL:
            raise js_error(
                "Error",
                "WorkflowError: (instance.cannot_terminate) Cannot terminate instance since "
                "its on a finite state",
            )
        instance.status = "terminated"
        task = self._tasks.pop(instance.id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._notify(instance)

    # -- running -----------------------------------------------------------------------------

    def _launch(self, instance: _Instance) -> None:
        if instance.id in self._tasks:
            return
        # The run is the instance's own invocation, not the one that created it.
        invocation = Invocation("workflow", instance.id, limit=None)
        task = start_in(invocation, self._run(instance))
        self._tasks[instance.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(instance.id, None))

    async def _run(self, instance: _Instance) -> None:
        await asyncio.sleep(0)  # an instance starts after create() returned
        if self._factory is None:
            raise RuntimeError(f"no Workflow class is bound to {self.name!r}")
        instance.status = "running"
        self._busy[instance.id] = [0, 0]
        step = _JsStep(self, instance)
        event = JsObject(
            payload=to_rpc(instance.params),
            timestamp=JsDate(instance.created_at),
            instanceId=instance.id,
            workflowName=self.name,
        )
        try:
            entrypoint = self._factory()
            result = await entrypoint.run(event, step)
        except _Diverged:
            pass
        except asyncio.CancelledError:
            raise
        except JsException as exc:
            self._fail(instance, exc)
        except BaseException as exc:
            self._fail(instance, python_error(exc))
        else:
            if instance.status in _FINAL:
                return
            try:
                _check_size(result, "The Workflow's output")
                instance.output = from_rpc(_clone(result))
            except JsException as exc:
                self._fail(instance, exc)
            else:
                instance.status = "complete"
        finally:
            self._busy.pop(instance.id, None)
        self._notify(instance)

    def _fail(self, instance: _Instance, exc: JsException) -> None:
        if instance.status in _FINAL:
            return
        instance.status = "errored"
        error = crossed(exc)
        instance.error = {"name": error.name, "message": error.message}

    def _notify(self, instance: _Instance) -> None:
        for future in self._finished.pop(instance.id, []):
            if not future.done():
                future.set_result(None)

    def _diverged(self, instance: _Instance, detail: str) -> _Diverged:
        if instance.status not in _FINAL:
            instance.status = "errored"
            instance.error = {
                "name": "NonDeterminismError",
                "message": f"instance {instance.id!r} is not deterministic: {detail}",
            }
            task = self._tasks.get(instance.id)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            self._notify(instance)
        return _Diverged()

    def _enter(self, instance: _Instance, busy: bool) -> None:
        counts = self._busy.get(instance.id)
        if counts is None:
            return
        counts[0 if busy else 1] += 1
        self._sync(instance, counts)

    def _leave(self, instance: _Instance, busy: bool) -> None:
        counts = self._busy.get(instance.id)
        if counts is None:
            return
        counts[0 if busy else 1] -= 1
        self._sync(instance, counts)

    def _sync(self, instance: _Instance, counts: list[int]) -> None:
        if instance.status in _FINAL:
            return
        # STRICTER: the platform documents `waiting` while an instance sleeps or waits for
        # an event; the local engine reports `running`.
        instance.status = "waiting" if counts[1] and not counts[0] else "running"


class _JsStep:
    """The JS ``WorkflowStep`` of one run of one instance."""

    def __init__(self, engine: FakeWorkflows, instance: _Instance) -> None:
        self._engine = engine
        self._instance = instance
        self._counts: dict[str, int] = {}
        self._ordinal = 0

    def _claim(self, kind: str, name: str) -> str:
        """Check the replay against the first run's order; the step's cache key."""
        instance = self._instance
        if instance.status in _FINAL:
            raise asyncio.CancelledError()
        ordinal, self._ordinal = self._ordinal, self._ordinal + 1
        if ordinal < len(instance.order):
            recorded = instance.order[ordinal]
            if recorded != (kind, name):
                raise self._engine._diverged(
                    instance,
                    f"the replay asked for {kind} {name!r} at position {ordinal}, but the "
                    f"first run asked for {recorded[0]} {recorded[1]!r} there",
                )
        else:
            instance.order.append((kind, name))
        count = self._counts.get(f"{kind}:{name}", 0) + 1
        self._counts[f"{kind}:{name}"] = count
        return f"{kind}:{name}:{count}"

    async def do(self, name: Any, config_or_callback: Any, callback: Any = None) -> Any:
        engine, instance = self._engine, self._instance
        config: Any
        if callback is None:
            callback, config = config_or_callback, {}
        else:
            config = from_rpc(config_or_callback) or {}
        try:
            validate_step_name(name)
        except Exception:
            raise crossed(
                js_error(
                    "WorkflowFatalError",
                    f'Step name "{name}" exceeds max length (256 chars) or invalid characters '
                    "found",
                )
            ) from None
        try:
            resolved = resolve_step_config(config)
        except Exception:
            raise crossed(
                js_error("WorkflowFatalError", f'Step config for "{name}" is in a invalid format.')
            ) from None
        key = self._claim("do", name)
        state = instance.steps.get(key)
        if state is None:
            state = instance.steps[key] = _Step("do", config=resolved)
            engine.stats.steps += 1
            engine.stats.steps_by_instance[instance.id] = (
                engine.stats.steps_by_instance.get(instance.id, 0) + 1
            )
        if state.done:
            return state.value
        if state.error is not None:
            raise crossed(js_error(*state.error))
        resolved = state.config
        engine._enter(instance, busy=True)
        try:
            while True:
                if state.retry_at is not None:
                    await _sleep_until(engine, state.retry_at)
                    state.retry_at = None
                state.attempts += 1
                state.running = True
                engine.stats.attempts += 1
                step_key = f"{instance.id}/{name}"
                engine.stats.attempts_by_step[step_key] = (
                    engine.stats.attempts_by_step.get(step_key, 0) + 1
                )
                ctx = JsObject(
                    step=JsObject(name=name, count=int(key.rsplit(":", 1)[1])),
                    attempt=state.attempts,
                    config=_ctx_config(config),
                )
                try:
                    value = await self._attempt(callback, ctx, resolved.timeout_ms)
                    _check_size(value, f'The value returned from step "{name}"')
                except JsException as error:
                    state.running = False
                    if error.name == "NonRetryableError" or error.message.startswith(
                        "NonRetryableError"
                    ):
                        state.error = (error.name, error.message)
                        raise crossed(error) from None
                    if state.attempts <= resolved.limit:
                        state.retry_at = engine._clock() + resolved.retry_delay_ms(state.attempts)
                        continue
                    state.error = (error.name, error.message)
                    raise crossed(error) from None
                state.running = False
                # The first run gets the value itself; a replay gets the engine's copy.
                state.value = _clone(value)
                state.done = True
                return value
        finally:
            engine._leave(instance, busy=True)

    async def _attempt(self, callback: Any, ctx: Any, timeout_ms: float) -> Any:
        engine = self._engine
        task = asyncio.ensure_future(callback(ctx))
        engine._attempt_tasks.add(task)
        timer = asyncio.ensure_future(engine._sleep(timeout_ms / 1000.0))
        try:
            done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
            if task not in done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise js_error(
                    "WorkflowTimeoutError", f"Execution timed out after {int(timeout_ms)}ms"
                )
            try:
                return task.result()
            except JsException:
                raise
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                error = python_error(exc)
                if type(exc).__name__ == "NonRetryableError":
                    # The SDK's workflows.js wraps the callback: a Python NonRetryableError
                    # reaches the engine as a JS error of that name.
                    return_error = js_error("NonRetryableError", str(exc))
                    raise return_error from None
                raise error from None
        finally:
            timer.cancel()
            task.cancel()
            engine._attempt_tasks.discard(task)

    async def sleep(self, name: str, duration: Any) -> None:
        engine, instance = self._engine, self._instance
        ms = parse_duration(duration, what="sleep duration")
        key = self._claim("sleep", f"{name}:{ms:g}")
        state = instance.steps.get(key)
        if state is None:
            state = instance.steps[key] = _Step("sleep", wake_at=engine._clock() + ms)
            engine.stats.sleeps += 1
        if state.done:
            return
        engine._enter(instance, busy=False)
        try:
            assert state.wake_at is not None
            await _sleep_until(engine, state.wake_at)
        finally:
            engine._leave(instance, busy=False)
        state.done = True

    async def sleepUntil(self, name: str, timestamp: Any) -> None:
        ms = timestamp.ms if isinstance(timestamp, JsDate) else float(timestamp)
        now = self._engine._clock()
        if ms < now:
            raise js_error("Error", "You can't sleep until a time in the past, time-traveler")
        await self.sleep(name, ms - now)

    async def waitForEvent(self, name: str, options: Any) -> Any:
        engine, instance = self._engine, self._instance
        options = from_rpc(options) or {}
        event_type = options.get("type")
        timeout = options.get("timeout") or "24 hours"
        ms = parse_duration(timeout, what="waitForEvent timeout")
        key = self._claim("wait", name)
        state = instance.steps.get(key)
        timeout_error = ("WorkflowTimeoutError", f"Execution timed out after {int(ms)}ms")
        if state is None:
            state = instance.steps[key] = _Step("wait", wake_at=engine._clock() + ms)
            engine.stats.waits += 1
        if state.done:
            return state.value
        if state.error is not None:
            raise crossed(js_error(*state.error))
        for index, (kind, payload, sent_at) in enumerate(instance.events):
            if kind == event_type:
                del instance.events[index]
                return self._received(state, event_type, payload, sent_at)
        assert state.wake_at is not None
        if state.wake_at <= engine._clock():
            state.error = timeout_error
            raise crossed(js_error(*timeout_error))
        future: asyncio.Future[tuple[Any, float]] = asyncio.get_running_loop().create_future()
        engine._waiters.setdefault(instance.id, []).append((event_type, future))
        timer: asyncio.Future[Any] = asyncio.ensure_future(_sleep_until(engine, state.wake_at))
        engine._enter(instance, busy=False)
        try:
            waiting: list[asyncio.Future[Any]] = [future, timer]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            engine._leave(instance, busy=False)
            waiters = engine._waiters.get(instance.id, [])
            waiters[:] = [w for w in waiters if w[1] is not future]
        if future.done() and not future.cancelled():
            payload, sent_at = future.result()
            return self._received(state, event_type, payload, sent_at)
        state.error = timeout_error
        raise crossed(js_error(*timeout_error))

    def _received(self, state: _Step, event_type: Any, payload: Any, sent_at: float) -> Any:
        state.value = JsObject(payload=payload, timestamp=JsDate(sent_at), type=event_type)
        state.done = True
        return state.value


async def _sleep_until(engine: FakeWorkflows, when: float) -> None:
    remaining = when - engine._clock()
    if remaining > 0:
        await engine._sleep(remaining / 1000.0)


def _ctx_config(config: Any) -> JsObject:
    """The config a step's ``ctx`` shows: the given one merged over the defaults, its
    values as given (``"1 second"`` stays a string)."""
    given = dict(config or {})
    # STRICTER: the documented default retry delay (10 s); the local engine uses 1 s.
    retries = {**DEFAULT_STEP_CONFIG["retries"], **dict(given.get("retries") or {})}
    return JsObject(
        retries=JsObject(retries), timeout=given.get("timeout", DEFAULT_STEP_CONFIG["timeout"])
    )


def _clone(value: Any) -> Any:
    """What the engine keeps of a value (a structured clone of what JS received): data as
    it is, and any other Python object (a ``set``, an exception) as an empty object."""
    if value is None or isinstance(value, str | bool | int | float | JsDate | JsException):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return JsObject({str(k): _clone(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return JsArray(_clone(v) for v in value)
    return JsObject()


def _size_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return "x" * len(bytes(value))
    return {}


def _check_size(value: Any, what: str) -> None:
    # STRICTER: the platform documents 1 MiB for a step's result, an instance's params and
    # an event's payload; the local engine does not enforce it.
    text = json.dumps(
        _clone(value), separators=(",", ":"), ensure_ascii=False, default=_size_default
    )
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise js_error(
            "WorkflowInternalError", f"{what} is too large. Maximum allowed size is 1MiB."
        )


class FakeWorkflowInstance:
    """An instance handle as the SDK wraps it (``_WorkflowInstanceWrapper``)."""

    def __init__(self, engine: FakeWorkflows, instance_id: str) -> None:
        self._engine = engine
        self.id = instance_id

    async def status(self) -> Any:
        self._engine._binding_call()
        await asyncio.sleep(0)
        return from_rpc(self._engine._status(self._engine._get(self.id)))

    async def send_event(self, event: Any) -> None:
        self._engine._binding_call()
        await asyncio.sleep(0)
        self._engine._send_event(self._engine._get(self.id), to_rpc(event))

    async def terminate(self) -> None:
        self._engine._binding_call()
        await self._engine._terminate(self._engine._get(self.id))

    async def pause(self) -> None:
        raise js_error("Error", "pause is not supported by the fake")

    async def resume(self) -> None:
        raise js_error("Error", "resume is not supported by the fake")

    async def restart(self) -> None:
        raise js_error("Error", "restart is not supported by the fake")


class FakeWorkflowBinding:
    """``env.<WORKFLOW>`` as the SDK wraps it (``_WorkflowBindingWrapper``)."""

    def __init__(self, engine: FakeWorkflows) -> None:
        self._engine = engine

    async def create(self, options: Any = None) -> FakeWorkflowInstance:
        self._engine._binding_call()
        instance_id = self._engine._create(to_rpc(options))
        await asyncio.sleep(0)
        return FakeWorkflowInstance(self._engine, instance_id)

    async def create_batch(self, batch: list[Any]) -> list[FakeWorkflowInstance]:
        if len(batch) > 100:
            raise js_error("Error", "(batch.too_large) createBatch takes at most 100 instances")
        return [await self.create(options) for options in batch]

    async def get(self, instance_id: str) -> FakeWorkflowInstance:
        self._engine._binding_call()
        await asyncio.sleep(0)
        self._engine._get(instance_id)
        return FakeWorkflowInstance(self._engine, instance_id)
