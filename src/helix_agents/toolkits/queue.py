"""Handing work to another agent (or another Worker) through the queue port.

``queue_toolkit(agents=["researcher"])`` gives an agent a ``hand_off`` tool: it sends an
*agent task* to ``ctx.services.queues`` (a Queues producer on Cloudflare, the SQLite queue
locally) and returns at once, with the session id the task will run in. The task runs
later, wherever the queue is consumed: :func:`agent_task_handler` is that consumer for a
helix host (the local host's consumer loop, or a Worker's ``queue`` handler), starting one
turn of the named agent per task. Another Worker can consume the same messages: their
body is plain JSON, :class:`AgentTask`'s fields in camelCase::

    {"kind": "helix.agent-task", "agent": "researcher", "message": "...",
     "sessionId": "task-…", "messageId": "task-…", "origin": {"sessionId", "runId",
     "toolCallId", "agent"}}

Exactly once where it matters: the task's session and message ids come from the calling
tool call, so a send repeated by a retried step, or a message the queue delivers twice,
starts the same turn once (the executor answers a repeated message id with the turn it
already started).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigurationError, ToolError
from ..messages import UserMessage
from ..ports.queues import MessageBatch
from ..tools import Tool, ToolContext, tool

if TYPE_CHECKING:
    from ..executor import Executor

__all__ = ["TASK_KIND", "AgentTask", "agent_task_handler", "queue_toolkit", "task_session_id"]

TASK_KIND: Final = "helix.agent-task"


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TaskOrigin(_Camel):
    session_id: str = Field(alias="sessionId")
    run_id: str = Field(alias="runId")
    tool_call_id: str = Field(alias="toolCallId")
    agent: str


class AgentTask(_Camel):
    """The body of an agent task message."""

    kind: Literal["helix.agent-task"] = "helix.agent-task"
    agent: str
    message: str
    session_id: str = Field(alias="sessionId")
    message_id: str = Field(alias="messageId")
    origin: TaskOrigin | None = None


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


def agent_task_handler(executor: Executor) -> Callable[[MessageBatch], Awaitable[None]]:
    """A queue consumer that starts one turn per agent task (see the module).

    A message that is not a task, or names an agent the registry lacks, is retried and so
    ends in the dead-letter queue (or is dropped) under the queue's rules; so is a task whose
    start fails. The others are acked one by one.
    """

    async def handle(batch: MessageBatch) -> None:
        for message in batch.messages:
            try:
                task = AgentTask.model_validate(message.body)
                if await executor.store.find_user_message(task.session_id, task.message_id):
                    message.ack()  # delivered again: its turn has started already
                    continue
                await executor.execute(
                    task.agent,
                    UserMessage(content=task.message, id=task.message_id),
                    session_id=task.session_id,
                    metadata=None
                    if task.origin is None
                    else {"origin": task.origin.model_dump(by_alias=True)},
                )
            except Exception:  # a malformed task, an unknown agent, a failed start
                message.retry()
            else:
                message.ack()

    return handle
