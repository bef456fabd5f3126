"""The queue toolkit on the real local host: an agent hands a task to another agent through
the SQLite queue; the local consumer starts the task's turn once, however often the message
is delivered; a task for an unknown agent ends in the dead-letter queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.hosts.local.host import LocalHost
from helix_agents.hosts.local.queues import LocalQueueConsumer, SQLQueue
from helix_agents.messages import ToolResultMessage, UserMessage
from helix_agents.ports.queues import ConsumerSettings, MessageBatch
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import agent_task_handler, queue_toolkit
from helix_agents.toolkits.queue import task_session_id

pytestmark = pytest.mark.timeout(60)


def boss_model() -> FunctionModel:
    def respond(messages: list[Any], info: Any) -> Any:
        if info.tool_results:
            return "Handed off."
        return call_tool("hand_off", agent="worker", task="Summarise the release notes")

    return FunctionModel(respond)


def worker_model() -> FunctionModel:
    def respond(messages: list[Any], info: Any) -> Any:
        return f"Working on: {messages[-1].content}"

    return FunctionModel(respond)


async def test_hand_off_runs_the_task_once(tmp_path: Path) -> None:
    boss = Agent("boss", tools=queue_toolkit(agents=["worker"]), model=boss_model())
    worker = Agent("worker", model=worker_model())
    async with LocalHost([boss, worker], tmp_path / "data") as host:
        handle = await host.executor.execute("boss", "get the notes summarised")
        assert (await handle.result()).status == RunStatus.COMPLETED
        [result] = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
        assert result.status == "success"
        session = result.content["sessionId"]
        assert result.content == {"queued": True, "agent": "worker", "sessionId": session}
        assert session == task_session_id(handle.session_id, result.tool_call_id)
        queue = host.services.queues
        assert isinstance(queue, SQLQueue)
        [body] = [m.body for m in await _peek(host)]
        assert body["kind"] == "helix.agent-task"
        assert body["origin"]["agent"] == "boss"
        # The queue delivers the message twice (at least once): one turn starts.
        await queue.send(body)
        consumer = LocalQueueConsumer(host.db, "default", agent_task_handler(host.executor))
        assert await consumer.drain() == 2
        assert await queue.depth() == 0
        task = await host.executor.get_handle(session)
        assert task is not None
        assert (await task.result()).status == RunStatus.COMPLETED
        messages = await task.messages()
        users = [m for m in messages if isinstance(m, UserMessage)]
        assert [u.content for u in users] == ["Summarise the release notes"]
        assert messages[-1].content == "Working on: Summarise the release notes"
        assert (await handle.run_usage()).custom == {"queue.messages": 1}


async def _peek(host: LocalHost) -> list[Any]:
    seen: list[Any] = []

    async def look(batch: MessageBatch) -> None:
        seen.extend(batch.messages)
        batch.retry_all()

    await LocalQueueConsumer(host.db, "default", look, ConsumerSettings(max_retries=5)).run_once()
    # Put it back where it was: due now.
    await host.db.execute("UPDATE __helix_queue_messages SET visible_at = 0, attempts = 0")
    return seen


async def test_bad_tasks_end_in_the_dead_letter_queue(tmp_path: Path) -> None:
    worker = Agent("worker", model=worker_model())
    async with LocalHost(worker, tmp_path / "data") as host:
        queue = host.services.queues
        await queue.send(
            {
                "kind": "helix.agent-task",
                "agent": "nobody",
                "message": "x",
                "sessionId": "task-x",
                "messageId": "task-x",
            }
        )
        await queue.send({"not": "a task"})
        settings = ConsumerSettings(max_retries=1, dead_letter_queue="dead")
        consumer = LocalQueueConsumer(
            host.db, "default", agent_task_handler(host.executor), settings
        )
        assert await consumer.drain() == 4  # two messages, each delivered twice
        dead: list[Any] = []

        async def collect(batch: MessageBatch) -> None:
            dead.extend(m.body for m in batch.messages)

        assert await LocalQueueConsumer(host.db, "dead", collect).drain() == 2
        assert {d.get("agent", "-") for d in dead} == {"nobody", "-"}


def test_toolkit_settings() -> None:
    from helix_agents.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        queue_toolkit(agents=[])
    [t] = queue_toolkit(agents=["a", "b"], name="delegate")
    assert t.name == "delegate"
    assert "'a', 'b'" in t.description


async def test_the_local_host_can_consume_its_queue(tmp_path: Path) -> None:
    import asyncio

    boss = Agent("boss", tools=queue_toolkit(agents=["worker"]), model=boss_model())
    worker = Agent("worker", model=worker_model())
    settings = ConsumerSettings(max_batch_size=5)
    async with LocalHost([boss, worker], tmp_path / "data", queue_consumer=settings) as host:
        handle = await host.executor.execute("boss", "delegate it")
        assert (await handle.result()).status == RunStatus.COMPLETED
        [result] = [m for m in await handle.messages() if isinstance(m, ToolResultMessage)]
        session = result.content["sessionId"]
        for _ in range(200):  # the consumer polls every half second
            task = await host.executor.get_handle(session)
            if task is not None:
                break
            await asyncio.sleep(0.05)
        assert task is not None
        assert (await task.result()).status == RunStatus.COMPLETED
