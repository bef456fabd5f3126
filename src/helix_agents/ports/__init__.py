"""The small typed protocols the agent loop is written against. Hosts supply them.

Each port states its contract in its docstring; ``tests/conformance/`` holds one suite per
port that every implementation passes.
"""

from .database import Database, ExecResult, Statement
from .embeddings import Embedder
from .kv import KeyValueStore, KVEntry, KVListPage
from .launcher import InstanceStatus, Launcher
from .model import (
    DataPart,
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
from .objects import ObjectInfo, ObjectListing, ObjectStore, StoredObject
from .queues import MessageBatch, OutgoingMessage, Queue, QueueMessage
from .step import RetryConfig, Step, StepConfig, StepContext
from .streams import ReadResult, StreamInfo, StreamManager, StreamStatus, WriteAck
from .vectors import Vector, VectorIndex, VectorMatch

__all__ = [
    "DataPart",
    "Database",
    "Embedder",
    "ExecResult",
    "InstanceStatus",
    "KVEntry",
    "KVListPage",
    "KeyValueStore",
    "Launcher",
    "MessageBatch",
    "Model",
    "ModelEvent",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ObjectInfo",
    "ObjectListing",
    "ObjectStore",
    "OutgoingMessage",
    "Queue",
    "QueueMessage",
    "ReadResult",
    "ReasoningDelta",
    "RetryConfig",
    "Statement",
    "Step",
    "StepConfig",
    "StepContext",
    "StoredObject",
    "StreamInfo",
    "StreamManager",
    "StreamStatus",
    "TextDelta",
    "ToolCallDelta",
    "ToolDefinition",
    "Vector",
    "VectorIndex",
    "VectorMatch",
    "WriteAck",
]
