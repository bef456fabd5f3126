"""An agent as a tool of another: :func:`subagent_tool`.

Each call runs the child agent in a session of its own (derived from the parent's session
and the call id), as its own instances. The child's chunks reach the parent's stream marked
with the child's agent and session (the UI shows them as transient
``data-subagent-chunk`` parts, framed by a ``data-subagent`` part); its final output is the
call's result; its usage rolls up into the parent's through the sub-session reference.
See :mod:`.children` for the durable lifecycle, docs/subagents.md for the guide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..chunks import ToolErrorChunk
from ..errors import ConfigurationError
from ..ports.step import StepContext
from ..tools import Tool, ToolArgumentsError, tool
from .children import ChildRef, ChildTool, child_session_id, finish_with_child, open_child
from .params import PlannedCall, ToolStepResult

if TYPE_CHECKING:
    from ..agent import Agent
    from .stream_writer import StreamWriter
    from .tool_step import ToolStep

__all__ = ["SubagentTool", "build_child_tool", "subagent_tool"]

T = TypeVar("T", bound=ChildTool)


def build_child_tool(
    cls: type[T], stub: Callable[..., Any], *, name: str, description: str, **fields: Any
) -> T:
    """A ChildTool whose arguments are those of ``stub`` (which is never called)."""
    base = tool(name=name, description=description)(stub)
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(Tool)}
    values["function"] = None
    return cls(**values, **fields)


@dataclass(eq=False)
class SubagentTool(ChildTool):
    agent_name: str = ""
    #: Agent objects this tool starts; registering the parent registers them too.
    child_agents: tuple[Any, ...] = ()

    async def start(
        self, step: ToolStep, ctx: StepContext, writer: StreamWriter, planned: PlannedCall
    ) -> ToolStepResult:
        try:
            message = str(self.validate_arguments(planned.call.arguments).message)  # type: ignore[attr-defined]
        except ToolArgumentsError as exc:
            await writer.add(
                ToolErrorChunk(
                    tool_call_id=planned.call.id,
                    error=exc.message,
                    input_error=True,
                    tool_name=planned.call.name,
                    input=planned.call.arguments,
                )
            )
            await step.write_result(ctx, planned, exc.message, "error")
            return ToolStepResult(status="error")
        child = ChildRef(
            session_id=child_session_id(step.rc.params.session_id, planned.call.id),
            agent_type=self.agent_name,
        )
        opened = await open_child(step, writer, planned, child, message=message)
        if opened is None:
            return await finish_with_child(step, ctx, writer, planned, child.session_id)
        return opened


def _delegate(message: str) -> None:
    """Delegate a task.

    Args:
        message: The task, with everything the agent needs to know to do it.
    """


def subagent_tool(
    agent: Agent | str,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: str | float = "24 hours",
    requires_approval: bool = False,
) -> SubagentTool:
    """A tool that hands a task to ``agent`` and returns its final output.

    ``agent`` is an :class:`~helix_agents.Agent` (registered with the parent) or the name
    of a registered agent. ``name`` defaults to ``ask_<agent>``, ``description`` to the
    agent's description. ``timeout`` bounds how long the call waits for the child.
    """
    from ..agent import Agent

    children: tuple[Agent, ...] = ()
    if isinstance(agent, Agent):
        agent_name, children, about = agent.name, (agent,), agent.description
    elif isinstance(agent, str) and agent:
        agent_name, about = agent, None
    else:
        raise ConfigurationError(f"subagent_tool needs an Agent or an agent name, not {agent!r}")
    tool_name = name or f"ask_{agent_name}".replace(".", "_")
    built = build_child_tool(
        SubagentTool,
        _delegate,
        name=tool_name,
        description=description or about or f"Delegate a task to the {agent_name} agent.",
        agent_name=agent_name,
        child_agents=children,
        timeout=timeout,
    )
    built.requires_approval = requires_approval
    return built
