"""The Step port for one run of one instance: replay from the journal, then carry on.

Every call (``do``, ``sleep``, ``wait_for_event``) first *claims* its step: synchronously,
before any await, it takes the next ordinal and checks the journal. So steps started
together with ``asyncio.gather`` get their ordinals in the order they were started, and a
replay that asks for another step than the journal recorded at that ordinal is caught
there (NonDeterminismError). Once that happened the run is poisoned: every later call
raises the same error and the instance ends ``errored`` whatever the workflow does.

The journal row of a step is written at its claim (held for the file's next transaction,
at most a few milliseconds: ``Journal.hold_claim``), so ordinals in the journal are dense
and a crash mid-attempt is visible on replay: the attempt is counted and the next one
gets a new number (a stream can tell a superseded attempt from a new one).

A full or failing disk (:class:`~helix_agents.errors.StorageUnavailableError`, from the
journal or from a step's own writes) is not the step's failure: nothing is recorded, no
retry is counted, and the run stops where it is as if the process had crashed there
(``storage_failure`` is set, and every later step call raises it). The engine then lets
the run's steps in flight settle and replays the instance from the journal once writes
succeed again (``LocalEngine._run``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ...durations import DurationLike, format_duration
from ...error_codec import decode_error, encode_error, is_retryable
from ...errors import (
    NonDeterminismError,
    StepError,
    StepTimeoutError,
    StorageUnavailableError,
)
from ...ports.step import JSONValue, StepConfig, StepContext, StepFn
from ...workflow_rules import (
    ResolvedStepConfig,
    claim_step_name,
    encode_result,
    resolve_step_config,
    validate_event_type,
    validate_wait,
)
from .engine_journal import StepRow

if TYPE_CHECKING:
    from .engine_clock import Timers
    from .engine_journal import Journal
    from .storage import StorageMonitor

__all__ = ["EngineHost", "InstanceRun", "event_result", "run_attempt"]

_FATAL = (KeyboardInterrupt, SystemExit, asyncio.CancelledError)

T = TypeVar("T")


class EngineHost(Protocol):
    """What a run needs from its engine."""

    journal: Journal
    timers: Timers
    storage: StorageMonitor
    storage_retry: tuple[float, float]

    def set_run_status(self, instance_id: str, status: str) -> None: ...

    def take_event(self, instance_id: str, step: StepRow) -> str | None: ...

    def add_waiter(
        self, instance_id: str, event_type: str, step: StepRow
    ) -> asyncio.Future[str | None]: ...

    def remove_waiter(
        self, instance_id: str, event_type: str, future: asyncio.Future[Any]
    ) -> None: ...


class InstanceRun:
    """The Step handed to one run of a workflow function (a fresh one for every replay)."""

    def __init__(
        self,
        host: EngineHost,
        instance_id: str,
        journal: list[StepRow],
        *,
        recovering: bool = False,
    ) -> None:
        self._host = host
        #: Whether a new step's claim may wait for the file's next transaction (Journal);
        #: a recovering instance writes its first one at once, and during a storage outage
        #: every claim is written at once (it fails, and the step does not start).
        self._hold_claims = not recovering
        self.instance_id = instance_id
        self._by_name = {row.name: row for row in journal}
        self._by_ordinal = {row.ordinal: row.name for row in journal}
        self._next_ordinal = 0
        self._claimed: set[str] = set()
        self._busy = 0  # do() calls in flight
        self._waiting = 0  # sleep() / wait_for_event() calls in flight
        self._status = "running"
        #: Set once a replay diverged from the journal: the run can only end errored.
        self.poison: NonDeterminismError | None = None
        #: Set once a write failed for lack of storage: the run stops and is replayed.
        self.storage_failure: StorageUnavailableError | None = None
        self._parked: set[asyncio.Task[Any]] = set()  # tasks in a sleep, wait or retry delay
        self._idle = asyncio.Event()
        self._idle.set()

    # -- the Step port -----------------------------------------------------------------------

    async def do(self, name: str, fn: StepFn, config: StepConfig | None = None) -> JSONValue:
        resolved = resolve_step_config(config)
        row = self._claim(name, "do")
        if row.status == "complete":
            return json.loads(row.result or "null")
        if row.status == "errored":
            raise decode_error(json.loads(row.result or "{}"))
        journal, timers = self._host.journal, self._host.timers
        self._enter(busy=True)
        try:
            if row.attempts == 0:  # claimed just now: its row is being written
                row.attempts = 1  # (a failed write poisons the run: its rows are dropped)
                if self._hold_claims and not self._host.storage.unavailable:
                    journal.hold_claim(self.instance_id, row, timers.now())
                else:
                    self._hold_claims = True
                    self._write(journal.insert_step, self.instance_id, row, timers.now())
            else:  # resumed after a restart, mid-retry or mid-attempt
                if row.status == "retrying" and row.wake_at is not None:
                    await self._park(timers.sleep_until(row.wake_at))
                attempts = row.attempts + 1
                self._write(
                    journal.update_step,
                    self.instance_id,
                    name,
                    timers.now(),
                    status="running",
                    attempts=attempts,
                )
                row.attempts, row.status = attempts, "running"
            return await self._attempts(row, fn, resolved)
        finally:
            self._leave(busy=True)

    async def sleep(self, name: str, duration: DurationLike) -> None:
        ms = validate_wait(duration, f"sleep {name!r} duration")
        row = self._claim(name, "sleep")
        if row.status == "complete":
            return
        timers, journal = self._host.timers, self._host.journal
        if row.wake_at is None:
            row.wake_at = int(timers.clock() + ms)
            row.status = "waiting"
            self._write(journal.insert_step, self.instance_id, row, timers.now())
        wake_at = row.wake_at
        self._enter(busy=False)
        try:
            await self._park(timers.sleep_until(wake_at))
        finally:
            self._leave(busy=False)
        self._write(
            journal.update_step,
            self.instance_id,
            name,
            timers.now(),
            status="complete",
            attempts=0,
            wake_at=wake_at,
        )
        row.status = "complete"

    async def wait_for_event(
        self, name: str, event_type: str, timeout: DurationLike = "24 hours"
    ) -> dict[str, Any]:
        validate_event_type(event_type)
        ms = validate_wait(timeout, f"wait_for_event {name!r} timeout")
        row = self._claim(name, "wait", detail=event_type)
        if row.status == "complete":
            return event_result(row.result)
        if row.status == "errored":
            raise decode_error(json.loads(row.result or "{}"))
        host, timers = self._host, self._host.timers
        if row.wake_at is None:
            row.wake_at = int(timers.clock() + ms)
            row.status = "waiting"
            self._write(host.journal.insert_step, self.instance_id, row, timers.now())
        delivered = self._write(host.take_event, self.instance_id, row)
        if delivered is not None:
            return event_result(delivered)
        future = host.add_waiter(self.instance_id, event_type, row)

        def time_out() -> None:
            if not future.done():
                future.set_result(None)

        timer = timers.call_later(row.wake_at - timers.clock(), time_out)
        self._enter(busy=False)
        try:
            delivered = await self._park(future)
        finally:
            timer.cancel()
            host.remove_waiter(self.instance_id, event_type, future)
            self._leave(busy=False)
        if delivered is not None:
            return event_result(delivered)
        error = StepTimeoutError(
            f"wait_for_event {name!r} timed out after {format_duration(ms)} "
            f"without a {event_type!r} event"
        )
        self._record_failure(row, error)
        raise decode_error(encode_error(error))

    # -- internals ---------------------------------------------------------------------------

    def _claim(self, name: str, kind: str, detail: str | None = None) -> StepRow:
        """Take the next ordinal for ``name`` and check the journal (synchronous)."""
        if self.poison is not None:
            raise self.poison
        if self.storage_failure is not None:
            raise self.storage_failure
        claim_step_name(self._claimed, name, f"instance {self.instance_id!r}")
        ordinal = self._next_ordinal
        self._next_ordinal += 1
        recorded = self._by_ordinal.get(ordinal)
        if recorded is not None and recorded != name:
            self._diverged(
                f"replay asked for step {name!r} at position {ordinal}, "
                f"but the journal recorded step {recorded!r} there"
            )
        row = self._by_name.get(name)
        if row is None:
            row = StepRow(name, ordinal, kind, "running", None, 0, None, detail)
            self._by_name[name] = row
            self._by_ordinal[ordinal] = name
            return row
        if row.ordinal != ordinal:
            self._diverged(
                f"replay asked for step {name!r} at position {ordinal}, "
                f"but the journal recorded it at position {row.ordinal}"
            )
        if row.kind != kind or row.detail != detail:
            self._diverged(
                f"replay asked for {_describe(kind, detail)} {name!r}, "
                f"but the journal recorded {_describe(row.kind, row.detail)} under that name"
            )
        return row

    def _diverged(self, detail: str) -> None:
        self.poison = NonDeterminismError(
            f"instance {self.instance_id!r} is not deterministic: {detail}. Code between "
            "steps must not depend on the clock, randomness or I/O, and the workflow's code "
            "must not change while instances are in flight."
        )
        raise self.poison

    async def _attempts(self, row: StepRow, fn: StepFn, config: ResolvedStepConfig) -> JSONValue:
        host, timers = self._host, self._host.timers
        while True:
            try:
                value = await run_attempt(timers, fn, StepContext(row.name, row.attempts), config)
            except _FATAL:
                raise
            except BaseException as exc:
                if isinstance(exc, StorageUnavailableError):
                    # The disk, not the step: nothing recorded, no retry counted.
                    self._storage_lost(exc)
                if self.storage_failure is not None:  # the run stops here; replayed later
                    raise
                if not is_retryable(exc) or row.attempts > config.limit:
                    self._record_failure(row, exc)
                    raise decode_error(encode_error(exc)) from exc
                due = timers.clock() + config.retry_delay_ms(row.attempts)
                error_text = json.dumps(encode_error(exc))
                self._write(
                    host.journal.update_step,
                    self.instance_id,
                    row.name,
                    timers.now(),
                    status="retrying",
                    attempts=row.attempts,
                    result=error_text,
                    wake_at=int(due),
                )
                row.status, row.wake_at = "retrying", int(due)
                await self._park(timers.sleep_until(due))
                attempts = row.attempts + 1
                self._write(
                    host.journal.update_step,
                    self.instance_id,
                    row.name,
                    timers.now(),
                    status="running",
                    attempts=attempts,
                )
                row.attempts = attempts
                row.status, row.wake_at = "running", None
                continue
            try:
                text = encode_result(value, f"the result of step {row.name!r}")
            except StepError as exc:  # not JSON, or too large: retrying would not help
                self._record_failure(row, exc)
                raise decode_error(encode_error(exc)) from None
            # Journal right after fn returned: the window in which a crash makes a completed
            # side effect run again is this one statement.
            await self._keep_result(row, text)
            row.status, row.result = "complete", text
            self._host.storage.progressed(self.instance_id)
            return json.loads(text)

    def _record_failure(self, row: StepRow, exc: BaseException) -> None:
        text = json.dumps(encode_error(exc))
        self._write(
            self._host.journal.update_step,
            self.instance_id,
            row.name,
            self._host.timers.now(),
            status="errored",
            attempts=row.attempts,
            result=text,
            wake_at=row.wake_at,
        )
        row.status, row.result = "errored", text

    # -- a full disk -------------------------------------------------------------------------

    async def _keep_result(self, row: StepRow, text: str) -> None:
        """Journal a completed attempt's result. On a full disk the result is held here and
        written once there is room (backing off): the work is done, doing it again on a
        replay would repeat its side effects. Not parked: :meth:`settle` waits for it.

        While the disk is healthy the result is held for the journal's next write (the next
        step's claim carries it: ``Journal.hold_result``); during an outage it is written
        here, at once, and the step waits until it is."""
        host, failures = self._host, 0
        if not host.storage.unavailable:
            host.journal.hold_result(self.instance_id, row, host.timers.now(), result=text)
            return
        while True:
            try:
                host.journal.update_step(
                    self.instance_id,
                    row.name,
                    host.timers.now(),
                    status="complete",
                    attempts=row.attempts,
                    result=text,
                )
                return
            except StorageUnavailableError as exc:
                failures += 1
                host.storage.pause(self.instance_id, exc)
                first, cap = host.storage_retry
                await asyncio.sleep(min(first * 2 ** (failures - 1), cap))

    def _write(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``write(*args, **kwargs)``, a journal write; a storage failure stops the run (and
        is raised)."""
        try:
            return write(*args, **kwargs)
        except StorageUnavailableError as exc:
            self._storage_lost(exc)
            raise

    def _storage_lost(self, exc: StorageUnavailableError) -> None:
        if self.storage_failure is None:
            self.storage_failure = exc
            self._host.storage.pause(self.instance_id, exc)

    async def _park(self, awaitable: Awaitable[T]) -> T:
        """Await a sleep, a wait or a retry delay, cancellable by :meth:`settle`."""
        task = asyncio.current_task()
        if task is not None:
            self._parked.add(task)
        try:
            return await awaitable
        finally:
            if task is not None:
                self._parked.discard(task)

    async def settle(self) -> None:
        """After a storage failure stopped the run: cancel its sleeps and waits (they are
        durable, the replay resumes them) and let its attempts in flight end (an attempt
        that completes gets journaled if it can), so that no step of this run is still
        going when the engine replays the instance."""
        while self._busy or self._waiting:
            for task in list(self._parked):
                if task is not asyncio.current_task():
                    task.cancel()
            self._idle.clear()
            await self._idle.wait()

    def _enter(self, *, busy: bool) -> None:
        if busy:
            self._busy += 1
        else:
            self._waiting += 1
            # Waiting for a deadline or an event, the run writes nothing: it tells nothing
            # more of the disk (the monitor's own probe may, now).
            self._host.storage.forget(self.instance_id)
        self._sync_status()

    def _leave(self, *, busy: bool) -> None:
        if busy:
            self._busy -= 1
        else:
            self._waiting -= 1
        if not self._busy and not self._waiting:
            self._idle.set()
        self._sync_status()

    def _sync_status(self) -> None:
        """``waiting`` while the run only sleeps or waits for events; written on change only."""
        status = "waiting" if self._waiting and not self._busy else "running"
        if status != self._status:
            self._status = status
            try:
                self._host.set_run_status(self.instance_id, status)
            except StorageUnavailableError as exc:
                # Called from finally blocks: stop the run, but never mask what is raised.
                self._storage_lost(exc)


async def run_attempt(
    timers: Timers, fn: StepFn, ctx: StepContext, config: ResolvedStepConfig
) -> Any:
    """Run one attempt of ``fn``, cancelled if it outlives the timeout.

    The attempt runs in the run's own task, not in one of its own: a task per durable step
    (its creation, its context copy, the loop turns to start it and to resume the run)
    cost about a sixth of an agent step (docs/benchmarks.md). The timeout cancels the run's
    task the way ``asyncio.timeout`` does, and takes its cancellation back when it turns it
    into the step's timeout; a cancellation from elsewhere (the instance terminated, the
    host closing) still goes through. Context variables the attempt sets are the run's:
    a body that sets one without resetting it leaves it set for the run's later steps."""
    result: Any = fn(ctx)
    # A coroutine (an async body: every agent step) is known by its exact type first;
    # inspect.isawaitable's checks are for the other awaitables.
    if type(result) is not CoroutineType and not inspect.isawaitable(result):
        # A plain function: nothing to time out.
        return result
    task = asyncio.current_task()
    assert task is not None, "a step runs in a task"
    # Cancellations already requested of the run's task, not ours to take back.
    cancelling = task.cancelling()

    def time_out() -> None:
        task.cancel()

    timer = timers.call_later(config.timeout_ms, time_out)
    try:
        value = await result
    except asyncio.CancelledError:
        if timer.fired and task.uncancel() <= cancelling:
            raise _timeout(ctx, config) from None
        raise
    finally:
        timer.cancel()
    if timer.fired:  # fn swallowed the cancellation: its late value does not count
        task.uncancel()
        raise _timeout(ctx, config)
    return value


def _timeout(ctx: StepContext, config: ResolvedStepConfig) -> StepTimeoutError:
    return StepTimeoutError(
        f"attempt {ctx.attempt} of step {ctx.name!r} timed out after "
        f"{format_duration(config.timeout_ms)}"
    )


def event_result(text: str | None) -> dict[str, Any]:
    """A received event as ``wait_for_event`` returns it: ``{type, payload, timestamp}``,
    the timestamp as an aware UTC datetime (Workflows hands Python a datetime)."""
    data = json.loads(text or "{}")
    return {
        "type": data.get("type"),
        "payload": data.get("payload"),
        "timestamp": datetime.fromtimestamp(data.get("timestamp", 0) / 1000.0, UTC),
    }


def _describe(kind: str, detail: str | None) -> str:
    if kind == "wait":
        return f"a wait_for_event({detail!r})"
    return "a sleep" if kind == "sleep" else "a step.do"
