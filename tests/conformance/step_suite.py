"""The conformance suite of the Step and Launcher ports (Cloudflare Workflows semantics).

Every implementation — the local engine, and the fake of Cloudflare Workflows that the
Cloudflare host is tested against — runs these same tests. To run them, subclass
:class:`StepSuite` in a test module and provide a ``harness`` fixture that yields a
:class:`StepHarness`::

    class TestLocalEngine(StepSuite):
        @pytest.fixture
        async def harness(self, tmp_path): ...

Time is fake: an implementation must read the clock and sleep through the harness's
:class:`ManualClock`, so that a "10 seconds" sleep or a 10-minute attempt timeout costs no
real time and the tests can check deadlines exactly (no timing assertions).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import pytest

from helix_agents.errors import (
    ConfigurationError,
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidIdError,
    ModelHTTPError,
    ModelNotConfiguredError,
    NonDeterminismError,
    NonRetryableError,
    StepError,
    StepResultTooLargeError,
    StepTimeoutError,
    ToolError,
    ValueTooLargeError,
)
from helix_agents.ports.launcher import InstanceStatus, Launcher
from helix_agents.ports.step import Step, StepContext

__all__ = ["T0", "ManualClock", "StepHarness", "StepSuite", "WorkflowFn"]

WorkflowFn = Callable[[dict[str, Any], Step], Awaitable[Any]]
T = TypeVar("T")

#: Where fake time starts (2026-01-01T00:00:00Z), in ms.
T0 = 1_767_225_600_000.0
#: A guard on real time, so a broken implementation fails a test instead of hanging it.
GUARD_SECONDS = 10.0
WF = "wf"


class ManualClock:
    """Fake time. ``clock()`` reads it (ms), ``sleep(seconds)`` waits until :meth:`advance`
    moves the time past the deadline. :meth:`wait_for_sleeper` waits, without polling,
    until something sleeps until a given deadline: how a test knows an instance has
    reached a sleep, a retry delay or a wait_for_event."""

    def __init__(self, start_ms: float = T0) -> None:
        self.now = start_ms
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()
        self._changed = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        deadline = round(self.now + seconds * 1000.0, 3)
        if deadline <= self.now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._counter), future))
        self._changed.set()
        self._changed = asyncio.Event()
        await future

    def deadlines(self) -> list[float]:
        return sorted(d for d, _, f in self._sleepers if not f.done())

    async def advance(self, ms: float) -> None:
        """Move time forward by ``ms`` and wake every sleeper that is due."""
        self.now += ms
        while self._sleepers and self._sleepers[0][0] <= self.now + 1e-6:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        await asyncio.sleep(0)

    async def wait_for_sleeper(self, at: float) -> None:
        """Until something sleeps until ``at`` (ms, within 1 ms)."""

        async def wait() -> None:
            while not any(abs(d - at) < 1.0 for d in self.deadlines()):
                await self._changed.wait()

        await guard(wait(), f"nothing ever slept until T0+{at - T0:g} ms")


class StepHarness(Protocol):
    """What the suite needs from an implementation of the Step and Launcher ports."""

    clock: ManualClock

    def register(self, workflow: str, fn: WorkflowFn) -> None:
        """Register ``fn`` under ``workflow``, now and after every :meth:`restart`."""

    def launcher(self, workflow: str) -> Launcher:
        """The Launcher of ``workflow`` on the current engine."""

    async def restart(self) -> None:
        """Stop the engine as a crash would (no goodbye writes) and start a new one over the
        same storage and the same clock, which resumes the unfinished instances."""

    async def wait(self, instance_id: str) -> InstanceStatus:
        """Until the instance is complete, errored or terminated."""


async def guard(awaitable: Awaitable[T], what: str = "the test timed out") -> T:
    try:
        async with asyncio.timeout(GUARD_SECONDS):
            return await awaitable
    except TimeoutError:
        pytest.fail(what)


class Recorder:
    """Counts step executions across restarts (the counts live in the test, not the engine)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    def attempts(self, name: str) -> list[int]:
        return [a for n, a in self.calls if n == name]

    def step(self, value: Any = None, *, fail_until: int = 0, error: Exception | None = None):  # type: ignore[no-untyped-def]
        """A step function that records its call and fails its first ``fail_until`` attempts."""

        async def fn(ctx: StepContext) -> Any:
            self.calls.append((ctx.name, ctx.attempt))
            if ctx.attempt <= fail_until:
                raise error or RuntimeError(f"attempt {ctx.attempt} failed")
            return value

        return fn


class StepSuite:
    """Subclass this and provide a ``harness`` fixture (see the module docstring)."""

    # -- Launcher ----------------------------------------------------------------------------

    async def test_create_run_and_complete(self, harness: StepHarness) -> None:
        seen: list[dict[str, Any]] = []

        async def wf(event: dict[str, Any], step: Step) -> Any:
            seen.append(event)
            value = await step.do("double", lambda ctx: _const(event["payload"]["n"] * 2))
            return {"doubled": value}

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("inst-1", {"n": 21})
        status = await harness.wait("inst-1")
        assert status == InstanceStatus("complete", output={"doubled": 42})
        assert await launcher.status("inst-1") == status
        event = seen[0]
        assert event["payload"] == {"n": 21}
        assert event["instanceId"] == "inst-1"
        assert event["workflowName"] == WF
        assert isinstance(event["timestamp"], datetime)

    async def test_status_of_an_unknown_instance(self, harness: StepHarness) -> None:
        harness.register(WF, _noop)
        assert (await harness.launcher(WF).status("never-created")).status == "unknown"

    async def test_instance_ids_are_write_once(self, harness: StepHarness) -> None:
        harness.register(WF, _noop)
        launcher = harness.launcher(WF)
        await launcher.create("once", {})
        with pytest.raises(InstanceExistsError):
            await launcher.create("once", {})
        assert (await harness.wait("once")).status == "complete"
        with pytest.raises(InstanceExistsError):
            await launcher.create("once", {"again": True})

    @pytest.mark.parametrize("bad", ["", "a" * 101, "-leading-dash", "has space", "a/b", "é"])
    async def test_invalid_instance_ids(self, harness: StepHarness, bad: str) -> None:
        harness.register(WF, _noop)
        with pytest.raises(InvalidIdError):
            await harness.launcher(WF).create(bad, {})

    async def test_longest_valid_instance_id(self, harness: StepHarness) -> None:
        harness.register(WF, _noop)
        await harness.launcher(WF).create("_" + "a-" * 49 + "z", {})
        assert (await harness.wait("_" + "a-" * 49 + "z")).status == "complete"

    async def test_params_over_one_mib_are_refused(self, harness: StepHarness) -> None:
        harness.register(WF, _noop)
        with pytest.raises(ValueTooLargeError):
            await harness.launcher(WF).create("big", {"blob": "x" * (1024 * 1024)})
        assert (await harness.launcher(WF).status("big")).status == "unknown"

    async def test_an_error_escaping_the_workflow_errors_the_instance(
        self, harness: StepHarness
    ) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            raise RuntimeError("boom")

        harness.register(WF, wf)
        await harness.launcher(WF).create("bad", {})
        status = await harness.wait("bad")
        assert status.status == "errored"
        assert status.error == {"name": "RuntimeError", "message": "boom"}

    async def test_terminate_stops_an_instance_for_good(self, harness: StepHarness) -> None:
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.do("before", rec.step(1))
            await step.sleep("nap", "1 hour")
            await step.do("after", rec.step(2))

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("stop-me", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await launcher.terminate("stop-me")
        assert (await launcher.status("stop-me")).status == "terminated"
        assert (await harness.wait("stop-me")).status == "terminated"
        await harness.restart()
        await harness.clock.advance(3_600_000)
        assert (await harness.launcher(WF).status("stop-me")).status == "terminated"
        assert rec.count("after") == 0
        with pytest.raises(StepError):
            await harness.launcher(WF).terminate("stop-me")
        with pytest.raises(StepError):
            await harness.launcher(WF).send_event("stop-me", "go")

    async def test_unknown_instances_cannot_be_steered(self, harness: StepHarness) -> None:
        harness.register(WF, _noop)
        with pytest.raises(InstanceNotFoundError):
            await harness.launcher(WF).send_event("ghost", "go")
        with pytest.raises(InstanceNotFoundError):
            await harness.launcher(WF).terminate("ghost")

    # -- step.do: caching and replay ---------------------------------------------------------

    async def test_completed_steps_are_not_run_again_after_a_restart(
        self, harness: StepHarness
    ) -> None:
        rec = Recorder()
        seen: list[Any] = []

        async def wf(event: dict[str, Any], step: Step) -> Any:
            first = await step.do("first", rec.step({"n": 1, "items": (1, 2)}))
            seen.append(first)
            await step.wait_for_event("gate", "go", "1 hour")
            return await step.do("second", rec.step("done"))

        harness.register(WF, wf)
        await harness.launcher(WF).create("replay", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await harness.launcher(WF).send_event("replay", "go")
        assert (await harness.wait("replay")).output == "done"
        assert rec.count("first") == 1
        assert rec.count("second") == 1
        # The first run sees the JSON round trip too, so a replay sees the very same value.
        assert seen == [{"n": 1, "items": [1, 2]}] * 2

    async def test_step_names_are_unique_within_an_instance(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.do("same", lambda ctx: _const(1))
            try:
                await step.do("same", lambda ctx: _const(2))
            except StepError as exc:
                return str(exc)
            return "no error"

        harness.register(WF, wf)
        await harness.launcher(WF).create("dupe", {})
        status = await harness.wait("dupe")
        assert status.status == "complete"
        assert "same" in status.output
        assert "unique" in status.output

    async def test_a_result_that_is_not_json_fails_the_step_without_retries(
        self, harness: StepHarness
    ) -> None:
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("weird", rec.step({1, 2}), {"retries": {"limit": 3, "delay": 0}})
            except StepError as exc:
                return type(exc).__name__
            return "no error"

        harness.register(WF, wf)
        await harness.launcher(WF).create("not-json", {})
        assert (await harness.wait("not-json")).output == "StepError"
        assert rec.count("weird") == 1

    async def test_a_result_over_one_mib_fails_with_a_clear_error(
        self, harness: StepHarness
    ) -> None:
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("huge", rec.step("x" * (1024 * 1024)))
            except StepResultTooLargeError as exc:
                return str(exc)
            return "no error"

        harness.register(WF, wf)
        await harness.launcher(WF).create("too-big", {})
        message = (await harness.wait("too-big")).output
        assert "1 MiB" in message
        assert "huge" in message
        assert rec.count("huge") == 1

    async def test_a_result_of_exactly_one_mib_is_accepted(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            value = await step.do("edge", lambda ctx: _const("x" * (1024 * 1024 - 2)))
            return len(value)

        harness.register(WF, wf)
        await harness.launcher(WF).create("edge", {})
        assert (await harness.wait("edge")).output == 1024 * 1024 - 2

    # -- step.do: retries --------------------------------------------------------------------

    async def test_retries_with_one_based_attempts(self, harness: StepHarness) -> None:
        rec = Recorder()
        config = {"retries": {"limit": 2, "delay": 1000, "backoff": "constant"}}

        async def wf(event: dict[str, Any], step: Step) -> Any:
            return await step.do("flaky", rec.step("ok", fail_until=2), config)  # type: ignore[arg-type]

        harness.register(WF, wf)
        await harness.launcher(WF).create("flaky", {})
        await harness.clock.wait_for_sleeper(T0 + 1000)
        await harness.clock.advance(1000)
        await harness.clock.wait_for_sleeper(T0 + 2000)
        await harness.clock.advance(1000)
        assert (await harness.wait("flaky")).output == "ok"
        assert rec.attempts("flaky") == [1, 2, 3]

    @pytest.mark.parametrize(
        ("backoff", "waits"),
        [
            ("constant", [1000, 1000, 1000]),
            ("linear", [1000, 2000, 3000]),
            ("exponential", [1000, 2000, 4000]),
        ],
    )
    async def test_backoff(self, harness: StepHarness, backoff: str, waits: list[int]) -> None:
        rec = Recorder()
        config = {"retries": {"limit": 3, "delay": "1 second", "backoff": backoff}}

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("always-fails", rec.step(fail_until=99), config)  # type: ignore[arg-type]
            except StepError as exc:
                return str(exc)

        harness.register(WF, wf)
        await harness.launcher(WF).create("backoff", {})
        for wait in waits:
            await harness.clock.wait_for_sleeper(harness.clock.now + wait)
            await harness.clock.advance(wait)
        status = await harness.wait("backoff")
        assert status.output == "attempt 4 failed"
        assert rec.attempts("always-fails") == [1, 2, 3, 4]

    async def test_default_config_matches_workflows(self, harness: StepHarness) -> None:
        """No config: 5 retries, 10 s exponential backoff, 10 minutes per attempt."""
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("defaults", rec.step(fail_until=99))
            except StepError as exc:
                return str(exc)

        harness.register(WF, wf)
        await harness.launcher(WF).create("defaults", {})
        for wait in [10_000, 20_000, 40_000, 80_000, 160_000]:
            await harness.clock.wait_for_sleeper(harness.clock.now + wait)
            await harness.clock.advance(wait)
        assert (await harness.wait("defaults")).output == "attempt 6 failed"
        assert rec.attempts("defaults") == [1, 2, 3, 4, 5, 6]

    async def test_default_attempt_timeout_is_ten_minutes(self, harness: StepHarness) -> None:
        started = asyncio.Event()
        attempts: list[int] = []

        async def hangs(ctx: StepContext) -> Any:
            attempts.append(ctx.attempt)
            started.set()
            await asyncio.Event().wait()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("hangs", hangs, {"retries": {"limit": 0, "delay": 0}})
            except StepTimeoutError as exc:
                return type(exc).__name__

        harness.register(WF, wf)
        await harness.launcher(WF).create("slow", {})
        await guard(started.wait())
        await harness.clock.wait_for_sleeper(T0 + 600_000)
        await harness.clock.advance(600_000)
        assert (await harness.wait("slow")).output == "StepTimeoutError"
        assert attempts == [1]

    async def test_a_timed_out_attempt_is_retried(self, harness: StepHarness) -> None:
        attempts: list[int] = []

        async def slow_then_fast(ctx: StepContext) -> Any:
            attempts.append(ctx.attempt)
            if ctx.attempt == 1:
                await asyncio.Event().wait()
            return "second time lucky"

        config = {"retries": {"limit": 1, "delay": 0}, "timeout": "2 seconds"}

        async def wf(event: dict[str, Any], step: Step) -> Any:
            return await step.do("slow", slow_then_fast, config)  # type: ignore[arg-type]

        harness.register(WF, wf)
        await harness.launcher(WF).create("timeout", {})
        await harness.clock.wait_for_sleeper(T0 + 2000)
        await harness.clock.advance(2000)
        assert (await harness.wait("timeout")).output == "second time lucky"
        assert attempts == [1, 2]

    @pytest.mark.parametrize(
        ("error", "expected_type"),
        [
            (ValueError("bad value"), ValueError),
            (TypeError("bad type"), TypeError),
            (ToolError("tool said no"), ToolError),
            (KeyError("missing"), StepError),
            (RuntimeError("generic"), StepError),
        ],
    )
    async def test_the_error_type_survives_the_step_and_the_replay(
        self, harness: StepHarness, error: Exception, expected_type: type[Exception]
    ) -> None:
        rec = Recorder()
        seen: list[tuple[type[BaseException], str]] = []

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("fails", rec.step(fail_until=99, error=error), _NO_RETRY)
            except Exception as exc:
                seen.append((type(exc), str(exc)))
            await step.wait_for_event("gate", "go", "1 hour")
            return "done"

        harness.register(WF, wf)
        await harness.launcher(WF).create("errors", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await harness.launcher(WF).send_event("errors", "go")
        assert (await harness.wait("errors")).output == "done"
        assert rec.count("fails") == 1
        assert [t for t, _ in seen] == [expected_type, expected_type]
        assert seen[0][1] == seen[1][1] == str(error)

    async def test_our_errors_keep_their_attributes(self, harness: StepHarness) -> None:
        async def fails(ctx: StepContext) -> Any:
            raise ModelHTTPError("upstream said 400", status_code=400, body={"error": "bad"})

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("model", fails, _NO_RETRY)
            except ModelHTTPError as exc:
                return [exc.code, exc.status_code, exc.body, str(exc)]

        harness.register(WF, wf)
        await harness.launcher(WF).create("attrs", {})
        assert (await harness.wait("attrs")).output == [
            "model_http_error",
            400,
            {"error": "bad"},
            "upstream said 400",
        ]

    @pytest.mark.parametrize(
        "error",
        [NonRetryableError("stop now"), ModelNotConfiguredError("agent 'a' has no model")],
    )
    async def test_errors_that_are_never_retried(
        self, harness: StepHarness, error: BaseException
    ) -> None:
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.do("once", rec.step(fail_until=99, error=error))  # type: ignore[arg-type]
            except BaseException as exc:
                return [type(exc).__name__, str(exc)]

        harness.register(WF, wf)
        await harness.launcher(WF).create("no-retry", {})
        assert (await harness.wait("no-retry")).output == [type(error).__name__, str(error)]
        assert rec.attempts("once") == [1]

    async def test_a_restart_mid_retry_resumes_the_attempt_count(
        self, harness: StepHarness
    ) -> None:
        rec = Recorder()
        config = {"retries": {"limit": 3, "delay": 5000, "backoff": "constant"}}

        async def wf(event: dict[str, Any], step: Step) -> Any:
            return await step.do("flaky", rec.step("ok", fail_until=1), config)  # type: ignore[arg-type]

        harness.register(WF, wf)
        await harness.launcher(WF).create("mid-retry", {})
        await harness.clock.wait_for_sleeper(T0 + 5000)
        await harness.clock.advance(2000)
        await harness.restart()
        # The retry keeps its due time: 3 s are left, not a fresh 5 s.
        await harness.clock.wait_for_sleeper(T0 + 5000)
        await harness.clock.advance(3000)
        assert (await harness.wait("mid-retry")).output == "ok"
        assert rec.attempts("flaky") == [1, 2]

    async def test_an_attempt_cut_by_a_restart_counts(self, harness: StepHarness) -> None:
        attempts: list[int] = []
        started = asyncio.Event()

        async def cut(ctx: StepContext) -> Any:
            attempts.append(ctx.attempt)
            if len(attempts) == 1:
                started.set()
                await asyncio.Event().wait()  # the "crash" comes first
            return ctx.attempt

        async def wf(event: dict[str, Any], step: Step) -> Any:
            return await step.do("cut", cut, _NO_RETRY)

        harness.register(WF, wf)
        await harness.launcher(WF).create("cut", {})
        await guard(started.wait())
        await harness.restart()
        # A new number for the new attempt, even with no retries left: a crash is not the
        # step's failure, and a stream can tell the superseded attempt from the new one.
        assert (await harness.wait("cut")).output == 2
        assert attempts == [1, 2]

    # -- sleep -------------------------------------------------------------------------------

    async def test_a_sleep_survives_a_restart_for_its_remainder(self, harness: StepHarness) -> None:
        rec = Recorder()

        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.do("before", rec.step())
            await step.sleep("nap", "10 seconds")
            return await step.do("after", rec.step("woke"))

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("sleepy", {})
        await harness.clock.wait_for_sleeper(T0 + 10_000)
        assert (await launcher.status("sleepy")).status == "waiting"
        await harness.clock.advance(4000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 10_000)
        assert rec.count("after") == 0
        await harness.clock.advance(6000)
        assert (await harness.wait("sleepy")).output == "woke"
        assert rec.count("before") == 1

    async def test_a_finished_sleep_returns_at_once_on_replay(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.sleep("nap", 1000)
            await step.wait_for_event("gate", "go", "1 hour")
            return "done"

        harness.register(WF, wf)
        await harness.launcher(WF).create("slept", {})
        await harness.clock.wait_for_sleeper(T0 + 1000)
        await harness.clock.advance(1000)
        await harness.clock.wait_for_sleeper(T0 + 1000 + 3_600_000)
        await harness.restart()
        # No time passes: the replay must go past the finished sleep to reach the wait.
        await harness.clock.wait_for_sleeper(T0 + 1000 + 3_600_000)
        await harness.launcher(WF).send_event("slept", "go")
        assert (await harness.wait("slept")).output == "done"

    # -- wait_for_event ----------------------------------------------------------------------

    async def test_an_event_reaches_a_waiting_instance(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            received = await step.wait_for_event("approval", "approved", "1 hour")
            assert isinstance(received["timestamp"], datetime)
            return [received["type"], received["payload"]]

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("waiter", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        assert (await launcher.status("waiter")).status == "waiting"
        await launcher.send_event("waiter", "approved", {"by": "ada"})
        assert (await harness.wait("waiter")).output == ["approved", {"by": "ada"}]

    async def test_an_event_sent_early_is_buffered(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.sleep("first", "1 minute")
            received = await step.wait_for_event("then", "ping", "1 hour")
            return received["payload"]

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("early", {})
        await harness.clock.wait_for_sleeper(T0 + 60_000)
        await launcher.send_event("early", "ping", [1, 2, 3])
        await harness.clock.advance(60_000)
        assert (await harness.wait("early")).output == [1, 2, 3]

    async def test_events_match_by_type_and_are_taken_in_order(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            await step.sleep("let-them-queue", 1000)
            first = await step.wait_for_event("x1", "x", "1 hour")
            second = await step.wait_for_event("x2", "x", "1 hour")
            other = await step.wait_for_event("y1", "y", "1 hour")
            return [first["payload"], second["payload"], other["payload"]]

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("ordered", {})
        await harness.clock.wait_for_sleeper(T0 + 1000)
        await launcher.send_event("ordered", "x", "x-one")
        await launcher.send_event("ordered", "y", "y-one")
        await launcher.send_event("ordered", "x", "x-two")
        await harness.clock.advance(1000)
        assert (await harness.wait("ordered")).output == ["x-one", "x-two", "y-one"]

    async def test_a_wait_times_out(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.wait_for_event("never", "nothing", "30 seconds")
            except StepTimeoutError:
                return "timed out"
            return "got one"

        harness.register(WF, wf)
        await harness.launcher(WF).create("timeout-wait", {})
        await harness.clock.wait_for_sleeper(T0 + 30_000)
        await harness.launcher(WF).send_event("timeout-wait", "something-else")
        await harness.clock.advance(30_000)
        assert (await harness.wait("timeout-wait")).output == "timed out"

    async def test_a_wait_keeps_its_deadline_across_a_restart(self, harness: StepHarness) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            try:
                await step.wait_for_event("w", "go", "30 seconds")
            except StepTimeoutError:
                return "timed out"
            return "got it"

        harness.register(WF, wf)
        await harness.launcher(WF).create("deadline", {})
        await harness.clock.wait_for_sleeper(T0 + 30_000)
        await harness.clock.advance(10_000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 30_000)
        await harness.clock.advance(20_000)
        assert (await harness.wait("deadline")).output == "timed out"

    async def test_a_received_event_is_replayed_from_the_journal(
        self, harness: StepHarness
    ) -> None:
        seen: list[Any] = []

        async def wf(event: dict[str, Any], step: Step) -> Any:
            got = await step.wait_for_event("first", "a", "1 hour")
            seen.append(got["payload"])
            await step.wait_for_event("second", "b", "2 hours")
            return "done"

        harness.register(WF, wf)
        launcher = harness.launcher(WF)
        await launcher.create("replayed-event", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await launcher.send_event("replayed-event", "a", {"v": 1})
        await harness.clock.wait_for_sleeper(T0 + 7_200_000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 7_200_000)
        launcher = harness.launcher(WF)
        await launcher.send_event("replayed-event", "b")
        assert (await harness.wait("replayed-event")).output == "done"
        assert seen == [{"v": 1}, {"v": 1}]

    async def test_an_event_sent_while_the_engine_is_down_is_delivered(
        self, harness: StepHarness
    ) -> None:
        async def wf(event: dict[str, Any], step: Step) -> Any:
            got = await step.wait_for_event("w", "go", "1 hour")
            return got["payload"]

        harness.register(WF, wf)
        await harness.launcher(WF).create("restart-wait", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        await harness.restart()
        await harness.launcher(WF).send_event("restart-wait", "go", "after restart")
        assert (await harness.wait("restart-wait")).output == "after restart"

    # -- determinism and concurrency ---------------------------------------------------------

    async def test_a_replay_that_diverges_fails_loudly(self, harness: StepHarness) -> None:
        async def v1(event: dict[str, Any], step: Step) -> Any:
            await step.do("charge-card", lambda ctx: _const(1))
            await step.wait_for_event("gate", "go", "1 hour")
            return "v1"

        async def v2(event: dict[str, Any], step: Step) -> Any:
            # Swallowing the error must not let the instance carry on.
            try:
                await step.do("send-email", lambda ctx: _const(2))
            except Exception:
                pass
            try:
                await step.wait_for_event("gate", "go", "1 hour")
            except Exception:
                pass
            return "v2 carried on"

        harness.register(WF, v1)
        await harness.launcher(WF).create("diverges", {})
        await harness.clock.wait_for_sleeper(T0 + 3_600_000)
        harness.register(WF, v2)
        await harness.restart()
        status = await harness.wait("diverges")
        assert status.status == "errored"
        assert status.error is not None
        assert status.error["name"] == NonDeterminismError.__name__
        assert "charge-card" in status.error["message"]
        assert "send-email" in status.error["message"]

    async def test_concurrent_steps_replay_deterministically(self, harness: StepHarness) -> None:
        """Steps started together (asyncio.gather) take their positions in the order they
        were started, so a replay after a partial completion finds the journal in order."""
        rec = Recorder()
        others_done = asyncio.Event()
        config: Any = {"retries": {"limit": 1, "delay": 5000}}

        def step_fn(i: int) -> Callable[[StepContext], Awaitable[Any]]:
            async def fn(ctx: StepContext) -> Any:
                rec.calls.append((ctx.name, ctx.attempt))
                if i == 3:
                    others_done.set()
                if i == 0 and ctx.attempt == 1:
                    await others_done.wait()
                    raise RuntimeError("the slow one fails once")
                return i * 10

            return fn

        async def wf(event: dict[str, Any], step: Step) -> Any:
            results = await asyncio.gather(
                *(step.do(f"tool-{i}", step_fn(i), config) for i in range(4))
            )
            return list(results)

        harness.register(WF, wf)
        await harness.launcher(WF).create("gather", {})
        await harness.clock.wait_for_sleeper(T0 + 5000)
        await harness.restart()
        await harness.clock.wait_for_sleeper(T0 + 5000)
        await harness.clock.advance(5000)
        assert (await harness.wait("gather")).output == [0, 10, 20, 30]
        assert rec.attempts("tool-0") == [1, 2]
        for i in (1, 2, 3):
            assert rec.count(f"tool-{i}") == 1

    async def test_bad_step_configs_are_refused(self, harness: StepHarness) -> None:
        bad_configs: list[Any] = [
            {"retries": {"limit": -1, "delay": 0}},
            {"retries": {"limit": 1, "delay": "soon"}},
            {"retries": {"limit": 1, "delay": 0, "backoff": "fibonacci"}},
            {"timeout": 0},
            {"retry": {"limit": 1}},
        ]

        async def wf(event: dict[str, Any], step: Step) -> Any:
            refused = []
            for i, config in enumerate(bad_configs):
                try:
                    await step.do(f"bad-{i}", lambda ctx: _const(1), config)
                except ConfigurationError:
                    refused.append(i)
            return refused

        harness.register(WF, wf)
        await harness.launcher(WF).create("configs", {})
        assert (await harness.wait("configs")).output == list(range(len(bad_configs)))


_NO_RETRY: Any = {"retries": {"limit": 0, "delay": 0}}


async def _const(value: T) -> T:
    return value


async def _noop(event: dict[str, Any], step: Step) -> Any:
    return None
