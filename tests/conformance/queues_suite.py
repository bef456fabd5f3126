"""The Queue conformance suite, in two parts.

- Producer checks take a :class:`ProducerHarness`: a ``queue`` (the port) and
  ``delivered()``, the bodies that reached the consumer side so far (with their delays).
  They run against the local queue and the Cloudflare producer over the documented-API
  double; :data:`QUEUE_CHECKS` (sends accepted, limits refused) need only the queue and run
  inside the real Worker over real Queues too (tests/worker_real/test_retrieval_real.py).
- Consumer checks take a :class:`ConsumerHarness`: a queue, a way to deliver due batches
  to a handler with given settings, and a way to move time on. They pin the platform's
  settlement rules (ack, retry, the implicit ack and retry, dead letters) against the
  local consumer; the real Worker's consumer runs the same rules in the real-Worker tier.

Plain async checks (no pytest here): :data:`PRODUCER_CHECKS`, :data:`CONSUMER_CHECKS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from helix_agents.errors import QueueError
from helix_agents.ports.queues import ConsumerSettings, MessageBatch, OutgoingMessage, Queue

__all__ = [
    "CONSUMER_CHECKS",
    "PRODUCER_CHECKS",
    "QUEUE_CHECKS",
    "ConsumerHarness",
    "ProducerHarness",
]


class ProducerHarness(Protocol):
    queue: Queue

    async def delivered(self) -> list[tuple[Any, int]]:
        """``(body, delay_seconds)`` of every message sent so far, in order."""
        ...


class ConsumerHarness(Protocol):
    def queue(self, name: str) -> Queue: ...

    async def deliver(
        self,
        name: str,
        handler: Callable[[MessageBatch], Awaitable[None]],
        settings: ConsumerSettings,
    ) -> int:
        """Deliver one batch of due messages of ``name``; returns its size."""
        ...

    def advance(self, seconds: float) -> None: ...


async def _raises(awaitable: Awaitable[Any], fragment: str) -> None:
    failure: QueueError | None = None
    try:
        await awaitable
    except QueueError as exc:
        failure = exc
    if failure is None:
        raise AssertionError(f"expected a QueueError about {fragment!r}")
    assert fragment in str(failure), f"{fragment!r} not in {failure}"


async def check_send_and_batch(h: ProducerHarness) -> None:
    await h.queue.send({"task": "one", "n": 1})
    await h.queue.send("plain text", delay_seconds=30)
    await h.queue.send_batch(
        [OutgoingMessage({"task": "two"}), OutgoingMessage([1, 2, 3], delay_seconds=5)],
        delay_seconds=10,
    )
    assert await h.delivered() == [
        ({"task": "one", "n": 1}, 0),
        ("plain text", 30),
        ({"task": "two"}, 10),
        ([1, 2, 3], 5),
    ]


async def check_refusals(queue: Queue) -> None:
    """What breaks the limits is refused before it is sent."""
    await _raises(queue.send({"x": "y" * 130_000}), "bytes")
    await _raises(queue.send({1, 2}), "JSON")
    await _raises(queue.send("x", delay_seconds=43_201), "delay_seconds")
    await _raises(queue.send("x", delay_seconds=-1), "delay_seconds")
    await _raises(queue.send_batch([]), "at least one")
    await _raises(queue.send_batch([OutgoingMessage(i) for i in range(101)]), "100")
    await _raises(queue.send_batch([OutgoingMessage("y" * 100_000) for _ in range(3)]), "bytes")


async def check_sends(queue: Queue) -> None:
    """Every shape of send the port has is accepted (the real runtime's check of our calls:
    content type, delays, a batch, JSON with nulls and non-ASCII text)."""
    await queue.send({"task": "one", "none": None, "text": "café ☕"})
    await queue.send("plain text", delay_seconds=30)
    await queue.send_batch(
        [OutgoingMessage({"task": "two"}), OutgoingMessage([1, 2, 3], delay_seconds=5)],
        delay_seconds=10,
    )


async def check_producer_limits(h: ProducerHarness) -> None:
    await check_refusals(h.queue)
    assert await h.delivered() == []  # nothing of a refused batch went out


#: The checks that need only a queue: what the real Worker runs (it cannot see deliveries).
QUEUE_CHECKS: dict[str, Callable[[Queue], Awaitable[None]]] = {
    "sends": check_sends,
    "refusals": check_refusals,
}

PRODUCER_CHECKS: list[Callable[[ProducerHarness], Awaitable[None]]] = [
    check_send_and_batch,
    check_producer_limits,
]


class _Recorder:
    def __init__(self, decide: Callable[[MessageBatch], None] | None = None, fail: bool = False):
        self.seen: list[list[tuple[Any, int]]] = []
        self.decide = decide
        self.fail = fail

    async def __call__(self, batch: MessageBatch) -> None:
        self.seen.append([(m.body, m.attempts) for m in batch.messages])
        if self.decide is not None:
            self.decide(batch)
        if self.fail:
            raise RuntimeError("the handler failed")


async def check_implicit_ack(h: ConsumerHarness) -> None:
    q = h.queue("implicit")
    await q.send_batch([OutgoingMessage({"i": i}) for i in range(3)])
    handler = _Recorder()
    settings = ConsumerSettings(max_batch_size=2)
    assert await h.deliver("implicit", handler, settings) == 2
    assert await h.deliver("implicit", handler, settings) == 1
    assert await h.deliver("implicit", handler, settings) == 0
    assert handler.seen == [[({"i": 0}, 1), ({"i": 1}, 1)], [({"i": 2}, 1)]]


async def check_explicit_retry_with_delay(h: ConsumerHarness) -> None:
    q = h.queue("explicit")
    await q.send_batch([OutgoingMessage("keep"), OutgoingMessage("again")])

    def decide(batch: MessageBatch) -> None:
        for m in batch.messages:
            if m.body == "again" and m.attempts == 1:
                m.retry(delay_seconds=60)
            m.ack()  # the first call decides: a retried message stays retried

    handler = _Recorder(decide)
    assert await h.deliver("explicit", handler, ConsumerSettings()) == 2
    assert await h.deliver("explicit", handler, ConsumerSettings()) == 0  # not due yet
    h.advance(61)
    assert await h.deliver("explicit", handler, ConsumerSettings()) == 1
    assert handler.seen[-1] == [("again", 2)]
    assert await h.deliver("explicit", handler, ConsumerSettings()) == 0


async def check_failed_handler_retries_unsettled(h: ConsumerHarness) -> None:
    q = h.queue("failing")
    await q.send_batch([OutgoingMessage("acked"), OutgoingMessage("lost")])

    def decide(batch: MessageBatch) -> None:
        batch.messages[0].ack()

    failing = _Recorder(decide, fail=True)
    assert await h.deliver("failing", failing, ConsumerSettings()) == 2
    ok = _Recorder()
    assert await h.deliver("failing", ok, ConsumerSettings()) == 1
    assert ok.seen == [[("lost", 2)]]


async def check_dead_letters(h: ConsumerHarness) -> None:
    q = h.queue("work")
    await q.send({"job": "poison"})
    settings = ConsumerSettings(max_retries=2, dead_letter_queue="work-dlq")
    failing = _Recorder(fail=True)
    for _ in range(3):  # the first delivery and two retries
        assert await h.deliver("work", failing, settings) == 1
    assert [batch[0][1] for batch in failing.seen] == [1, 2, 3]
    assert await h.deliver("work", failing, settings) == 0
    dead = _Recorder()
    assert await h.deliver("work-dlq", dead, ConsumerSettings()) == 1
    assert dead.seen == [[({"job": "poison"}, 1)]]


async def check_dropped_without_dead_letter_queue(h: ConsumerHarness) -> None:
    q = h.queue("dropping")
    await q.send("gone")
    settings = ConsumerSettings(max_retries=0)
    retrying = _Recorder(lambda b: b.retry_all())
    assert await h.deliver("dropping", retrying, settings) == 1
    assert await h.deliver("dropping", retrying, settings) == 0


CONSUMER_CHECKS: list[Callable[[ConsumerHarness], Awaitable[None]]] = [
    check_implicit_ack,
    check_explicit_retry_with_delay,
    check_failed_handler_retries_unsettled,
    check_dead_letters,
    check_dropped_without_dead_letter_queue,
]
