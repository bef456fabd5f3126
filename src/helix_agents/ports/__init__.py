"""The small typed protocols the agent loop is written against. Hosts supply them.

Each port states its contract in its docstring; ``tests/conformance/`` holds one suite per
port that every implementation passes.
"""

from .database import Database, ExecResult, Statement
from .launcher import InstanceStatus, Launcher
from .model import (
    Model,
    ModelEvent,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolDefinition,
)
from .step import RetryConfig, Step, StepConfig, StepContext
from .streams import ReadResult, StreamInfo, StreamManager, StreamStatus, WriteAck

__all__ = [
    "Database",
    "ExecResult",
    "InstanceStatus",
    "Launcher",
    "Model",
    "ModelEvent",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ReadResult",
    "ReasoningDelta",
    "RetryConfig",
    "Statement",
    "Step",
    "StepConfig",
    "StepContext",
    "StreamInfo",
    "StreamManager",
    "StreamStatus",
    "TextDelta",
    "ToolCallDelta",
    "ToolDefinition",
    "WriteAck",
]
