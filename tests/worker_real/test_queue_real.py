"""The Worker's queue consumer on the real runtime (local workerd, where Queues run for
real): a message sent through the ``QUEUE`` producer binding starts exactly one run; the
same task sent twice, and a message redelivered after a crash between its run's start and
its ack, still start one; a poison message ends in the dead-letter queue after the
consumer's retries, with no run. One Worker for the module."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from helix_agents.workerd.site import DEAD_LETTER_QUEUE, QUEUE_CONSUMER, QUEUE_NAME, worker_config
from tests.http.agents import echo
from tests.worker_real.queue_route import DEAD_LETTER_QUEUE as SHIPPED_DLQ
from tests.worker_real.queue_route import QUEUE_PATH

from .harness import RealWorker, WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def worker(worker_pool: WorkerPool) -> RealWorker:
    config, _ = config_of((echo(),), {})
    return worker_pool.get(root_env(config), "test_queue_real")


@pytest.fixture
async def client(worker: RealWorker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as c:
        yield c


async def _send(client: httpx.AsyncClient, body: Any) -> None:
    res = await client.post(QUEUE_PATH, json={"body": body})
    assert res.status_code == 200, res.text


async def _report(client: httpx.AsyncClient, tag: str) -> dict[str, Any]:
    res = await client.get(QUEUE_PATH, params={"tag": tag})
    assert res.status_code == 200, res.text
    answer: dict[str, Any] = res.json()
    return answer


async def _until(
    client: httpx.AsyncClient, tag: str, done: Callable[[dict[str, Any]], bool], seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        report = await _report(client, tag)
        if done(report):
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {seconds} s: {report}")
        await asyncio.sleep(0.3)


def _finished(report: dict[str, Any]) -> bool:
    runs = [run for runs in report["sessions"].values() for run in runs]
    return bool(runs) and all(status != "active" for _, status in runs)


def test_the_consumer_is_configured_with_a_dead_letter_queue() -> None:
    config = worker_config(with_testing=True)
    [consumer, dead] = config["queues"]["consumers"]
    assert consumer == QUEUE_CONSUMER
    assert consumer["queue"] == QUEUE_NAME
    assert consumer["dead_letter_queue"] == DEAD_LETTER_QUEUE == SHIPPED_DLQ
    assert dead["queue"] == DEAD_LETTER_QUEUE  # the test Worker records what reaches it
    assert len(worker_config()["queues"]["consumers"]) == 1  # a shipped one leaves it be


async def test_a_queue_message_starts_exactly_one_run(client: httpx.AsyncClient) -> None:
    tag = f"{RUN}-one"
    await _send(
        client, {"agentType": "echo", "message": "from the queue", "metadata": {"tag": tag}}
    )
    report = await _until(client, tag, _finished)
    [(session, runs)] = report["sessions"].items()
    assert session.startswith("queue-")  # derived from the queue's message id
    assert report["metadata"] == {session: {"tag": tag}}
    assert runs == [[f"{session}--t1", "completed"]]
    snapshot = (await client.get(f"/chat/{session}")).json()
    assert snapshot["agentType"] == "echo"
    assert snapshot["messages"][-1]["parts"][-1]["text"] == "echo: from the queue"
    await asyncio.sleep(3)  # nothing else arrives later
    assert (await _report(client, tag))["sessions"] == report["sessions"]


async def test_the_same_task_sent_twice_starts_one_run(client: httpx.AsyncClient) -> None:
    tag = f"{RUN}-twice"
    body = {
        "agentType": "echo",
        "message": "only once",
        "sessionId": f"q-twice-{RUN}",
        "messageId": f"m-{RUN}",
        "metadata": {"tag": tag},
    }
    await _send(client, body)
    await _send(client, body)
    report = await _until(client, tag, _finished)
    await asyncio.sleep(3)  # the second delivery is done by now
    report = await _report(client, tag)
    assert report["sessions"] == {f"q-twice-{RUN}": [[f"q-twice-{RUN}--t1", "completed"]]}


async def test_a_crash_before_the_ack_redelivers_without_a_second_run(
    client: httpx.AsyncClient,
) -> None:
    tag = f"{RUN}-crash"
    session = f"q-crash-{RUN}"
    await _send(
        client,
        {
            "agentType": "echo",
            "message": "survive a crash",
            "sessionId": session,
            "metadata": {"tag": tag},
            "testCrashBeforeAck": True,
        },
    )

    def redelivered(report: dict[str, Any]) -> bool:
        return _finished(report) and any(
            d["outcome"] == "duplicate" for d in report["deliveries"] if d["attempts"] == 2
        )

    report = await _until(client, tag, redelivered)
    assert report["sessions"] == {session: [[f"{session}--t1", "completed"]]}
    mine = [
        d for d in report["deliveries"] if d["message_id"] == report["deliveries"][-1]["message_id"]
    ]
    assert [(d["attempts"], d["outcome"]) for d in mine] == [(1, "crashed"), (2, "duplicate")]


async def test_a_poison_message_ends_in_the_dead_letter_queue(client: httpx.AsyncClient) -> None:
    tag = f"{RUN}-poison"
    await _send(client, {"agentType": "nobody", "message": "x", "metadata": {"tag": tag}})

    def dead(report: dict[str, Any]) -> bool:
        return any(d["body"].get("metadata", {}).get("tag") == tag for d in report["deadLetters"])

    report = await _until(client, tag, dead, seconds=90)
    assert report["sessions"] == {}
