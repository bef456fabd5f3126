"""Sub-agents and persistent companions: the tools that delegate, as declarations.

``subagent_tool(agent)`` makes an agent a tool of another; ``Agent(companions=[...])``
gives an agent the six companion tools, which :class:`~helix_agents.AgentRegistry` builds
with :func:`companion_tools` when it registers the agent. A delegating tool is data only (a
:class:`DelegatingTool`: its arguments' schema, which child agent, how long to wait): the
loop runs its calls as a step kind of their own, the delegation step
(:mod:`helix_agents.core.delegation_step`), beside the model and tool steps. This module
imports nothing of ``helix_agents.core``, so an agent definition never does either.
The guide is docs/subagents.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .durations import parse_duration
from .errors import ConfigurationError
from .tools import Tool, tool

if TYPE_CHECKING:
    from .agent import Agent

__all__ = [
    "COMPANION_TOOL_NAMES",
    "CompanionTool",
    "DelegatingTool",
    "RemoteSubagentTool",
    "SubagentTool",
    "companion_tools",
    "remote_subagent_tool",
    "subagent_tool",
]


@dataclass(eq=False)
class DelegatingTool(Tool):
    """A tool whose calls run child agents instead of a function (``function`` is None)."""

    #: How long a call waits for its child's end (a Workflows duration).
    timeout: str | float = "24 hours"
    #: Agent objects this tool starts; registering the parent registers them too.
    child_agents: tuple[Any, ...] = ()


@dataclass(eq=False)
class SubagentTool(DelegatingTool):
    """``message`` -> a fresh child session of ``agent_name``; its output is the result."""

    agent_name: str = ""


@dataclass(eq=False)
class CompanionTool(DelegatingTool):
    """One of the six companion operations (``op``) over the companions ``agent_names``."""

    op: str = ""
    agent_names: tuple[str, ...] = ()


T = TypeVar("T", bound=DelegatingTool)


def build_delegating_tool(
    cls: type[T], stub: Callable[..., Any], *, name: str, description: str, **fields: Any
) -> T:
    """A DelegatingTool whose arguments are those of ``stub`` (which is never called)."""
    base = tool(name=name, description=description)(stub)
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(Tool)}
    values["function"] = None
    return cls(**values, **fields)


def _agent_name(agent: object) -> str | None:
    """The name of an Agent object (recognised by its shape: importing ``agent`` here would
    make the two modules import each other), else None."""
    name = getattr(agent, "name", None)
    if isinstance(name, str) and callable(getattr(agent, "tool_definitions", None)):
        return name
    return None


# -- sub-agents ------------------------------------------------------------------------------


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
    children: tuple[Any, ...] = ()
    object_name = _agent_name(agent)
    if object_name is not None:
        agent_name, children, about = object_name, (agent,), getattr(agent, "description", None)
    elif isinstance(agent, str) and agent:
        agent_name, about = agent, None
    else:
        raise ConfigurationError(f"subagent_tool needs an Agent or an agent name, not {agent!r}")
    tool_name = name or f"ask_{agent_name}".replace(".", "_")
    built = build_delegating_tool(
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


# -- remote sub-agents -----------------------------------------------------------------------


@dataclass(eq=False)
class RemoteSubagentTool(DelegatingTool):
    """``message`` -> a fresh session of ``agent_type`` on the helix-agents deployment at
    ``url`` (its HTTP API); its output is the result. The call's whole wait is one step,
    bounded by ``timeout`` (docs/subagents.md, "Remote sub-agents")."""

    url: str | None = None
    #: Else the URL is the host variable of this name, read when a call starts (a Worker's
    #: env var, the local host's environment).
    url_var: str | None = None
    agent_type: str = ""
    #: The remote's API token, or a function returning it; or ``token_var``: the host
    #: variable (a Worker secret) holding it. Read when a call starts.
    token: str | Callable[[], str | None] | None = None
    token_var: str | None = None
    #: An ``httpx.AsyncBaseTransport`` for the calls (None: the host's, which on Cloudflare
    #: is the Workers ``fetch`` one, else httpx's own).
    transport: Any = None

    def resolve(self, variables: Mapping[str, str]) -> tuple[str, str | None]:
        """The URL and the token, for a call on a host with these variables."""
        url = self.url or (variables.get(self.url_var) if self.url_var else None)
        if not url:
            raise ConfigurationError(
                f"tool {self.name!r}: the remote agent's URL variable {self.url_var!r} is not set"
            )
        token = self.token() if callable(self.token) else self.token
        if token is None and self.token_var:
            token = variables.get(self.token_var)
        return url.rstrip("/"), token


def remote_subagent_tool(
    name: str,
    url: str | None,
    agent_type: str,
    *,
    url_var: str | None = None,
    token: str | Callable[[], str | None] | None = None,
    token_var: str | None = None,
    timeout: str | float = "10 minutes",
    description: str | None = None,
    requires_approval: bool = False,
    transport: Any = None,
) -> RemoteSubagentTool:
    """A tool ``name`` that hands a task to the agent ``agent_type`` served by another
    helix-agents deployment at ``url`` (or at the URL in the host variable ``url_var``)
    and returns its final output.

    ``timeout`` (a Workflows duration; a number is milliseconds) bounds the call from its
    start: past it the remote run is aborted and the model gets an error result. The call
    waits inside one step, whose own timeout is set a minute above it.
    """
    if (url is None) == (url_var is None):
        raise ConfigurationError(f"remote_subagent_tool {name!r}: give url or url_var (one)")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise ConfigurationError(f"remote_subagent_tool {name!r}: url must be http(s), not {url!r}")
    if not isinstance(agent_type, str) or not agent_type:
        raise ConfigurationError(f"remote_subagent_tool {name!r}: agent_type must be a name")
    limit = parse_duration(timeout, what=f"the timeout of tool {name!r}")
    if limit <= 0:
        raise ConfigurationError(f"remote_subagent_tool {name!r}: timeout must be positive")
    built = build_delegating_tool(
        RemoteSubagentTool,
        _delegate,
        name=name,
        description=description or f"Delegate a task to the remote {agent_type} agent.",
        url=url.rstrip("/") if url is not None else None,
        url_var=url_var,
        agent_type=agent_type,
        token=token,
        token_var=token_var,
        transport=transport,
        timeout=timeout,
    )
    built.requires_approval = requires_approval
    built.step_config = {
        # A failed attempt (the host died, the remote was unreachable) is retried; the
        # retry asks the remote where the run is instead of starting it again.
        "retries": {"limit": 3, "delay": 1000, "backoff": "exponential"},
        "timeout": int(limit) + 60_000,
    }
    return built


# -- companions: the tools' signatures (the stubs are never called) ---------------------------


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


def companion_tools(companions: Sequence[Agent | str]) -> list[CompanionTool]:
    """The six companion tools for the given companion agents (objects or names)."""
    names = tuple(_agent_name(c) or str(c) for c in companions)
    objects = tuple(c for c in companions if _agent_name(c) is not None)
    tools = []
    for op, stub in _OPS:
        description = (stub.__doc__ or "").strip().splitlines()[0]
        if op == "spawn":
            description += f" Agents: {', '.join(names)}."
        tools.append(
            build_delegating_tool(
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
