"""Starting runs from queue messages, and handing work to another agent through the queue.

:func:`agent_task_handler` is the consumer for a helix host (the local host's consumer
loop, a Worker's ``queue`` handler): it starts one turn per message. A message's body is
plain JSON, :class:`AgentTask`'s fields in camelCase; only ``agentType`` (or ``agent``) and
``message`` are required, so any producer (another Worker, a script, ``wrangler queues``)
can send one::

    {"agentType": "researcher", "message": "...", "sessionId": "...", "messageId": "...",
     "metadata": {...}, "kind": "helix.agent-task", "origin": {...}}

Exactly once where it matters (at-least-once delivery underneath):

- the turn's ids come from the message: its ``sessionId`` and ``messageId`` when the body
  has them, else derived from the queue's own message id (:func:`queue_ids`), which stays
  the same across redeliveries; a turn whose user message id is already stored in the
  session is not started again (the message is acked), and a turn recorded but never
  launched (a crash between the two) is launched then;
- a message is acked only after its run is durably recorded and its instance created, so
  a consumer that dies before that sees the message again;
- a failure that may pass is retried with the queue's semantics (counted against its
  ``max_retries``): the database down with ``retry()`` (its ``retry_delay``), the session
  busy with another run after a backoff (:func:`busy_backoff`); a *poison* message (not a
  task, an unknown agent, a bad id) is retried at once, without delay, so that it reaches
  the ``dead_letter_queue`` (or is dropped) after ``max_retries`` instead of waiting
  between attempts; neither is retried forever.

``queue_toolkit(agents=["researcher"])`` gives an agent a ``hand_off`` tool: it sends an
agent task to ``ctx.services.queues`` (a Queues producer on Cloudflare, the SQLite queue
locally) and returns at once, with the session id the task will run in. The task's session
and message ids come from the calling tool call, so a send repeated by a retried step
starts the same turn once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigurationError, ConflictError, InvalidIdError, ToolError
from ..messages import UserMessage
from ..ports.queues import MessageBatch, QueueMessage
from ..state import RunStatus
from ..tools import Tool, ToolContext, tool

if TYPE_CHECKING:
    from ..executor import Executor

__all__ = [
    "TASK_KIND",
    "AgentTask",
    "QueueOutcome",
    "agent_task_handler",
    "busy_backoff",
    "queue_ids",
    "queue_toolkit",
    "start_from_message",
    "started_turn",
    "task_session_id",
]

TASK_KIND: Final = "helix.agent-task"

logger = logging.getLogger("helix_agents.queue")


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TaskOrigin(_Camel):
    session_id: str = Field(alias="sessionId")
    run_id: str = Field(alias="runId")
    tool_call_id: str = Field(alias="toolCallId")
    agent: str


class AgentTask(_Camel):
    """The body of an agent task message (see the module for its JSON)."""

    kind: Literal["helix.agent-task"] = "helix.agent-task"
    agent: str = Field(
        validation_alias=AliasChoices("agentType", "agent"), serialization_alias="agentType"
    )
    message: str = Field(min_length=1)
    session_id: str | None = Field(default=None, alias="sessionId")
    message_id: str | None = Field(default=None, alias="messageId", min_length=1)
    metadata: dict[str, Any] | None = None
    origin: TaskOrigin | None = None


def queue_ids(task: AgentTask, queue_message_id: str) -> tuple[str, str]:
    """The session and user message ids a task's turn gets: its own, else derived from the
    queue's message id (the same on every delivery of the message)."""
    digest = hashlib.blake2b(queue_message_id.encode(), digest_size=12).hexdigest()
    return task.session_id or f"queue-{digest}", task.message_id or f"queue-{digest}"


def task_session_id(session_id: str, tool_call_id: str) -> str:
    """The session a task handed off by this call runs in (stable across retries)."""
    digest = hashlib.blake2b(f"{session_id}\n{tool_call_id}".encode(), digest_size=12).hexdigest()
    return f"task-{digest}"


def queue_toolkit(
    *, agents: Sequence[str], name: str = "hand_off", delay_seconds: int | None = None
) -> list[Tool]:
    """A tool that queues a task for one of ``agents`` (by registry name)."""
    allowed = list(dict.fromkeys(agents))
    if not allowed:
        raise ConfigurationError("queue_toolkit: name at least one agent that takes tasks")
    names = ", ".join(repr(a) for a in allowed)

    @tool(name=name)
    async def hand_off(ctx: ToolContext, agent: str, task: str) -> dict[str, Any]:
        """Hand a task to another agent to do later, in the background. Returns at once
        with the id of the session the task will run in; the result is not waited for.

        Args:
            agent: Which agent takes the task.
            task: What it should do, in full: it sees nothing of this conversation.
        """
        if agent not in allowed:
            raise ToolError(f"no agent {agent!r} takes tasks here; choose one of {names}")
        if not task.strip():
            raise ToolError("the task is empty: say what the agent should do")
        session = task_session_id(ctx.session_id, ctx.tool_call_id)
        body = AgentTask(
            agent=agent,
            message=task,
            session_id=session,
            message_id=session,
            origin=TaskOrigin(
                session_id=ctx.session_id,
                run_id=ctx.run_id,
                tool_call_id=ctx.tool_call_id,
                agent=ctx.agent_name,
            ),
        ).model_dump(by_alias=True, exclude_none=True)
        await ctx.services.queues.send(body, delay_seconds=delay_seconds)
        ctx.record_usage("queue.messages", 1)
        return {"queued": True, "agent": agent, "sessionId": session}

    hand_off.description += f" Agents that take tasks: {names}."
    return [hand_off]


QueueOutcome = Literal["started", "duplicate", "retry", "poison"]


async def start_from_message(executor: Executor, message: QueueMessage) -> QueueOutcome:
    """Start the turn ``message`` asks for, and settle the message (see the module):
    ``"started"`` and ``"duplicate"`` ack it, ``"retry"`` and ``"poison"`` retry it."""
    try:
        task = AgentTask.model_validate(message.body)
        agent = executor.registry.get(task.agent)
        session_id, message_id = queue_ids(task, message.id)
    except (ValidationError, ConfigurationError) as exc:
        return _poison(message, exc)
    try:
        if await started_turn(executor, session_id, message_id) is not None:
            message.ack()
            return "duplicate"
        metadata = dict(task.metadata or {})
        if task.origin is not None:
            metadata["origin"] = task.origin.model_dump(by_alias=True)
        await executor.execute(
            agent,
            UserMessage(content=task.message, id=message_id),
            session_id=session_id,
            metadata=metadata or None,
        )
    except InvalidIdError as exc:
        return _poison(message, exc)
    except ConflictError as exc:
        # Another delivery of the same message may have started it meanwhile; otherwise the
        # session is busy with another run (or belongs to another agent): later, or dead.
        if await started_turn(executor, session_id, message_id) is not None:
            message.ack()
            return "duplicate"
        delay = busy_backoff(message.attempts)
        logger.warning("queue message %s: %s; retried in %d s", message.id, exc, delay)
        message.retry(delay_seconds=delay)
        return "retry"
    except Exception as exc:  # the database or the launcher failed: it may pass
        logger.warning("queue message %s: the run did not start (%s); retried", message.id, exc)
        message.retry()
        return "retry"
    message.ack()
    return "started"


def busy_backoff(attempts: int) -> int:
    """Seconds before a message for a busy session is delivered again: 10 after the first
    attempt, doubling, at most 5 minutes (a session runs one turn at a time, and a turn may
    take a while; retrying at once would spend the message's retries in a moment)."""
    return min(10 << (max(1, min(attempts, 16)) - 1), 300)


def _poison(message: QueueMessage, exc: Exception) -> QueueOutcome:
    # Retried without delay: no attempt can succeed, so it should reach the dead-letter
    # queue (after the consumer's max_retries) as soon as the queue allows.
    logger.warning(
        "queue message %s is not a task this host can run (attempt %d): %s",
        message.id,
        message.attempts,
        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
    )
    message.retry(delay_seconds=0)
    return "poison"


async def started_turn(executor: Executor, session_id: str, message_id: str) -> str | None:
    """The run id of the turn whose user message is ``message_id``, if it was started
    already (None if not). A run recorded but whose instance was never created (a crash
    between the two) is launched now."""
    found = await executor.store.find_user_message(session_id, message_id)
    if found is None:
        return None
    turn = found[1].turn
    if turn is None:  # stored before turns were stamped on messages: the latest run
        latest = await executor.store.latest_run(session_id)
        return None if latest is None else latest.run_id
    from ..ids import run_instance_id

    run_id = run_instance_id(session_id, turn)
    run = await executor.store.get_run(run_id)
    if (
        run is not None
        and run.status == RunStatus.ACTIVE
        and (await executor.launcher.status(run_id)).status == "unknown"
    ):
        await executor.starter.relaunch(run)
    return run_id


def agent_task_handler(executor: Executor) -> Callable[[MessageBatch], Awaitable[None]]:
    """A queue consumer that starts one turn per message, acked once the turn is durably
    started (:func:`start_from_message`, message by message)."""

    async def handle(batch: MessageBatch) -> None:
        for message in batch.messages:
            await start_from_message(executor, message)

    return handle
