"""The queue port: the conformance suite's producer checks against the local queue and the
Cloudflare producer over the documented-API double, its consumer checks against the local
consumer; and the Cloudflare batch adapter settling through the runtime's own calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from helix_agents.db.sqlite import SQLiteDatabase
from helix_agents.hosts.cloudflare.queues import CloudflareBatch, CloudflareQueue
from helix_agents.hosts.local.queues import LocalQueueConsumer, SQLQueue
from helix_agents.ports.queues import ConsumerSettings, MessageBatch, Queue
from helix_agents.testing.services_doubles import FakeQueueBinding
from tests.conformance.queues_suite import (
    CONSUMER_CHECKS,
    PRODUCER_CHECKS,
    QUEUE_CHECKS,
    ConsumerHarness,
    ProducerHarness,
)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000.0

    def __call__(self) -> float:
        return self.ms


class LocalProducer:
    def __init__(self, db: SQLiteDatabase, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.queue: Queue = SQLQueue(db, "jobs", clock=clock)

    async def delivered(self) -> list[tuple[Any, int]]:
        try:
            rows = await self.db.query(
                "SELECT body, sent_at, visible_at FROM __helix_queue_messages WHERE queue = 'jobs'"
                " ORDER BY rowid"
            )
        except Exception:
            return []
        return [(json.loads(r["body"]), (r["visible_at"] - r["sent_at"]) // 1000) for r in rows]


class CloudflareProducer:
    def __init__(self) -> None:
        self.binding = FakeQueueBinding()
        self.queue: Queue = CloudflareQueue(self.binding, "JOBS")

    async def delivered(self) -> list[tuple[Any, int]]:
        for item in self.binding.sent:
            assert item["contentType"] == "json"
        return [(item["body"], item.get("delaySeconds", 0)) for item in self.binding.sent]


@pytest.fixture(params=["sqlite", "cloudflare-double"])
async def producer(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ProducerHarness]:
    if request.param == "sqlite":
        db = SQLiteDatabase(tmp_path / "q.db")
        yield LocalProducer(db, Clock())
        await db.close()
    else:
        yield CloudflareProducer()


@pytest.mark.parametrize("check", PRODUCER_CHECKS, ids=lambda c: c.__name__)
async def test_producer(
    producer: ProducerHarness, check: Callable[[ProducerHarness], Awaitable[None]]
) -> None:
    await check(producer)


class LocalConsumers:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self.clock = Clock()

    def queue(self, name: str) -> Queue:
        return SQLQueue(self.db, name, clock=self.clock)

    async def deliver(
        self,
        name: str,
        handler: Callable[[MessageBatch], Awaitable[None]],
        settings: ConsumerSettings,
    ) -> int:
        return await LocalQueueConsumer(
            self.db, name, handler, settings, clock=self.clock
        ).run_once()

    def advance(self, seconds: float) -> None:
        self.clock.ms += seconds * 1000


@pytest.fixture
async def consumers(tmp_path: Path) -> AsyncIterator[ConsumerHarness]:
    db = SQLiteDatabase(tmp_path / "q.db")
    yield LocalConsumers(db)
    await db.close()


@pytest.mark.parametrize("check", CONSUMER_CHECKS, ids=lambda c: c.__name__)
async def test_consumer(
    consumers: ConsumerHarness, check: Callable[[ConsumerHarness], Awaitable[None]]
) -> None:
    await check(consumers)


async def test_a_consumer_that_dies_mid_batch_gets_it_again(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "q.db")
    clock = Clock()
    await SQLQueue(db, "jobs", clock=clock).send({"job": 1})

    class Died(BaseException):
        pass

    async def dies(batch: MessageBatch) -> None:
        raise Died

    with pytest.raises(Died):
        await LocalQueueConsumer(db, "jobs", dies, lease_seconds=30, clock=clock).run_once()
    seen: list[int] = []

    async def ok(batch: MessageBatch) -> None:
        seen.extend(m.attempts for m in batch.messages)

    assert await LocalQueueConsumer(db, "jobs", ok, clock=clock).run_once() == 0  # leased
    clock.ms += 31_000
    assert await LocalQueueConsumer(db, "jobs", ok, clock=clock).run_once() == 1
    assert seen == [2]
    await db.close()


class RuntimeMessage:
    """A message as the Queues runtime hands it to a Worker (JS names)."""

    def __init__(self, id: str, body: Any, attempts: int) -> None:
        self.id = id
        self.timestamp = 1_700_000_000_000
        self.body = body
        self.attempts = attempts
        self.calls: list[tuple[str, Any]] = []

    def ack(self) -> None:
        self.calls.append(("ack", None))

    def retry(self, options: Any = None) -> None:
        self.calls.append(("retry", options))


class RuntimeBatch:
    def __init__(self, messages: list[RuntimeMessage]) -> None:
        self.queue = "jobs"
        self.messages = messages
        self.calls: list[tuple[str, Any]] = []

    def ackAll(self) -> None:
        self.calls.append(("ackAll", None))

    def retryAll(self, options: Any = None) -> None:
        self.calls.append(("retryAll", options))


def test_cloudflare_batch_settles_through_the_runtime() -> None:
    a, b = RuntimeMessage("m1", {"x": 1}, 1), RuntimeMessage("m2", "text", 3)
    runtime = RuntimeBatch([a, b])
    batch = CloudflareBatch(runtime)
    assert batch.queue == "jobs"
    assert [(m.id, m.body, m.attempts, m.timestamp) for m in batch.messages] == [
        ("m1", {"x": 1}, 1, 1_700_000_000_000.0),
        ("m2", "text", 3, 1_700_000_000_000.0),
    ]
    batch.messages[0].ack()
    batch.messages[1].retry(delay_seconds=30)
    batch.retry_all()
    assert a.calls == [("ack", None)]
    assert b.calls == [("retry", {"delaySeconds": 30})]
    assert runtime.calls == [("retryAll", None)]


@pytest.mark.parametrize("name", sorted(QUEUE_CHECKS))
async def test_queue_only_checks(producer: ProducerHarness, name: str) -> None:
    await QUEUE_CHECKS[name](producer.queue)
