"""What is particular to the local engine: its SQLite journal, real time, its lifecycle."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from helix_agents.errors import (
    ConfigurationError,
    InstanceNotFoundError,
    NonDeterminismError,
    StepError,
    StepTimeoutError,
    ValueTooLargeError,
)
from helix_agents.hosts.local.engine import LocalEngine
from helix_agents.ports.launcher import InstanceStatus, Launcher
from helix_agents.ports.step import Step, StepContext
from tests.conformance.step_suite import T0
from tests.engine.harness import LocalEngineHarness

FAST: Any = {"retries": {"limit": 3, "delay": 1, "backoff": "constant"}}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LocalEngine]:
    engine = LocalEngine(tmp_path / "engine.db")
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[LocalEngineHarness]:
    harness = LocalEngineHarness(tmp_path / "engine.db")
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the journal through a connection of its own, as an operator would."""
    db = sqlite3.connect(path)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


async def value(v: Any) -> Any:
    return v


def test_the_launcher_and_the_step_satisfy_their_ports(engine: LocalEngine) -> None:
    from helix_agents.hosts.local.engine_step import InstanceRun

    assert isinstance(engine.workflow("agent"), Launcher)
    assert isinstance(InstanceRun(engine, "x", []), Step)


async def test_the_journal_is_sqlite_in_wal_mode(engine: LocalEngine) -> None:
    assert engine.journal.raw("PRAGMA journal_mode") == [("wal",)]
    assert engine.journal.raw("PRAGMA synchronous") == [(1,)]  # NORMAL


async def test_the_journal_records_each_step_once(engine: LocalEngine, tmp_path: Path) -> None:
    failures = 0

    async def flaky(ctx: StepContext) -> Any:
        nonlocal failures
        if ctx.attempt < 3:
            failures += 1
            raise RuntimeError("not yet")
        return {"attempt": ctx.attempt}

    async def wf(event: dict[str, Any], step: Step) -> Any:
        await step.do("first", lambda ctx: value(1))
        await step.do("flaky", flaky, FAST)
        await step.sleep("nap", 1)
        got = await step.wait_for_event("gate", "go", "1 minute")
        return got["payload"]

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("journaled", {"p": 1})
    await engine.workflow("wf").send_event("journaled", "go", "ok")
    assert (await engine.wait("journaled", timeout=10)).output == "ok"
    steps = rows(
        tmp_path / "engine.db",
        "SELECT name, ordinal, kind, status, result, attempts, detail FROM engine_steps "
        "ORDER BY ordinal",
    )
    assert steps == [
        ("first", 0, "do", "complete", "1", 1, None),
        ("flaky", 1, "do", "complete", '{"attempt":3}', 3, None),
        ("nap", 2, "sleep", "complete", None, 0, None),
        ("gate", 3, "wait", "complete", steps[3][4], 0, "go"),
    ]
    assert '"payload":"ok"' in steps[3][4]
    assert rows(tmp_path / "engine.db", "SELECT type, consumed_by FROM engine_events") == [
        ("go", "gate")
    ]
    (instance,) = rows(
        tmp_path / "engine.db", "SELECT id, workflow, params, status, output FROM engine_instances"
    )
    assert instance == ("journaled", "wf", '{"p":1}', "complete", '"ok"')


async def test_a_final_failure_is_journaled_with_its_error(
    engine: LocalEngine, tmp_path: Path
) -> None:
    async def fails(ctx: StepContext) -> Any:
        raise ValueError("bad input")

    async def wf(event: dict[str, Any], step: Step) -> Any:
        await step.do("fails", fails, FAST)

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("failing", {})
    status = await engine.wait("failing", timeout=10)
    assert status == InstanceStatus("errored", error={"name": "ValueError", "message": "bad input"})
    ((state, attempts, result),) = rows(
        tmp_path / "engine.db", "SELECT status, attempts, result FROM engine_steps"
    )
    assert (state, attempts) == ("errored", 4)
    assert '"name": "ValueError"' in result


async def test_instances_wait_in_the_queue_until_start(engine: LocalEngine) -> None:
    engine.register("wf", lambda event, step: value("ran"))
    await engine.workflow("wf").create("early", {})
    assert (await engine.workflow("wf").status("early")).status == "queued"
    await engine.start()
    assert (await engine.wait("early", timeout=10)).output == "ran"


async def test_a_workflow_registered_after_start_resumes_its_instances(tmp_path: Path) -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def blocks(ctx: StepContext) -> Any:
        entered.set()
        await gate.wait()

    async def wf(event: dict[str, Any], step: Step) -> Any:
        await step.do("blocks", blocks, FAST)
        return "resumed"

    first = LocalEngine(tmp_path / "engine.db")
    first.register("wf", wf)
    await first.start()
    await first.workflow("wf").create("late", {})
    await entered.wait()
    await first.close()

    gate.set()
    second = LocalEngine(tmp_path / "engine.db")
    try:
        await second.start()
        assert (await second.workflow("wf").status("late")).status == "running"
        second.register("wf", wf)
        assert (await second.wait("late", timeout=10)).output == "resumed"
    finally:
        await second.close()


async def test_close_leaves_instances_resumable(tmp_path: Path) -> None:
    reached = asyncio.Event()

    async def wf(event: dict[str, Any], step: Step) -> Any:
        # wait_for_event runs synchronously up to its first await, status write included,
        # so once this task yields the instance is "waiting".
        reached.set()
        got = await step.wait_for_event("gate", "go", "1 hour")
        return got["payload"]

    first = LocalEngine(tmp_path / "engine.db")
    first.register("wf", wf)
    await first.start()
    await first.workflow("wf").create("parked", {})
    await reached.wait()
    assert (await first.workflow("wf").status("parked")).status == "waiting"
    await first.close()
    with pytest.raises(StepError, match="closed"):
        await first.workflow("wf").create("too-late", {})

    second = LocalEngine(tmp_path / "engine.db")
    try:
        second.register("wf", wf)
        await second.start()
        await second.workflow("wf").send_event("parked", "go", 7)
        assert (await second.wait("parked", timeout=10)).output == 7
    finally:
        await second.close()


async def test_close_fails_pending_waits(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "engine.db")
    engine.register("wf", lambda event, step: step.wait_for_event("w", "never"))
    await engine.start()
    await engine.workflow("wf").create("pending", {})
    waiter = asyncio.ensure_future(engine.wait("pending"))
    await asyncio.sleep(0)  # engine.wait registers itself in its first turn
    await engine.close()
    with pytest.raises(StepError, match="closed"):
        await waiter


async def test_wait_with_a_timeout(engine: LocalEngine) -> None:
    engine.register("wf", lambda event, step: step.wait_for_event("w", "never"))
    await engine.start()
    await engine.workflow("wf").create("stuck", {})
    with pytest.raises(StepTimeoutError):
        await engine.wait("stuck", timeout=0.01)
    with pytest.raises(InstanceNotFoundError):
        await engine.wait("missing")


async def test_real_time_retries_sleeps_and_timeouts(engine: LocalEngine) -> None:
    attempts: list[int] = []

    async def slow(ctx: StepContext) -> Any:
        attempts.append(ctx.attempt)
        await asyncio.sleep(10)

    async def wf(event: dict[str, Any], step: Step) -> Any:
        await step.sleep("short", 5)
        try:
            await step.do("slow", slow, {"retries": {"limit": 1, "delay": 1}, "timeout": 20})
        except StepTimeoutError as exc:
            return str(exc)

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("real-time", {})
    status = await engine.wait("real-time", timeout=10)
    assert status.output == "attempt 2 of step 'slow' timed out after 20 ms"
    assert attempts == [1, 2]


async def test_a_timed_out_attempt_leaves_the_run_uncancelled(engine: LocalEngine) -> None:
    # The attempt runs in the run's own task; its timeout cancels that task and takes the
    # cancellation back: the run goes on awaiting, and runs its next step.
    async def slow(ctx: StepContext) -> Any:
        await asyncio.sleep(10)

    async def swallows(ctx: StepContext) -> Any:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # a body that swallows the cancellation: its late value does not count
        await asyncio.sleep(0.01)
        return "too late"

    async def quick(ctx: StepContext) -> Any:
        await asyncio.sleep(0.01)
        return "quick"

    async def wf(event: dict[str, Any], step: Step) -> Any:
        out: list[Any] = []
        for name, body in (("slow", slow), ("swallows", swallows)):
            try:
                await step.do(name, body, {"retries": {"limit": 0, "delay": 0}, "timeout": 20})
            except StepTimeoutError as exc:
                out.append(str(exc))
        task = asyncio.current_task()
        assert task is not None
        out.append(task.cancelling())
        await asyncio.sleep(0.01)
        out.append(await step.do("quick", quick))
        return out

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("uncancelled", {})
    status = await engine.wait("uncancelled", timeout=10)
    assert status.output == [
        "attempt 1 of step 'slow' timed out after 20 ms",
        "attempt 1 of step 'swallows' timed out after 20 ms",
        0,
        "quick",
    ]


async def test_terminating_a_run_inside_an_attempt_is_not_a_timeout(
    engine: LocalEngine,
) -> None:
    started = asyncio.Event()
    seen: list[str] = []

    async def hangs(ctx: StepContext) -> Any:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def wf(event: dict[str, Any], step: Step) -> Any:
        try:
            await step.do("hangs", hangs, {"timeout": 60_000})
        except StepTimeoutError:
            seen.append("timed out")
        seen.append("ran on")

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("stopped", {})
    await asyncio.wait_for(started.wait(), 10)
    await engine.workflow("wf").terminate("stopped")
    assert (await engine.wait("stopped", timeout=10)).status == "terminated"
    assert seen == ["cancelled"]


async def test_parallel_attempts_time_out_on_their_own(engine: LocalEngine) -> None:
    async def slow(ctx: StepContext) -> Any:
        await asyncio.sleep(10)

    async def patient(ctx: StepContext) -> Any:
        await asyncio.sleep(0.1)  # outlives the other's timeout, within its own
        return "done"

    async def wf(event: dict[str, Any], step: Step) -> Any:
        async def run(name: str, body: Any, timeout: int) -> Any:
            config: Any = {"retries": {"limit": 0, "delay": 0}, "timeout": timeout}
            try:
                return await step.do(name, body, config)
            except StepTimeoutError:
                return "timed out"

        return list(await asyncio.gather(run("slow", slow, 20), run("patient", patient, 60_000)))

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("parallel", {})
    assert (await engine.wait("parallel", timeout=10)).output == ["timed out", "done"]


async def test_a_plain_function_can_be_a_step(engine: LocalEngine) -> None:
    async def wf(event: dict[str, Any], step: Step) -> Any:
        return await step.do("sync", lambda ctx: {"attempt": ctx.attempt})  # type: ignore[arg-type, return-value]

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("sync", {})
    assert (await engine.wait("sync", timeout=10)).output == {"attempt": 1}


async def test_an_instance_can_terminate_itself(engine: LocalEngine) -> None:
    after: list[str] = []

    async def wf(event: dict[str, Any], step: Step) -> Any:
        async def stop(ctx: StepContext) -> Any:
            await engine.workflow("wf").terminate(event["instanceId"])
            await asyncio.sleep(10)

        await step.do("stop", stop)
        after.append("ran on")

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("self-stop", {})
    assert (await engine.wait("self-stop", timeout=10)).status == "terminated"
    assert after == []


async def test_an_output_that_is_not_json_errors_the_instance(engine: LocalEngine) -> None:
    engine.register("wf", lambda event, step: value({1, 2}))
    await engine.start()
    await engine.workflow("wf").create("set", {})
    status = await engine.wait("set", timeout=10)
    assert status.status == "errored"
    assert status.error is not None
    assert "not JSON" in status.error["message"]


async def test_bad_input_to_the_launcher(engine: LocalEngine) -> None:
    engine.register("wf", lambda event, step: value(None))
    await engine.start()
    launcher = engine.workflow("wf")
    with pytest.raises(ConfigurationError, match="no workflow named"):
        await engine.workflow("other").create("x", {})
    with pytest.raises(ConfigurationError, match="not JSON"):
        await launcher.create("x", {"when": object()})
    await launcher.create("x", {})
    with pytest.raises(ConfigurationError, match="event type"):
        await launcher.send_event("x", "")
    with pytest.raises(ValueTooLargeError) as too_large:
        await launcher.send_event("x", "big", "y" * (1024 * 1024))
    assert too_large.value.limit == 1024 * 1024
    for bad in ["", "has space", "x" * 65]:
        with pytest.raises(ConfigurationError):
            engine.workflow(bad)
    assert (await engine.workflow("other").status("x")).status == "unknown"
    with pytest.raises(InstanceNotFoundError):
        await engine.workflow("other").terminate("x")


async def test_a_sleep_over_a_year_is_refused(engine: LocalEngine) -> None:
    async def wf(event: dict[str, Any], step: Step) -> Any:
        try:
            await step.sleep("forever", "2 years")
        except ConfigurationError as exc:
            return str(exc)

    engine.register("wf", wf)
    await engine.start()
    await engine.workflow("wf").create("long", {})
    assert "365 days" in (await engine.wait("long", timeout=10)).output


async def test_a_replay_that_changes_a_steps_kind_diverges(harness: LocalEngineHarness) -> None:
    async def v1(event: dict[str, Any], step: Step) -> Any:
        await step.sleep("pause", 1000)

    async def v2(event: dict[str, Any], step: Step) -> Any:
        await step.do("pause", lambda ctx: value(1))

    harness.register("wf", v1)
    await harness.launcher("wf").create("kinds", {})
    await harness.clock.wait_for_sleeper(T0 + 1000)
    harness.register("wf", v2)
    await harness.restart()
    status = await harness.wait("kinds")
    assert status.error is not None
    assert status.error["name"] == NonDeterminismError.__name__
    assert "a sleep" in status.error["message"]


async def test_status_follows_the_run(harness: LocalEngineHarness) -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def blocked(ctx: StepContext) -> Any:
        entered.set()
        await gate.wait()

    async def wf(event: dict[str, Any], step: Step) -> Any:
        await step.sleep("nap", 1000)
        await step.do("work", blocked)

    harness.register("wf", wf)
    launcher = harness.launcher("wf")
    await launcher.create("states", {})
    assert (await launcher.status("states")).status == "queued"
    await harness.clock.wait_for_sleeper(T0 + 1000)
    assert (await launcher.status("states")).status == "waiting"
    await harness.clock.advance(1000)
    await entered.wait()
    assert (await launcher.status("states")).status == "running"
    gate.set()
    assert (await harness.wait("states")).status == "complete"


async def test_a_queued_instance_can_be_terminated_before_it_runs(engine: LocalEngine) -> None:
    ran: list[str] = []

    async def wf(event: dict[str, Any], step: Step) -> Any:
        ran.append(event["instanceId"])

    engine.register("wf", wf)
    await engine.workflow("wf").create("never-runs", {})
    await engine.workflow("wf").terminate("never-runs")
    await engine.start()
    assert (await engine.wait("never-runs")).status == "terminated"
    await engine.workflow("wf").create("runs", {})
    await engine.wait("runs", timeout=10)
    assert ran == ["runs"]
