"""The Step and Launcher adapters on details the shared suite does not reach: what crosses
the JS boundary, what Workflows would otherwise do with a NonRetryableError, and the texts
the platform throws."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from helix_agents.error_codec import encode_error
from helix_agents.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidIdError,
    NonRetryableError,
    StepError,
    StepTimeoutError,
    ToolError,
)
from helix_agents.hosts.cloudflare.carrier import MARKER, carrier, find_carried
from helix_agents.hosts.cloudflare.launcher import WorkflowLauncher
from helix_agents.hosts.cloudflare.step import WorkflowAborted, WorkflowsStep
from helix_agents.ports.step import Step, StepContext
from helix_agents.testing.cloudflare.jsvalues import JsException, python_error
from helix_agents.testing.cloudflare.sdk_step import WorkflowStepWrapper, from_js_error
from helix_agents.testing.cloudflare.shim import NonRetryableError as SdkNonRetryableError
from tests.cloudflare.harness import WorkflowsHarness
from tests.conformance.step_suite import T0


@pytest.fixture
async def harness() -> Any:
    harness = WorkflowsHarness()
    yield harness
    await harness.close()


async def test_a_non_retryable_error_fails_the_step_not_the_instance(
    harness: WorkflowsHarness,
) -> None:
    calls: list[int] = []

    async def fails(ctx: StepContext) -> Any:
        calls.append(ctx.attempt)
        raise NonRetryableError("no point trying again")

    async def wf(event: dict[str, Any], step: Step) -> Any:
        try:
            await step.do("fails", fails)
        except NonRetryableError as exc:
            message = f"carried on: {exc}"
            return await step.do("after", lambda ctx: _const(message))
        return "no error"

    harness.register("wf", wf)
    await harness.launcher("wf").create("nr", {})
    status = await harness.wait("nr")
    assert status.status == "complete"
    assert status.output == "carried on: no point trying again"
    assert calls == [1]


async def test_an_error_the_engine_threw_itself_is_a_step_error() -> None:
    class EngineFails:
        """An SDK step whose engine fails the step on its own (storage, limits)."""

        def do(self, name: str, *, config: Any = None) -> Any:
            def decorator(fn: Any) -> Any:
                async def run() -> Any:
                    raise JsException("Step output is too large.", name="WorkflowInternalError")

                return run

            return decorator

    step = WorkflowsStep(EngineFails())
    with pytest.raises(StepError, match=r"step 'big' failed: .*too large") as info:
        await step.do("big", lambda ctx: _const(1))
    assert info.value.error_name == "WorkflowInternalError"  # type: ignore[attr-defined]


async def test_the_engine_stopping_run_is_no_failure_of_the_step() -> None:
    """A pause (restart, terminate) rejects the instance's step calls with the engine's
    abort: that raises WorkflowAborted, which is no Exception (the loop's fail step must not
    run inside an abort), carrying the exact message ``run`` must reject with
    (tests/worker_real/test_crash_real.py pauses a real instance)."""

    class EnginePauses:
        def do(self, name: str, *, config: Any = None) -> Any:
            def decorator(fn: Any) -> Any:
                async def run() -> Any:
                    raise JsException("Aborting engine: User called pause", name="Error")

                return run

            return decorator

    step = WorkflowsStep(EnginePauses())
    with pytest.raises(WorkflowAborted) as info:
        await step.do("model", lambda ctx: _const(1))
    assert not isinstance(info.value, Exception)
    assert info.value.reason == "Aborting engine: User called pause"


async def test_a_timeout_is_a_step_timeout_error_with_a_stable_message(
    harness: WorkflowsHarness,
) -> None:
    import asyncio

    async def hangs(ctx: StepContext) -> Any:
        await asyncio.Event().wait()

    seen: list[str] = []

    async def wf(event: dict[str, Any], step: Step) -> Any:
        try:
            await step.do("slow", hangs, {"retries": {"limit": 0, "delay": 0}, "timeout": 5000})
        except StepTimeoutError as exc:
            seen.append(str(exc))
        await step.wait_for_event("gate", "go", "1 hour")
        return seen[-1]

    harness.register("wf", wf)
    await harness.launcher("wf").create("to", {})
    await harness.clock.wait_for_sleeper(T0 + 5000)
    await harness.clock.advance(5000)
    await harness.clock.wait_for_sleeper(T0 + 5000 + 3_600_000)
    await harness.restart()  # the replay must raise the very same error
    await harness.clock.wait_for_sleeper(T0 + 5000 + 3_600_000)
    await harness.launcher("wf").send_event("to", "go")
    assert (await harness.wait("to")).output == "step 'slow' timed out after 5 seconds"
    assert seen == [seen[0], seen[0]]


async def test_events_come_back_as_plain_values_with_an_aware_timestamp(
    harness: WorkflowsHarness,
) -> None:
    got: list[dict[str, Any]] = []

    async def wf(event: dict[str, Any], step: Step) -> Any:
        received = await step.wait_for_event("w", "go", "1 hour")
        got.append(received)
        return None

    harness.register("wf", wf)
    await harness.launcher("wf").create("ev", {})
    await harness.clock.wait_for_sleeper(T0 + 3_600_000)
    await harness.launcher("wf").send_event("ev", "go", {"nested": {"list": [1, 2]}})
    await harness.wait("ev")
    (received,) = got
    assert type(received["payload"]) is dict
    assert type(received["payload"]["nested"]) is dict
    assert received["timestamp"].tzinfo is not None
    assert received["timestamp"] == datetime.fromtimestamp(T0 / 1000, UTC)


def test_the_carrier_survives_a_traceback_and_an_rpc_prefix() -> None:
    encoded = encode_error(ToolError("the tool said: no"))
    exc = carrier(encoded)
    assert str(exc).startswith(MARKER)
    as_js = python_error(exc)
    assert "Traceback" in as_js.message
    assert find_carried(as_js.message) == encoded
    assert find_carried(f"Error: PythonError: {as_js.message}") == encoded
    assert find_carried("no marker here") is None
    assert find_carried(f"{MARKER}not json {MARKER}{{}}") == {}


def test_the_sdk_rebuilds_only_three_error_types() -> None:
    value = python_error(ValueError("bad value"))
    assert type(from_js_error(value)) is ValueError
    assert str(from_js_error(value)) == "ValueError: bad value"
    assert type(from_js_error(python_error(TypeError("t")))) is TypeError
    other = python_error(KeyError("k"))
    assert from_js_error(other) is other
    named = JsException("stop", name="NonRetryableError")
    assert type(from_js_error(named)) is SdkNonRetryableError
    assert str(from_js_error(JsException("NonRetryableError: why"))) == "why"


async def test_the_sdk_step_decorator_injects_earlier_results() -> None:
    calls: list[tuple[str, Any]] = []

    class JsStep:
        async def do(self, name: str, *args: Any) -> Any:
            callback = args[-1]
            calls.append((name, args[0] if len(args) == 2 else None))
            return await callback({"attempt": 1, "step": {"name": name, "count": 1}})

    step = WorkflowStepWrapper(JsStep())

    @step.do()
    async def first() -> int:
        return 20

    @step.do("second", config={"retries": {"limit": 1}})
    async def second(first: int, ctx: dict[str, Any]) -> int:
        return first + ctx["attempt"] * 22

    assert await second() == 42
    assert calls == [("first", None), ("second", {"retries": {"limit": 1}})]

    @step.do()
    async def broken(unknown: int) -> int:
        return unknown

    with pytest.raises(TypeError, match="unexpected parameter unknown"):
        await broken()

    @step.do()
    async def returns_a_tuple() -> Any:
        return (1, 2)

    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        await returns_a_tuple()


class FailingBinding:
    """A Workflow binding that throws the platform's texts."""

    def __init__(self, message: str) -> None:
        self.message = message

    async def create(self, options: Any) -> Any:
        raise JsException(self.message)

    async def get(self, instance_id: str) -> Any:
        raise JsException(self.message)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("instance.already_exists: instance with id x already exists", InstanceExistsError),
        ("(instance.invalid_id) no", InvalidIdError),
        ("workflows.api_error", StepError),
    ],
)
async def test_launcher_translates_create_errors(message: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await WorkflowLauncher(FailingBinding(message)).create("x", {})


async def test_launcher_reads_instance_not_found_as_unknown() -> None:
    launcher = WorkflowLauncher(FailingBinding("instance.not_found"))
    assert (await launcher.status("x")).status == "unknown"
    with pytest.raises(InstanceNotFoundError):
        await launcher.terminate("x")


class StatusBinding:
    def __init__(self, status: dict[str, Any]) -> None:
        self._status = status

    async def create(self, options: Any) -> Any:
        return None

    async def get(self, instance_id: str) -> Any:
        status = self._status

        class Handle:
            async def status(self) -> Any:
                return status

        return Handle()


async def test_launcher_statuses_and_errors() -> None:
    pausing = WorkflowLauncher(StatusBinding({"status": "waitingForPause"}))
    assert (await pausing.status("x")).status == "running"
    traceback_text = python_error(RuntimeError("boom")).message
    errored = WorkflowLauncher(
        StatusBinding({"status": "errored", "error": {"name": "Error", "message": traceback_text}})
    )
    assert (await errored.status("x")).error == {"name": "RuntimeError", "message": "boom"}
    plain = WorkflowLauncher(
        StatusBinding(
            {"status": "errored", "error": {"name": "WorkflowFatalError", "message": "m"}}
        )
    )
    assert (await plain.status("x")).error == {"name": "WorkflowFatalError", "message": "m"}


async def _const(value: Any) -> Any:
    return value
