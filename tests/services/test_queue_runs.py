"""Runs started from queue messages on the real local host (SQLite queue, local engine):
exactly one run per message however it is delivered, acked only once the run is durable,
crashes on either side of that, busy sessions retried, poison messages dead-lettered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.clock import wall_clock_ms
from helix_agents.hosts.local.host import DEV_QUEUE_CONSUMER, LocalHost
from helix_agents.hosts.local.queues import LocalBatch, LocalQueueConsumer
from helix_agents.messages import UserMessage
from helix_agents.ports.queues import ConsumerSettings, MessageBatch
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel
from helix_agents.toolkits.queue import AgentTask, busy_backoff, queue_ids, start_from_message

pytestmark = pytest.mark.timeout(60)


def worker() -> Agent:
    def respond(messages: list[Any], info: Any) -> Any:
        return f"done: {messages[-1].content}"

    return Agent("worker", model=FunctionModel(respond))


class Clock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


class Crash(BaseException):
    """The consumer's process dying (nothing below catches a BaseException)."""


async def _runs(host: LocalHost, session_id: str) -> list[Any]:
    return await host.store.list_runs(session_id)


async def _depth(host: LocalHost, queue: str = "default") -> int:
    rows = await host.db.query(
        "SELECT COUNT(*) AS n FROM __helix_queue_messages WHERE queue = ?", (queue,)
    )
    return int(rows[0]["n"])


async def _queue_id(host: LocalHost) -> str:
    [row] = await host.db.query("SELECT id FROM __helix_queue_messages WHERE queue = 'default'")
    return str(row["id"])


async def test_a_run_request_starts_one_run_with_ids_from_the_message(tmp_path: Path) -> None:
    async with LocalHost(worker(), tmp_path / "data", sweep_interval=None) as host:
        body = {"agentType": "worker", "message": "index the wiki", "metadata": {"from": "cron"}}
        await host.services.queues.send(body)
        queue_id = await _queue_id(host)
        outcomes: list[str] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(await start_from_message(host.executor, message))

        assert await LocalQueueConsumer(host.db, "default", handler).drain() == 1
        assert outcomes == ["started"]
        session, message_id = queue_ids(AgentTask.model_validate(body), queue_id)
        assert session.startswith("queue-")
        assert message_id == session
        handle = await host.executor.get_handle(session)
        assert handle is not None
        assert handle.run_id == f"{session}--t1"
        assert (await handle.result()).status == RunStatus.COMPLETED
        state = await handle.get_state()
        assert state.agent_type == "worker"
        assert state.metadata == {"from": "cron"}
        assert (await handle.messages())[-1].content == "done: index the wiki"
        assert await _depth(host) == 0


async def test_a_crash_after_the_run_is_durable_redelivers_without_a_second_run(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with LocalHost(worker(), tmp_path / "data", sweep_interval=None) as host:
        await host.services.queues.send(
            {"agentType": "worker", "message": "once", "sessionId": "job-1"}
        )

        async def dies_before_ack(batch: LocalBatch) -> None:
            [message] = batch.messages

            def crash() -> None:
                raise Crash

            message.ack = crash  # type: ignore[method-assign]
            await start_from_message(host.executor, message)

        first = LocalQueueConsumer(host.db, "default", dies_before_ack, clock=clock)
        with pytest.raises(Crash):
            await first.run_once()
        # The run exists (durable) though the message was never acked.
        [run] = await _runs(host, "job-1")
        assert await _depth(host) == 1
        clock.ms += 61_000  # the lease ends: the queue delivers the message again
        outcomes: list[tuple[int, str]] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(
                    (message.attempts, await start_from_message(host.executor, message))
                )

        assert await LocalQueueConsumer(host.db, "default", handler, clock=clock).drain() == 1
        assert outcomes == [(2, "duplicate")]
        assert [r.run_id for r in await _runs(host, "job-1")] == [run.run_id]
        handle = await host.executor.get_handle("job-1")
        assert handle is not None
        assert (await handle.result()).status == RunStatus.COMPLETED
        users = [m for m in await handle.messages() if isinstance(m, UserMessage)]
        assert [u.content for u in users] == ["once"]
        assert await _depth(host) == 0


async def test_a_crash_between_the_run_record_and_its_instance_is_launched_on_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with LocalHost(worker(), tmp_path / "data", sweep_interval=None) as host:
        launcher = host.executor.starter.launcher
        real_create = launcher.create
        calls = {"n": 0}

        async def create_fails_once(instance_id: str, params: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("the engine went away")
            return await real_create(instance_id, params)

        monkeypatch.setattr(launcher, "create", create_fails_once)
        await host.services.queues.send(
            {"agentType": "worker", "message": "launch me", "sessionId": "job-2"}
        )
        outcomes: list[str] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(await start_from_message(host.executor, message))

        consumer = LocalQueueConsumer(host.db, "default", handler)
        assert await consumer.run_once() == 1
        assert outcomes == ["retry"]  # recorded, not launched: not acked
        [run] = await _runs(host, "job-2")
        assert run.status == RunStatus.ACTIVE
        assert (await host.executor.launcher.status(run.run_id)).status == "unknown"
        assert await consumer.run_once() == 1  # redelivered (retry_delay 0)
        assert outcomes == ["retry", "duplicate"]
        handle = await host.executor.get_handle("job-2")
        assert handle is not None
        assert (await handle.result()).status == RunStatus.COMPLETED
        assert [r.run_id for r in await _runs(host, "job-2")] == [run.run_id]
        assert await _depth(host) == 0


async def test_the_same_task_sent_twice_starts_one_run(tmp_path: Path) -> None:
    async with LocalHost(worker(), tmp_path / "data", sweep_interval=None) as host:
        body = {"agentType": "worker", "message": "x", "sessionId": "job-3", "messageId": "m-1"}
        await host.services.queues.send(body)
        await host.services.queues.send(body)
        outcomes: list[str] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(await start_from_message(host.executor, message))

        assert await LocalQueueConsumer(host.db, "default", handler).drain() == 2
        assert sorted(outcomes) == ["duplicate", "started"]
        assert len(await _runs(host, "job-3")) == 1


async def test_a_busy_session_is_retried_until_its_run_ends(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def slow(messages: list[Any], info: Any) -> Any:
        await gate.wait()
        return "slow done"

    agents = [Agent("slow", model=FunctionModel(slow)), worker()]
    async with LocalHost(agents, tmp_path / "data", sweep_interval=None) as host:
        busy = await host.executor.execute("slow", "hold the session", session_id="job-4")
        await host.services.queues.send(
            {"agentType": "slow", "message": "next turn", "sessionId": "job-4"}
        )
        outcomes: list[str] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(await start_from_message(host.executor, message))

        clock = Clock()
        clock.ms = wall_clock_ms()
        settings = ConsumerSettings(max_retries=5)
        consumer = LocalQueueConsumer(host.db, "default", handler, settings, clock=clock)
        assert await consumer.run_once() == 1
        assert outcomes == ["retry"]
        assert await consumer.run_once() == 0  # not before its backoff
        gate.set()
        assert (await busy.result()).status == RunStatus.COMPLETED
        clock.ms += busy_backoff(1) * 1000
        assert await consumer.run_once() == 1
        assert outcomes == ["retry", "started"]
        runs = await _runs(host, "job-4")
        assert sorted(r.turn for r in runs) == [1, 2]


@pytest.mark.parametrize(
    "body",
    [
        {"not": "a task"},
        "plain text",
        {"agentType": "nobody", "message": "x"},
        {"agentType": "worker", "message": ""},
        {"agentType": "worker", "message": "x", "sessionId": "bad id!"},
    ],
)
async def test_poison_messages_go_to_the_dead_letter_queue_without_a_run(
    tmp_path: Path, body: Any
) -> None:
    async with LocalHost(worker(), tmp_path / "data", sweep_interval=None) as host:
        await host.services.queues.send(body)
        outcomes: list[str] = []

        async def handler(batch: MessageBatch) -> None:
            for message in batch.messages:
                outcomes.append(await start_from_message(host.executor, message))

        settings = ConsumerSettings(max_retries=2, retry_delay=300, dead_letter_queue="dlq")
        consumer = LocalQueueConsumer(host.db, "default", handler, settings)
        # Retried without the queue's delay: three deliveries in a row, then dead.
        assert await consumer.drain() == 3
        assert outcomes == ["poison"] * 3
        assert await _depth(host) == 0
        assert await _depth(host, "dlq") == 1
        assert await host.store.list_active_runs() == []
        rows = await host.db.query("SELECT COUNT(*) AS n FROM __agents_states")
        assert rows[0]["n"] == 0


async def test_helix_dev_consumes_its_queue(tmp_path: Path) -> None:
    async with LocalHost(
        worker(), tmp_path / "data", sweep_interval=None, queue_consumer=DEV_QUEUE_CONSUMER
    ) as host:
        await host.services.queues.send(
            {"agentType": "worker", "message": "from a script", "sessionId": "job-5"}
        )
        await host.services.queues.send({"poison": True})
        handle = None
        for _ in range(200):  # the consumer polls every half second
            handle = await host.executor.get_handle("job-5")
            if handle is not None:
                break
            await asyncio.sleep(0.05)
        assert handle is not None
        assert (await handle.result()).status == RunStatus.COMPLETED
        for _ in range(200):
            if await _depth(host, "default-dlq") == 1:
                break
            await asyncio.sleep(0.05)
        assert await _depth(host, "default-dlq") == 1
        assert await _depth(host) == 0


def test_busy_backoff_doubles_up_to_five_minutes() -> None:
    assert [busy_backoff(n) for n in (1, 2, 3, 4, 5, 6, 100)] == [10, 20, 40, 80, 160, 300, 300]
