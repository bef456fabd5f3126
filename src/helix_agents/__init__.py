"""helix-agents: a durable AI-agent runtime for Cloudflare Python Workers.

Define agents here; run them on the local host (``helix_agents.hosts.local``) or on
Cloudflare (``helix_agents.hosts.cloudflare``). Test doubles live in
``helix_agents.testing``.
"""

from typing import TYPE_CHECKING, Any

from .agent import Agent, AgentRegistry, UsageLimits
from .errors import (
    ConfigurationError,
    ConflictError,
    HelixError,
    ModelError,
    SessionNotFoundError,
    ToolError,
    UnknownAgentError,
)
from .messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from .ports.model import Model, ModelSettings
from .state import RunRecord, RunStatus, SessionState
from .tools import Tool, ToolContext, tool
from .usage import Usage, UsageRollup

if TYPE_CHECKING:
    from .chunks import Chunk, SequencedChunk
    from .executor import Executor, RunHandle
    from .subagents import subagent_tool

# Imported on first use, so that defining agents stays cheap (import time is measured in
# benchmarks/import_time.py).
_LAZY = {
    "Chunk": "chunks",
    "SequencedChunk": "chunks",
    "Executor": "executor",
    "RunHandle": "executor",
    "subagent_tool": "subagents",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'helix_agents' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentRegistry",
    "AssistantMessage",
    "Chunk",
    "ConfigurationError",
    "ConflictError",
    "Executor",
    "HelixError",
    "Message",
    "Model",
    "ModelError",
    "ModelSettings",
    "RunHandle",
    "RunRecord",
    "RunStatus",
    "SequencedChunk",
    "SessionNotFoundError",
    "SessionState",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolResultMessage",
    "UnknownAgentError",
    "Usage",
    "UsageLimits",
    "UsageRollup",
    "UserMessage",
    "__version__",
    "subagent_tool",
    "tool",
]
