"""The Workflows fake against the real local engine: the same probe Workflow
(:mod:`.probe`), the same scenario, the same observations.

Where the fake is knowingly stricter than the local engine (the platform documents a rule
the local engine does not enforce), the test pins both sides explicitly and names the rule.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from .drivers import Driver, FakeDriver, RealDriver, compare, create, rpc, run_probe, settle, status

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(120)]


async def both(real: RealDriver, fake: FakeDriver, scenario: Any) -> tuple[Any, Any]:
    """The scenario on both at once (they share nothing; the slower one sets the pace)."""
    seen_real, seen_fake = await asyncio.gather(scenario(real), scenario(fake))
    return seen_real, seen_fake


async def check(real: RealDriver, fake: FakeDriver, scenario: Any) -> None:
    compare(*await both(real, fake, scenario))


async def test_step_context(real: RealDriver, fake: FakeDriver) -> None:
    """The ctx a step's callback receives: step name and count, attempt, the config."""
    seen_real, seen_fake = await both(real, fake, lambda d: run_probe(d, "ctx"))
    # The default retry delay: the platform documents 10 seconds, the local engine uses 1.
    path = ("ok", "output", "default", "config", "retries")
    assert _pop(seen_real, path, "delay") == 1000
    assert _pop(seen_fake, path, "delay") == 10_000
    compare(seen_real, seen_fake)


def _pop(seen: Any, path: tuple[str, ...], key: str) -> Any:
    for part in path:
        seen = seen[part]
    return seen.pop(key)


@pytest.mark.parametrize(
    "probe",
    [
        "counts",  # a step name used again gets the next count
        "retries",  # attempts per config, the error of the last one
        "errors",  # what run sees of each kind of exception raised in a step
        "results",  # results that are not JSON
        "timeout",  # a step past its timeout
        "output",  # the status of a complete instance
        "none",
        "uncaught_non_retryable",  # errors escaping run: the status of an errored instance
        "uncaught_value_error",
        "run_raises",
    ],
)
async def test_probe(real: RealDriver, fake: FakeDriver, probe: str) -> None:
    await check(real, fake, lambda driver: run_probe(driver, probe))


async def test_large_result_is_refused_only_by_the_fake(real: RealDriver, fake: FakeDriver) -> None:
    seen_real, seen_fake = await both(real, fake, lambda d: run_probe(d, "large_result"))
    # Documented: a step's result is at most 1 MiB. The local engine does not enforce it;
    # the fake does (stricter on purpose).
    assert seen_real["ok"]["output"] == {"length": 1024 * 1024 + 1}
    assert seen_fake["ok"]["output"]["error"]["message"] == (
        'Error: WorkflowInternalError: The value returned from step "large" is too large. '
        "Maximum allowed size is 1MiB."
    )


async def test_sleep_and_the_status_meanwhile(real: RealDriver, fake: FakeDriver) -> None:
    async def scenario(driver: Driver) -> Any:
        instance = (await create(driver, "sleep"))["ok"]
        await asyncio.sleep(0.5)
        during = (await status(driver, instance))["ok"]
        return {"during": during, "after": await settle(driver, instance)}

    seen_real, seen_fake = await both(real, fake, scenario)
    # Documented: an instance that sleeps or waits for an event is `waiting`. The local
    # engine reports `running`; the fake reports what the platform documents.
    assert seen_real["during"].pop("status") == "running"
    assert seen_fake["during"].pop("status") == "waiting"
    compare(seen_real, seen_fake)


async def test_events(real: RealDriver, fake: FakeDriver) -> None:
    async def scenario(driver: Driver) -> Any:
        seen: dict[str, Any] = {}
        instance = (await create(driver, "wait", id=f"events-{driver.kind}"))["ok"]
        # Sent before the instance waits for it: kept until it does.
        seen["early"] = await driver.post(
            "/wf/event", {"id": instance, "type": "early", "payload": {"n": 1}}
        )
        await asyncio.sleep(2.5)
        seen["late"] = await driver.post(
            "/wf/event", {"id": instance, "type": "late", "payload": [1, 2]}
        )
        seen["final"] = await settle(driver, instance)
        # An event for a finished instance is accepted (and goes nowhere).
        seen["after_end"] = await driver.post("/wf/event", {"id": instance, "type": "late"})
        held = (await create(driver, "hold", id=f"hold-events-{driver.kind}"))["ok"]
        seen["other_type_first"] = await driver.post(
            "/wf/event", {"id": held, "type": "other", "payload": 1}
        )
        seen["release"] = await driver.post(
            "/wf/event", {"id": held, "type": "release", "payload": {"x": True}}
        )
        seen["held"] = await settle(driver, held)
        return seen

    await check(real, fake, scenario)


async def test_instance_ids(real: RealDriver, fake: FakeDriver) -> None:
    async def scenario(driver: Driver) -> Any:
        seen: dict[str, Any] = {}
        first = await create(driver, "none", id=f"ids-{driver.kind}")
        seen["first"] = first["ok"].startswith("ids-")
        await settle(driver, first["ok"])
        seen["again"] = await create(driver, "none", id=f"ids-{driver.kind}")
        for label, instance_id in {
            "spaces": "bad id!",
            "empty": "",
            "101": "a" * 101,
            "leading_dash": "-x",
        }.items():
            seen[label] = await create(driver, "none", id=instance_id)
        longest = await create(driver, "none", id=driver.kind[0] * 100)
        seen["100"] = len(longest["ok"])
        generated = (await create(driver, "none"))["ok"]
        seen["generated"] = bool(
            re.fullmatch(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", generated)
        )
        seen["unknown"] = [
            await status(driver, "nobody"),
            await driver.post("/wf/event", {"id": "nobody", "type": "x"}),
            await driver.post("/wf/terminate", {"id": "nobody"}),
        ]
        return seen

    seen_real, seen_fake = await both(real, fake, scenario)
    # The generated and explicit ids embed the driver's kind; the answers do not.
    seen_real["again"] = seen_real["again"]["error"]["message"].replace("real", "<kind>")
    seen_fake["again"] = seen_fake["again"]["error"]["message"].replace("fake", "<kind>")
    compare(seen_real, seen_fake)


async def test_terminate(real: RealDriver, fake: FakeDriver) -> None:
    async def scenario(driver: Driver) -> Any:
        seen: dict[str, Any] = {}
        held = (await create(driver, "hold"))["ok"]
        await asyncio.sleep(0.5)
        seen["terminate"] = await driver.post("/wf/terminate", {"id": held})
        seen["status"] = await status(driver, held)
        seen["again"] = await driver.post("/wf/terminate", {"id": held})
        seen["event"] = await driver.post("/wf/event", {"id": held, "type": "release"})
        await asyncio.sleep(0.3)
        seen["still"] = await status(driver, held)
        done = (await run_probe(driver, "output"))["ok"]
        assert done["status"] == "complete"
        finished = (await create(driver, "none"))["ok"]
        await settle(driver, finished)
        seen["finished"] = await driver.post("/wf/terminate", {"id": finished})
        return seen

    await check(real, fake, scenario)


async def test_a_crash_leaves_instances_until_they_are_woken(
    real: RealDriver, fake: FakeDriver
) -> None:
    """The local engine does not resume an instance a crash interrupted: it stays
    `running` until woken (production's engine wakes it by itself). A Durable Object's
    alarm set before the crash fires after it."""

    async def scenario(driver: Driver) -> Any:
        seen: dict[str, Any] = {}
        held = (await create(driver, "hold", id=f"crash-{driver.kind}"))["ok"]
        seen["alarm"] = await rpc(driver, "crash", "set_alarm", 1500)
        await asyncio.sleep(0.5)
        await driver.crash()
        await asyncio.sleep(1.0)
        seen["after_crash"] = await status(driver, held)
        seen["event_while_down"] = await driver.post(
            "/wf/event", {"id": held, "type": "release", "payload": "after the crash"}
        )
        await asyncio.sleep(1.0)
        seen["not_resumed"] = (await status(driver, held))["ok"]["status"]
        await driver.fire_alarms()
        seen["alarms"] = await rpc(driver, "crash", "alarms")
        await driver.wake(held)
        seen["woken"] = await settle(driver, held)
        return seen

    await check(real, fake, scenario)
