"""Agents and the registry that hosts look them up in.

An :class:`Agent` is a definition, not a running thing: a name, a system prompt, tools, a
model and optionally a structured output type. Hosts run it; the same definition runs on the
local host and on Cloudflare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .errors import ConfigurationError, UnknownAgentError
from .ports.model import ModelSettings, ToolDefinition
from .subagents import companion_tools
from .tools import Tool, ToolArgumentsError, describe_validation_error, tool

if TYPE_CHECKING:
    from .history import HistoryProcessor
    from .mcp.servers import MCPServer
    from .ports.model import Model
    from .services import DepsContext
    from .state import SessionState

__all__ = ["OUTPUT_TOOL_NAME", "Agent", "AgentRegistry", "UsageLimits"]

#: The tool through which an agent with an ``output_type`` delivers its structured output.
OUTPUT_TOOL_NAME = "final_result"

SystemPrompt = str | Callable[["SessionState"], str]


@dataclass(frozen=True)
class UsageLimits:
    """Optional per-run limits; a run that exceeds one ends ``failed`` with a clear reason."""

    max_requests: int | None = None
    max_total_tokens: int | None = None
    max_tool_calls: int | None = None


@dataclass(eq=False)
class Agent:
    """An agent definition.

    ``system_prompt`` is a string or a function of the session state. ``model`` is a Model
    instance or a string: ``"openai:<model>"``, ``"workers-ai:<model>"``, ``"test"`` or
    ``"demo"`` (see :func:`helix_agents.models.infer_model`). There is no default: a run of
    an agent without one fails with :class:`~helix_agents.errors.ModelNotConfiguredError`.
    ``output_type`` (a pydantic model) makes the agent finish through a structured-output
    tool whose validated value is the run's output. ``max_steps`` bounds the model calls of
    one turn.

    ``usage_limits`` bound one turn's requests, tokens and tool calls (the run then ends
    ``failed`` with ``failure_reason="usage_limit"``). ``companions`` are agents this one
    may start as persistent, named children: it gets the companion tools
    (:func:`helix_agents.subagents.companion_tools`), built when a registry registers it.
    ``deps_type`` and ``deps_factory`` give its tools typed dependencies (``ctx.deps``),
    built by each host (:mod:`helix_agents.services`). ``pending_expires_in`` is how long
    (seconds) a call may wait on an approval or a client result before the run fails as
    expired, unless the tool sets its own ``expires_in``; None never expires.
    """

    name: str
    system_prompt: SystemPrompt = ""
    tools: Sequence[Tool | Callable[..., Any]] = ()
    model: Model | str | None = None
    output_type: type[BaseModel] | None = None
    max_steps: int = 10
    description: str | None = None
    model_settings: ModelSettings = field(default_factory=ModelSettings)
    usage_limits: UsageLimits | None = None
    companions: Sequence[Agent | str] = ()
    pending_expires_in: float | None = 24 * 3600.0
    #: The type of the agent's dependencies, as tools see them (``ToolContext[deps_type]``).
    deps_type: type[Any] | None = None
    #: Builds the dependencies from a :class:`~helix_agents.services.DepsContext`, once per
    #: host (per isolate on Cloudflare), on a tool's first ``ctx.deps``.
    deps_factory: Callable[[DepsContext], Any] | None = None
    #: What of the stored history each model request carries: functions of the messages,
    #: applied in order before every request (:mod:`helix_agents.history`). The stored
    #: history is never changed.
    history_processors: Sequence[HistoryProcessor] = ()
    #: The session state's model (pydantic, every field with a default): tools see it as
    #: ``ctx.state`` (``ToolContext[Deps, MyState]``), clients as JSON (``typed_state``).
    state_type: type[BaseModel] | None = None
    #: MCP servers whose tools the agent also gets (:mod:`helix_agents.mcp`), listed once
    #: per run in a durable step.
    mcp_servers: Sequence[MCPServer] = ()
    _tools: dict[str, Tool] = field(init=False, repr=False, default_factory=dict)
    _definitions: list[ToolDefinition] | None = field(init=False, repr=False, default=None)
    _companion_tools_built: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}", self.name):
            raise ConfigurationError(
                f"agent name {self.name!r} must be 1-64 characters of letters, digits, _ . -"
            )
        if self.max_steps < 1:
            raise ConfigurationError(f"agent {self.name!r}: max_steps must be at least 1")
        if self.output_type is not None and not (
            isinstance(self.output_type, type) and issubclass(self.output_type, BaseModel)
        ):
            raise ConfigurationError(f"agent {self.name!r}: output_type must be a pydantic model")
        if self.deps_factory is not None and not callable(self.deps_factory):
            raise ConfigurationError(f"agent {self.name!r}: deps_factory must be callable")
        if self.deps_type is not None and self.deps_factory is None:
            raise ConfigurationError(
                f"agent {self.name!r}: deps_type needs a deps_factory that builds it from "
                "the host (a function of helix_agents.services.DepsContext)"
            )
        if self.pending_expires_in is not None and self.pending_expires_in <= 0:
            raise ConfigurationError(f"agent {self.name!r}: pending_expires_in must be > 0")
        from .mcp.servers import MCPServer

        self.mcp_servers = tuple(self.mcp_servers)
        for server in self.mcp_servers:
            if not isinstance(server, MCPServer):
                raise ConfigurationError(
                    f"agent {self.name!r}: mcp_servers takes MCPServerHTTP or MCPServerStdio, "
                    f"not {server!r}"
                )
        self.history_processors = tuple(self.history_processors)
        for processor in self.history_processors:
            if not callable(processor):
                raise ConfigurationError(
                    f"agent {self.name!r}: history processor {processor!r} is not callable"
                )
        if self.state_type is not None:
            from .typed_state import check_state_type

            check_state_type(self.name, self.state_type)
        self._add_tools(self.tools)

    def _add_tools(self, items: Iterable[Tool | Callable[..., Any]]) -> None:
        """Add tools, all or none (a name taken twice is refused)."""
        added: dict[str, Tool] = {}
        for item in items:
            built = item if isinstance(item, Tool) else tool(item)
            if built.name in self._tools or built.name in added:
                raise ConfigurationError(f"agent {self.name!r}: two tools named {built.name!r}")
            if built.name == OUTPUT_TOOL_NAME and self.output_type is not None:
                raise ConfigurationError(f"{OUTPUT_TOOL_NAME!r} is reserved for the output tool")
            added[built.name] = built
        self._tools.update(added)
        self._definitions = None

    def _build_companion_tools(self) -> None:
        """The companion tools, after the agent's own (the registry calls this once)."""
        if self.companions and not self._companion_tools_built:
            self._add_tools(companion_tools(tuple(self.companions)))
            self._companion_tools_built = True

    # -- tools ---------------------------------------------------------------------------

    @property
    def tool_map(self) -> dict[str, Tool]:
        return self._tools

    def get_tool(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def tool_definitions(self) -> list[ToolDefinition]:
        """What the model is offered: every tool, plus the output tool if any (built once:
        JSON schema generation would otherwise cost every model step)."""
        if self._definitions is None:
            self._definitions = self._build_definitions()
        return list(self._definitions)

    def _build_definitions(self) -> list[ToolDefinition]:
        defs = [
            ToolDefinition(name=t.name, description=t.description, parameters=t.parameters)
            for t in self._tools.values()
        ]
        if self.output_type is not None:
            schema = self.output_type.model_json_schema()
            schema.pop("title", None)
            doc = (self.output_type.__doc__ or "").strip()
            defs.append(
                ToolDefinition(
                    name=OUTPUT_TOOL_NAME,
                    description=doc or "Deliver the final result of the task.",
                    parameters=schema,
                )
            )
        return defs

    @property
    def output_tool_name(self) -> str | None:
        return OUTPUT_TOOL_NAME if self.output_type is not None else None

    def validate_output(self, arguments: dict[str, Any]) -> Any:
        """Validate the output tool's arguments; the JSON value of the output."""
        assert self.output_type is not None
        try:
            value = self.output_type.model_validate(arguments)
        except ValidationError as exc:
            problems = describe_validation_error(exc, "(output)")
            raise ToolArgumentsError(
                f"Invalid final result: {problems}. Call {OUTPUT_TOOL_NAME} again with a "
                "valid result."
            ) from None
        return value.model_dump(mode="json")

    # -- prompt --------------------------------------------------------------------------

    def render_system_prompt(self, state: SessionState) -> str:
        prompt = self.system_prompt
        return prompt(state) if callable(prompt) else prompt


class AgentRegistry:
    """Agents by name. Hosts resolve ``agentType`` through it."""

    def __init__(self, agents: Iterable[Agent] = ()) -> None:
        self._agents: dict[str, Agent] = {}
        for agent in agents:
            self.register(agent)

    def register(self, agent: Agent) -> Agent:
        """Register ``agent`` and the agents its sub-agent and companion tools start. The
        companion tools are built here, so an agent definition needs nothing of the loop."""
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"not an Agent: {agent!r}")
        if agent.name in self._agents:
            if self._agents[agent.name] is not agent:
                raise ConfigurationError(f"two agents named {agent.name!r}")
            return agent
        agent._build_companion_tools()
        self._agents[agent.name] = agent
        for item in agent.tool_map.values():
            for child in getattr(item, "child_agents", ()):
                if isinstance(child, Agent):
                    self.register(child)
        return agent

    def get(self, name: str) -> Agent:
        try:
            return self._agents[name]
        except KeyError:
            known = ", ".join(sorted(self._agents)) or "none"
            raise UnknownAgentError(f"unknown agent {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[Agent]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def names(self) -> list[str]:
        return sorted(self._agents)

    @classmethod
    def coerce(cls, value: AgentRegistry | Agent | Iterable[Agent]) -> AgentRegistry:
        """Accept a registry, a single agent, or any iterable of agents (``--app``)."""
        if isinstance(value, AgentRegistry):
            return value
        if isinstance(value, Agent):
            return cls([value])
        try:
            return cls(list(value))
        except TypeError:
            raise ConfigurationError(
                "expected an AgentRegistry, an Agent or a list of agents"
            ) from None
