"""Persistent companions: named children that keep their session across calls.

An agent that declares ``companions=[...]`` gets six tools:

- ``spawn_agent(agent_type, name, message, wait=True)``: start the companion ``name``, or,
  if it exists and is idle, send it ``message`` as its next turn (its session, and so its
  memory, is preserved: re-spawning a completed companion continues it);
- ``send_message(name, message, wait=True)``: the next turn of an existing companion;
- ``wait_for_result(name)``: wait for the companion's current turn and return its output;
- ``list_children()``, ``get_child_status(name)``, ``terminate_child(name)``.

With ``wait=True`` a call blocks (durably, see :mod:`.children`) until the companion's turn
ends, and the companion's chunks are forwarded to the parent's stream; with ``wait=False``
the call returns at once and the companion streams to its own stream.
A companion's session id is derived from the parent's session and the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chunks import ToolErrorChunk, ToolOutputChunk
from ..errors import HelixError
from ..ports.step import StepContext
from ..state import FINAL_STATUSES
from ..tools import ToolArgumentsError
from .children import ChildRef, ChildTool, child_session_id, finish_with_child, open_child
from .params import PlannedCall, ToolStepResult
from .subagents import build_child_tool

if TYPE_CHECKING:
    from ..agent import Agent
    from .stream_writer import StreamWriter
    from .tool_step import ToolStep

__all__ = ["COMPANION_TOOL_NAMES", "CompanionTool", "companion_tools"]


class _Refused(Exception):
    """A companion request the model must correct (told as the call's error result)."""


@dataclass(eq=False)
class CompanionTool(ChildTool):
    op: str = ""
    agent_names: tuple[str, ...] = ()
    child_agents: tuple[Any, ...] = ()

    async def start(
        self, step: ToolStep, ctx: StepContext, writer: StreamWriter, planned: PlannedCall
    ) -> ToolStepResult:
        call = planned.call
        try:
            args = self.validate_arguments(call.arguments).model_dump()
        except ToolArgumentsError as exc:
            return await _error(step, ctx, writer, planned, exc.message, input_error=True)
        try:
            if self.op in ("spawn", "send", "wait"):
                return await self._run(step, ctx, writer, planned, args)
            if self.op == "list":
                output: Any = await self._list(step)
            elif self.op == "status":
                output = await self._status(step, args["name"])
            else:
                output = await self._terminate(step, args["name"])
        except (_Refused, HelixError) as exc:
            return await _error(step, ctx, writer, planned, str(exc))
        await writer.add(ToolOutputChunk(tool_call_id=call.id, output=output))
        await step.write_result(ctx, planned, output, "success")
        return ToolStepResult(status="success")

    # -- the ops ---------------------------------------------------------------------------

    def _child(self, step: ToolStep, name: str, agent_type: str, blocking: bool) -> ChildRef:
        return ChildRef(
            session_id=child_session_id(step.rc.params.session_id, name, prefix="cmp"),
            agent_type=agent_type,
            mode="persistent",
            name=name,
            blocking=blocking,
        )

    async def _known(self, step: ToolStep, name: str) -> str:
        ref = await step.rc.deps.store.find_sub_session_by_name(step.rc.params.session_id, name)
        if ref is None or ref.mode != "persistent":
            raise _Refused(f"There is no companion named {name!r}. Spawn it first.")
        return ref.agent_type

    async def _run(
        self,
        step: ToolStep,
        ctx: StepContext,
        writer: StreamWriter,
        planned: PlannedCall,
        args: dict[str, Any],
    ) -> ToolStepResult:
        store = step.rc.deps.store
        name = args["name"]
        message: str | None = args.get("message")
        if self.op == "spawn":
            agent_type = args["agent_type"]
            if agent_type not in self.agent_names:
                raise _Refused(
                    f"Unknown companion agent {agent_type!r}; choose one of "
                    f"{', '.join(self.agent_names)}."
                )
            ref = await store.find_sub_session_by_name(step.rc.params.session_id, name)
            if ref is not None and ref.agent_type != agent_type:
                raise _Refused(
                    f"The companion {name!r} is a {ref.agent_type!r} agent, not {agent_type!r}."
                )
        else:
            agent_type = await self._known(step, name)
        blocking = bool(args.get("wait", True))
        child = self._child(step, name, agent_type, blocking)
        if message is not None:
            latest = await store.latest_run(child.session_id)
            busy = latest is not None and latest.status not in FINAL_STATUSES
            if busy and not await store.turn_started_by(child.session_id, planned.call.id):
                assert latest is not None
                raise _Refused(
                    f"The companion {name!r} is busy ({latest.status.value}). Call "
                    "wait_for_result first."
                )
        opened = await open_child(step, writer, planned, child, message=message)
        if opened is None:
            return await finish_with_child(step, ctx, writer, planned, child.session_id)
        if opened.status == "waiting" and not blocking:
            output = {"name": name, "sessionId": child.session_id, "status": "running"}
            await writer.add(ToolOutputChunk(tool_call_id=planned.call.id, output=output))
            await step.write_result(ctx, planned, output, "success")
            return ToolStepResult(status="success")
        return opened

    async def _list(self, step: ToolStep) -> list[dict[str, Any]]:
        store = step.rc.deps.store
        out = []
        for ref in await store.list_sub_sessions(step.rc.params.session_id, mode="persistent"):
            state = await store.load_session(ref.sub_session_id)
            out.append(
                {
                    "name": ref.name,
                    "agentType": ref.agent_type,
                    "sessionId": ref.sub_session_id,
                    "status": state.status.value if state is not None else ref.status,
                }
            )
        return out

    async def _status(self, step: ToolStep, name: str) -> dict[str, Any]:
        await self._known(step, name)
        child = child_session_id(step.rc.params.session_id, name, prefix="cmp")
        state = await step.rc.deps.store.require_session(child)
        info: dict[str, Any] = {"name": name, "status": state.status.value}
        if state.output is not None:
            info["output"] = state.output
        if state.error:
            info["error"] = state.error
        return info

    async def _terminate(self, step: ToolStep, name: str) -> dict[str, Any]:
        await self._known(step, name)
        store = step.rc.deps.store
        parent = step.rc.params.session_id
        child = child_session_id(parent, name, prefix="cmp")
        latest = await store.latest_run(child)
        if latest is not None and latest.status not in FINAL_STATUSES:
            await store.abort(child, None, "terminated by its parent")
            await step.rc.starter().stop_instance(latest)
        await store.update_sub_session(parent, child, "terminated")
        return {"name": name, "status": "terminated"}


async def _error(
    step: ToolStep,
    ctx: StepContext,
    writer: StreamWriter,
    planned: PlannedCall,
    message: str,
    *,
    input_error: bool = False,
) -> ToolStepResult:
    call = planned.call
    await writer.add(
        ToolErrorChunk(
            tool_call_id=call.id,
            error=message,
            input_error=input_error or None,
            tool_name=call.name if input_error else None,
            input=call.arguments if input_error else None,
        )
    )
    await step.write_result(ctx, planned, message, "error")
    return ToolStepResult(status="error")


# -- the tools' signatures (the stubs are never called) -------------------------------------


def spawn_agent(agent_type: str, name: str, message: str, wait: bool = True) -> None:
    """Start a named companion agent, or continue it if it exists and is idle.

    Args:
        agent_type: Which agent to start.
        name: A short name for the companion; use it to talk to it later.
        message: The companion's task or message.
        wait: Wait for its answer (true) or let it work in the background (false).
    """


def send_message(name: str, message: str, wait: bool = True) -> None:
    """Send an existing companion its next message; it remembers the conversation.

    Args:
        name: The companion's name.
        message: The message.
        wait: Wait for its answer (true) or let it work in the background (false).
    """


def wait_for_result(name: str) -> None:
    """Wait for a companion to finish its current work and return its answer.

    Args:
        name: The companion's name.
    """


def list_children() -> None:
    """List the companions started in this conversation, with their status."""


def get_child_status(name: str) -> None:
    """The status of a companion, and its latest answer or error.

    Args:
        name: The companion's name.
    """


def terminate_child(name: str) -> None:
    """Stop a companion's current work for good.

    Args:
        name: The companion's name.
    """


_OPS = (
    ("spawn", spawn_agent),
    ("send", send_message),
    ("wait", wait_for_result),
    ("list", list_children),
    ("status", get_child_status),
    ("terminate", terminate_child),
)
COMPANION_TOOL_NAMES = tuple(fn.__name__ for _, fn in _OPS)


def companion_tools(companions: tuple[Agent | str, ...]) -> list[CompanionTool]:
    """The six companion tools for the given companion agents (objects or names)."""
    from ..agent import Agent

    names = tuple(c.name if isinstance(c, Agent) else str(c) for c in companions)
    objects = tuple(c for c in companions if isinstance(c, Agent))
    tools = []
    for op, stub in _OPS:
        description = (stub.__doc__ or "").strip().splitlines()[0]
        if op == "spawn":
            description += f" Agents: {', '.join(names)}."
        tools.append(
            build_child_tool(
                CompanionTool,
                stub,
                name=stub.__name__,
                description=description,
                op=op,
                agent_names=names,
                child_agents=objects if op == "spawn" else (),
            )
        )
    return tools
