"""helix-agents: a durable AI-agent runtime for Cloudflare Python Workers.

Define agents here; run them on the local host (``helix_agents.hosts.local``) or on
Cloudflare (``helix_agents.hosts.cloudflare``). Test doubles live in
``helix_agents.testing``.
"""

from .agent import Agent, AgentRegistry, UsageLimits
from .chunks import Chunk, SequencedChunk
from .errors import (
    ConfigurationError,
    ConflictError,
    HelixError,
    ModelError,
    RunFailedError,
    SessionNotFoundError,
    ToolError,
    UnknownAgentError,
)
from .executor import Executor, RunHandle
from .messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from .ports.model import Model, ModelSettings
from .state import RunRecord, RunStatus, SessionState
from .tools import Tool, ToolContext, tool
from .usage import Usage, UsageRollup

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
    "RunFailedError",
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
    "tool",
]
