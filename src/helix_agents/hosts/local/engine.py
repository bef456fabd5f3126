"""The local step engine: Cloudflare Workflows semantics, journaled in SQLite.

The journal is a file of its own, or (the local host) tables in a file it shares with the
store and the stream log, given as that file's :class:`SQLiteDatabase`::

    engine = LocalEngine(".helix/engine.db")
    engine.register("agent", agent_workflow)      # async def agent_workflow(event, step)
    await engine.start()                          # resumes every unfinished instance
    launcher = engine.workflow("agent")           # the Launcher port
    await launcher.create("s_1--t1", {"...": 1})
    status = await engine.wait("s_1--t1")

Instances run as asyncio tasks of this process. A workflow function is called with
Workflows' ``event`` dict (``payload``, ``timestamp``, ``instanceId``, ``workflowName``)
and a Step (:class:`.engine_step.InstanceRun`); it is simply called again from the top
after a restart, and the journal answers the steps it already took. See ``docs/engine.md``
for the semantics and what survives a crash.

A full disk is survived the same way, without a restart: a run whose write fails for lack
of storage stops where it is, and its instance is replayed from the journal after a
backoff (``storage_retry``), again and again until writes succeed. The failures go to a
:class:`~.storage.StorageMonitor`, which logs one line per outage.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...db.sqlite import SQLiteDatabase
from ...error_codec import error_summary
from ...errors import (
    ConfigurationError,
    InstanceExistsError,
    InstanceNotFoundError,
    StepError,
    StepTimeoutError,
    StorageUnavailableError,
)
from ...ids import validate_instance_id
from ...ports.launcher import InstanceState, InstanceStatus
from ...ports.step import Step
from ...workflow_rules import (
    encode_payload,
    encode_result,
    validate_event_type,
    validate_workflow_name,
)
from .engine_clock import Clock, SleepFn, Timers
from .engine_journal import InstanceRow, Journal, StepRow
from .engine_step import InstanceRun
from .storage import StorageMonitor

__all__ = ["FINAL_STATES", "LocalEngine", "LocalLauncher", "WorkflowFn", "current_instance"]

WorkflowFn = Callable[[dict[str, Any], Step], Awaitable[Any]]

_log = logging.getLogger(__name__)

FINAL_STATES: frozenset[str] = frozenset({"complete", "errored", "terminated"})

#: The instance whose task is running (inherited by the tasks it starts): lets terminate()
#: avoid awaiting the very task it is called from.
_current_instance: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "helix_engine_instance", default=None
)


def current_instance() -> str | None:
    """The instance whose run (or a task it started) is calling, or None outside any."""
    return _current_instance.get()


class LocalEngine:
    """Runs workflow instances durably in this process. See the module docstring."""

    def __init__(
        self,
        path: str | Path | SQLiteDatabase,
        *,
        clock: Clock | None = None,
        sleep: SleepFn | None = None,
        storage: StorageMonitor | None = None,
        storage_retry: tuple[float, float] = (0.25, 4.0),
    ) -> None:
        self.journal = Journal(path)
        self.path = Path(self.journal.path)
        self.timers = Timers(clock, sleep)
        self.storage = storage or StorageMonitor()
        #: Real seconds before a run stopped by a full disk is replayed: the first delay,
        #: doubled after each failure up to the second.
        self.storage_retry = storage_retry
        self._workflows: dict[str, WorkflowFn] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._runs: dict[str, InstanceRun] = {}
        self._finished: dict[str, list[asyncio.Future[InstanceStatus]]] = {}
        self._waiters: dict[tuple[str, str], list[tuple[asyncio.Future[str | None], StepRow]]] = {}
        self._started = False
        self._closed = False

    # -- set-up ------------------------------------------------------------------------------

    def register(self, workflow: str, fn: WorkflowFn) -> None:
        """Register (or replace) the function of ``workflow``. Registered after start, its
        unfinished instances are resumed at once."""
        validate_workflow_name(workflow)
        if not callable(fn):
            raise ConfigurationError(f"workflow {workflow!r} must be an async function")
        self._workflows[workflow] = fn
        if self._started:
            self._resume(only=workflow)

    def workflow(self, workflow: str) -> LocalLauncher:
        """The Launcher of ``workflow`` (its Workflow binding)."""
        validate_workflow_name(workflow)
        return LocalLauncher(self, workflow)

    async def start(self) -> None:
        """Resume every queued, running or waiting instance of a registered workflow."""
        self._check_open()
        if self._started:
            return
        self._started = True
        self._resume(only=None)

    async def close(self) -> None:
        """Cancel the running instances (they stay resumable) and close the journal."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for futures in self._finished.values():
            for future in futures:
                if not future.done():
                    future.set_exception(StepError("the engine was closed"))
        self._finished.clear()
        self.journal.close()

    async def __aenter__(self) -> LocalEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- instances ---------------------------------------------------------------------------

    async def create(self, workflow: str, instance_id: str, params: Any) -> None:
        self._check_open()
        validate_instance_id(instance_id)
        if workflow not in self._workflows:
            raise ConfigurationError(f"no workflow named {workflow!r} is registered")
        text = encode_payload(params, f"the params of instance {instance_id!r}")
        now = self.timers.now()
        row = InstanceRow(instance_id, workflow, text, "queued", None, None, now, now)
        if not self.journal.insert_instance(row):
            raise InstanceExistsError(
                f"instance {instance_id!r} already exists: instance ids are write-once"
            )
        if self._started:
            self._launch(instance_id, workflow)

    async def status(self, instance_id: str, workflow: str | None = None) -> InstanceStatus:
        row = self.journal.get_instance(instance_id)
        if row is None or (workflow is not None and row.workflow != workflow):
            return InstanceStatus("unknown")
        return _status_of(row)

    async def send_event(self, instance_id: str, event_type: str, payload: Any = None) -> None:
        self._check_open()
        validate_event_type(event_type)
        row = self.journal.get_instance(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"no instance {instance_id!r}")
        if row.status in FINAL_STATES:
            raise StepError(
                f"instance {instance_id!r} is {row.status}: it can no longer receive events"
            )
        text = encode_payload(payload, f"the payload of event {event_type!r}")
        now = self.timers.now()
        with self.journal.transaction():
            seq = self.journal.insert_event(instance_id, event_type, text, now)
            delivered = self._deliver(instance_id, event_type, seq, text, now)
        if delivered is not None:
            future, result = delivered
            future.set_result(result)

    async def terminate(self, instance_id: str) -> None:
        self._check_open()
        row = self.journal.get_instance(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"no instance {instance_id!r}")
        if row.status in FINAL_STATES or not self.journal.finish_instance(
            instance_id, "terminated", self.timers.now()
        ):
            raise StepError(
                f"cannot terminate instance {instance_id!r}: it is already {row.status}"
            )
        task = self._tasks.get(instance_id)
        if task is not None:
            task.cancel()
            if _current_instance.get() != instance_id:
                await asyncio.gather(task, return_exceptions=True)
        self._notify_finished(instance_id)

    async def wait(self, instance_id: str, timeout: float | None = None) -> InstanceStatus:
        """Wait until the instance is complete, errored or terminated; ``timeout`` in real
        seconds (StepTimeoutError when it runs out)."""
        row = self.journal.get_instance(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"no instance {instance_id!r}")
        if row.status in FINAL_STATES:
            return _status_of(row)
        self._check_open()
        future: asyncio.Future[InstanceStatus] = asyncio.get_running_loop().create_future()
        self._finished.setdefault(instance_id, []).append(future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise StepTimeoutError(
                f"instance {instance_id!r} did not finish within {timeout} seconds"
            ) from None
        finally:
            futures = self._finished.get(instance_id)
            if futures and future in futures:
                futures.remove(future)

    # -- running -----------------------------------------------------------------------------

    def _resume(self, only: str | None) -> None:
        for instance_id, workflow in self.journal.unfinished_instances():
            if (only is None or workflow == only) and workflow in self._workflows:
                self._launch(instance_id, workflow)

    def _launch(self, instance_id: str, workflow: str) -> None:
        if instance_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(
            self._run(instance_id, self._workflows[workflow]), name=f"helix-engine:{instance_id}"
        )
        self._tasks[instance_id] = task

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.pop(instance_id, None)
            # The workflow's own errors end the instance errored inside _run; what gets
            # here is the engine failing (its journal, most likely): say so, loudly.
            if not t.cancelled() and t.exception() is not None:
                _log.error(
                    "the engine failed while running instance %r; it stays resumable",
                    instance_id,
                    exc_info=t.exception(),
                )

        task.add_done_callback(done)

    async def _run(self, instance_id: str, fn: WorkflowFn) -> None:
        _current_instance.set(instance_id)
        failures = 0
        try:
            while True:
                try:
                    await self._run_once(instance_id, fn)
                    return
                except StorageUnavailableError:
                    # As after a crash, but in-process: replay from the journal, once the
                    # disk takes writes again (each replay is the probe).
                    failures = failures + 1 if self.storage.unavailable else 1
                    first, cap = self.storage_retry
                    await asyncio.sleep(min(first * 2 ** (failures - 1), cap))
        finally:
            self.storage.forget(instance_id)

    async def _run_once(self, instance_id: str, fn: WorkflowFn) -> None:
        run: InstanceRun | None = None
        try:
            row = self.journal.get_instance(instance_id)
            if row is None or row.status in FINAL_STATES:
                return
            # An instance found running was cut short (a crash, a full disk): its first new
            # claim goes to disk before the step runs (Journal), so a step that kills the
            # process each time is counted.
            run = InstanceRun(
                self,
                instance_id,
                self.journal.load_steps(instance_id),
                recovering=row.status == "running",
            )
            self._runs[instance_id] = run
            await self._play(row, run, fn)
        except StorageUnavailableError as exc:
            if run is None or exc is not run.storage_failure:  # the run reported its own
                self.storage.pause(instance_id, exc)
            raise
        finally:
            self._runs.pop(instance_id, None)

    async def _play(self, row: InstanceRow, run: InstanceRun, fn: WorkflowFn) -> None:
        instance_id = row.id
        if row.status != "running":
            self.journal.set_status(instance_id, "running", self.timers.now())
        event = {
            "payload": json.loads(row.params),
            "timestamp": datetime.fromtimestamp(row.created_at / 1000.0, UTC),
            "instanceId": instance_id,
            "workflowName": row.workflow,
        }
        try:
            output = await fn(event, run)
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            raise
        except BaseException as exc:
            lost = run.storage_failure or (
                exc if isinstance(exc, StorageUnavailableError) else None
            )
            if lost is not None:
                await run.settle()
                raise lost from None
            self._finish(instance_id, error=run.poison or exc)
        else:
            if run.storage_failure is not None:  # the workflow swallowed it: still a pause
                await run.settle()
                raise run.storage_failure from None
            if run.poison is not None:
                self._finish(instance_id, error=run.poison)
            else:
                try:
                    text = encode_result(output, f"the output of instance {instance_id!r}")
                except StepError as exc:
                    self._finish(instance_id, error=exc)
                else:
                    self._finish(instance_id, output=text)

    def _finish(
        self, instance_id: str, *, output: str | None = None, error: BaseException | None = None
    ) -> None:
        now = self.timers.now()
        if error is not None:
            summary = json.dumps(error_summary(error))
            self.journal.finish_instance(instance_id, "errored", now, error=summary)
        else:
            self.journal.finish_instance(instance_id, "complete", now, output=output)
        self._notify_finished(instance_id)

    def _notify_finished(self, instance_id: str) -> None:
        futures = self._finished.pop(instance_id, None)
        if not futures:
            return
        row = self.journal.get_instance(instance_id)
        status = _status_of(row) if row is not None else InstanceStatus("unknown")
        for future in futures:
            if not future.done():
                future.set_result(status)

    # -- what a run needs (EngineHost) -------------------------------------------------------

    def set_run_status(self, instance_id: str, status: str) -> None:
        # Only while the instance is live: a terminated instance keeps its final status.
        if instance_id in self._runs:
            self.journal.set_status(instance_id, status, self.timers.now())

    def take_event(self, instance_id: str, step: StepRow) -> str | None:
        """Hand the oldest buffered event of the step's type to it, atomically with the
        step's completion; its result text, or None if no event is buffered."""
        event_type = step.detail or ""
        with self.journal.transaction():
            found = self.journal.oldest_pending_event(instance_id, event_type)
            if found is None:
                return None
            seq, payload, sent_at = found
            result = _event_text(event_type, payload, sent_at)
            self._complete_wait(instance_id, step, seq, result)
        return result

    def add_waiter(
        self, instance_id: str, event_type: str, step: StepRow
    ) -> asyncio.Future[str | None]:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((instance_id, event_type), []).append((future, step))
        return future

    def remove_waiter(self, instance_id: str, event_type: str, future: asyncio.Future[Any]) -> None:
        key = (instance_id, event_type)
        waiters = self._waiters.get(key)
        if waiters:
            waiters[:] = [w for w in waiters if w[0] is not future]
            if not waiters:
                del self._waiters[key]

    def _deliver(
        self, instance_id: str, event_type: str, seq: int, payload: str, now: int
    ) -> tuple[asyncio.Future[str | None], str] | None:
        """Inside send_event's transaction: give the event to the first live waiter."""
        for future, step in self._waiters.get((instance_id, event_type), ()):
            if not future.done():
                result = _event_text(event_type, payload, now)
                self._complete_wait(instance_id, step, seq, result)
                return future, result
        return None

    def _complete_wait(self, instance_id: str, step: StepRow, seq: int, result: str) -> None:
        self.journal.consume_event(seq, step.name)
        self.journal.update_step(
            instance_id,
            step.name,
            self.timers.now(),
            status="complete",
            attempts=0,
            result=result,
            wake_at=step.wake_at,
        )
        step.status, step.result = "complete", result

    def _check_open(self) -> None:
        if self._closed:
            raise StepError("the engine is closed")


class LocalLauncher:
    """The Launcher port over a :class:`LocalEngine`, for one workflow."""

    def __init__(self, engine: LocalEngine, workflow: str) -> None:
        self.engine = engine
        self.workflow = workflow

    async def create(self, instance_id: str, params: dict[str, Any]) -> None:
        await self.engine.create(self.workflow, instance_id, params)

    async def status(self, instance_id: str) -> InstanceStatus:
        return await self.engine.status(instance_id, self.workflow)

    async def send_event(self, instance_id: str, event_type: str, payload: Any = None) -> None:
        await self._check(instance_id)
        await self.engine.send_event(instance_id, event_type, payload)

    async def terminate(self, instance_id: str) -> None:
        await self._check(instance_id)
        await self.engine.terminate(instance_id)

    async def _check(self, instance_id: str) -> None:
        if (await self.status(instance_id)).status == "unknown":
            raise InstanceNotFoundError(
                f"no instance {instance_id!r} of workflow {self.workflow!r}"
            )


def _status_of(row: InstanceRow) -> InstanceStatus:
    state: InstanceState = row.status  # type: ignore[assignment]
    output = json.loads(row.output) if row.output is not None else None
    error = json.loads(row.error) if row.error is not None else None
    return InstanceStatus(state, output=output, error=error)


def _event_text(event_type: str, payload: str, sent_at: int) -> str:
    return f'{{"type":{json.dumps(event_type)},"payload":{payload},"timestamp":{sent_at}}}'
