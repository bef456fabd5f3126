"""helix-agents: a durable AI-agent runtime for Cloudflare Python Workers."""

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
from .messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from .state import RunStatus, SessionState
from .usage import Usage

__version__ = "0.1.0"

__all__ = [
    "AssistantMessage",
    "ConfigurationError",
    "ConflictError",
    "HelixError",
    "Message",
    "ModelError",
    "RunFailedError",
    "RunStatus",
    "SessionNotFoundError",
    "SessionState",
    "ToolCall",
    "ToolError",
    "ToolResultMessage",
    "UnknownAgentError",
    "Usage",
    "UserMessage",
    "__version__",
]
