"""The one exception tree of helix-agents.

::

    HelixError                         everything the runtime raises on purpose
    ├── ConfigurationError             misuse of the API: bad agent, tool or host setup
    │   ├── UnknownAgentError          no agent of that name in the registry
    │   ├── ModelNotConfiguredError    an agent without a model was about to run (*)
    │   ├── ModelRequestsForbiddenError  a real model request under forbid_model_requests (*)
    │   └── ServiceNotConfiguredError  a tool used a service (ctx.services / ctx.env) its host lacks
    ├── InvalidIdError                 a session / instance / stream id breaks the id rules
    ├── ScheduleError                  a schedule or cron expression breaks the rules
    ├── StoreError                     the state store refused an operation
    │   ├── SessionNotFoundError
    │   ├── CheckpointNotFoundError    no checkpoint of that sequence in the session
    │   ├── ConflictError              single writer: a run is already active, or we lost the lease
    │   ├── ScheduleNotFoundError      no schedule of that id (or not the caller's)
    │   └── ValueTooLargeError         a value over D1's 2 MB row / value limit
    ├── DatabaseError                  a driver error, translated from sqlite3 / D1 / the bridge
    │   ├── DatabaseLimitError         D1's statement limits (parameters, statement size)
    │   └── StorageUnavailableError    the disk is full or failing: writes fail until it recovers
    ├── StepError                      the durable step engine
    │   ├── NonDeterminismError        a replay asked for a different step than the journal has
    │   ├── StepTimeoutError
    │   ├── StepResultTooLargeError    a step result over 1 MiB
    │   ├── InstanceExistsError        write-once instance ids
    │   └── InstanceNotFoundError
    ├── NonRetryableError              raised in a step: fail it at once, without retries
    ├── StreamError                    the stream manager
    │   ├── StreamNotFoundError
    │   ├── StreamClosedError          a write to a stream that has ended or failed
    │   ├── InvalidCursorError         a resume cursor (Last-Event-ID, ?from=) that is not a sequence
    │   └── StreamReaderLimitError     a reader stopped early within a platform limit: resume
    ├── ModelError                     a model provider failed
    │   ├── ModelHTTPError             a non-retryable HTTP status, with the provider's message
    │   ├── ModelRateLimitedError      429 after the retries ran out
    │   ├── ModelProtocolError         the provider spoke the protocol wrong
    │   ├── ModelConnectionError       transport failure or timeout, after the retries
    │   └── ModelStreamInterruptedError  the stream broke after events went out: retry the step
    ├── ServiceError                   a service port (vectors, queues, embeddings ...) refused or failed
    │   ├── VectorIndexError           a vector write or query broke the index's rules, or failed
    │   ├── QueueError                 a message or batch broke the queue's rules, or a send failed
    │   ├── EmbeddingError             the embedding provider failed or answered malformed
    │   ├── KeyValueError              a key, value, TTL or metadata broke the key-value rules, or a call failed
    │   ├── ObjectStoreError           an object key, size or listing broke the storage rules, or a call failed
    │   └── MCPError                   an MCP server was unreachable, refused a request or answered malformed
    ├── ToolError                      raised by a tool: its message goes back to the model
    ├── ToolArgumentsError             the model's tool arguments (or output) failed validation:
    │                                  its message goes back to the model
    ├── ToolSubmissionError            a submitted decision or client result is malformed
    ├── StateValidationError           a session state that its agent's state model refuses
    ├── JsonPatchError                 a JSON Patch that cannot apply to its document
    ├── ApiError (http/errors.py)      the HTTP API's own refusals, each with its status
    └── WorkerStartError (workerd/process.py)  the local Worker runtime did not start

(*) also a NonRetryableError: a step that raises it fails at once, without retries.

Foreign errors (sqlite3, JS exceptions, httpx) are translated where an adapter meets them,
so code above the ports only ever sees this tree.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CheckpointNotFoundError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseError",
    "DatabaseLimitError",
    "EmbeddingError",
    "HelixError",
    "InstanceExistsError",
    "InstanceNotFoundError",
    "InvalidCursorError",
    "InvalidIdError",
    "JsonPatchError",
    "KeyValueError",
    "MCPError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelNotConfiguredError",
    "ModelProtocolError",
    "ModelRateLimitedError",
    "ModelRequestsForbiddenError",
    "ModelStreamInterruptedError",
    "NonDeterminismError",
    "NonRetryableError",
    "ObjectStoreError",
    "QueueError",
    "ScheduleError",
    "ScheduleNotFoundError",
    "ServiceError",
    "ServiceNotConfiguredError",
    "SessionNotFoundError",
    "StateValidationError",
    "StepError",
    "StepResultTooLargeError",
    "StepTimeoutError",
    "StorageUnavailableError",
    "StoreError",
    "StreamClosedError",
    "StreamError",
    "StreamNotFoundError",
    "StreamReaderLimitError",
    "ToolArgumentsError",
    "ToolError",
    "ToolSubmissionError",
    "UnknownAgentError",
    "ValueTooLargeError",
    "VectorIndexError",
]


class HelixError(Exception):
    """Base of every error helix-agents raises on purpose."""

    #: A stable machine-readable code, used by the HTTP layer in ``{"error": {"code"}}``.
    code: str = "helix_error"


class ConfigurationError(HelixError):
    code = "configuration_error"


class UnknownAgentError(ConfigurationError):
    code = "unknown_agent"


class ServiceNotConfiguredError(ConfigurationError):
    """A tool asked for a service its host does not have (no binding in ``wrangler.toml``,
    or ``ctx.env`` on the local host); the message names what to add or use instead."""

    code = "service_not_configured"


class InvalidIdError(HelixError, ValueError):
    code = "invalid_id"


class ScheduleError(HelixError, ValueError):
    """A schedule that cannot be: no due time or more than one, a cron expression that
    does not parse or matches no date, a due time in the past, an unknown policy."""

    code = "invalid_schedule"


class StoreError(HelixError):
    code = "store_error"


class SessionNotFoundError(StoreError):
    code = "session_not_found"


class CheckpointNotFoundError(StoreError):
    """No checkpoint at that sequence in the session (rewound away, or never recorded)."""

    code = "checkpoint_not_found"


class ScheduleNotFoundError(StoreError):
    code = "schedule_not_found"


class ConflictError(StoreError):
    code = "conflict"


class ValueTooLargeError(StoreError):
    code = "value_too_large"

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class DatabaseError(HelixError):
    code = "database_error"


class DatabaseLimitError(DatabaseError):
    code = "database_limit"


class StorageUnavailableError(DatabaseError):
    """The storage under a database cannot take writes right now: the disk is full
    (``SQLITE_FULL``) or failing (``SQLITE_IOERR``). Transient by nature: the local host
    pauses the runs it hits and carries them on once writes succeed again."""

    code = "storage_unavailable"

    def __init__(self, message: str, *, reason: str = "I/O error") -> None:
        super().__init__(message)
        #: A short cause for people: ``"disk full"`` or ``"I/O error"``.
        self.reason = reason


class StepError(HelixError):
    code = "step_error"


class NonDeterminismError(StepError):
    code = "non_determinism"


class StepTimeoutError(StepError):
    code = "step_timeout"


class StepResultTooLargeError(StepError):
    code = "step_result_too_large"


class InstanceExistsError(StepError):
    code = "instance_exists"


class InstanceNotFoundError(StepError):
    code = "instance_not_found"


class NonRetryableError(HelixError):
    """Raise inside a step to fail it at once: the step is not retried, whatever its config
    says (Workflows' ``NonRetryableError``). The workflow sees the error raised again, with
    this type, on the first run and on every replay."""

    code = "non_retryable"


class ModelNotConfiguredError(ConfigurationError, NonRetryableError):
    """An agent without a ``model`` was about to call one. Also a NonRetryableError: the
    model step fails at once (a retry could not find a model), and so does the run."""

    code = "model_not_configured"


class ModelRequestsForbiddenError(ConfigurationError, NonRetryableError):
    """A real model adapter (OpenAI-compatible, Workers AI) was asked for a request while
    :func:`helix_agents.testing.forbid_model_requests` is in force: a test that would have
    reached a real LLM. Not retried, like :class:`ModelNotConfiguredError`."""

    code = "model_requests_forbidden"


class StreamError(HelixError):
    code = "stream_error"


class StreamNotFoundError(StreamError):
    code = "stream_not_found"


class StreamClosedError(StreamError):
    """A write to a stream whose status is final (``ended`` or ``failed``): nothing was
    written. A run's last write raises it when the stream's end got there first (an abort,
    or the same write made by an attempt that died before the journal recorded it)."""

    code = "stream_closed"


class InvalidCursorError(StreamError, ValueError):
    """A client's resume position is not a non-negative integer (HTTP 400)."""

    code = "invalid_cursor"


class StreamReaderLimitError(StreamError):
    """A reader stopped before the stream's end to stay within a platform limit (the
    subrequests of one Worker invocation): nothing is lost, the reader resumes after
    :attr:`cursor`. An SSE response ends without ``[DONE]`` on it, and the client reattaches
    with ``Last-Event-ID``."""

    code = "stream_reader_limit"

    def __init__(self, message: str, *, cursor: int) -> None:
        super().__init__(message)
        self.cursor = cursor


class ModelError(HelixError):
    code = "model_error"


class ModelHTTPError(ModelError):
    code = "model_http_error"

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class ModelRateLimitedError(ModelHTTPError):
    code = "model_rate_limited"


class ModelProtocolError(ModelError):
    code = "model_protocol_error"


class ModelConnectionError(ModelError):
    """The provider could not be reached, the connection failed or a timeout expired, and the
    adapter's own retries ran out."""

    code = "model_connection_error"


class ModelStreamInterruptedError(ModelError):
    """The response broke off after some of its events had already been yielded.

    An adapter cannot retry this itself without showing the consumer a second copy of those
    events, so it raises and the durable step layer retries the whole model step (tagging the
    new attempt's chunks and resetting the superseded one).
    """

    code = "model_stream_interrupted"


class ServiceError(HelixError):
    """A service port (vector index, queue, embeddings, key-value, object storage) refused a
    request that breaks its rules, or its backend failed. A tool that lets it escape sends
    its message to the model as the tool's error."""

    code = "service_error"


class VectorIndexError(ServiceError):
    code = "vector_index_error"


class QueueError(ServiceError):
    code = "queue_error"


class EmbeddingError(ServiceError):
    code = "embedding_error"


class KeyValueError(ServiceError, ValueError):
    code = "key_value_error"


class ObjectStoreError(ServiceError, ValueError):
    code = "object_store_error"


class MCPError(ServiceError):
    """An MCP server (helix_agents.mcp) could not be reached, refused a request, answered
    outside the protocol, or reported a tool's failure. A tool call that meets it sends its
    message to the model as the call's error; a tool listing that meets it leaves the
    server's tools out and tells the model why."""

    code = "mcp_error"


class ToolError(HelixError):
    """Raise from a tool to send ``message`` back to the model as the tool's error result.

    The model sees the message and may correct itself; the run goes on.
    """

    code = "tool_error"


class ToolArgumentsError(HelixError):
    """The model's arguments for a tool (or its structured output) failed validation;
    ``message`` is written for the model, which gets it as the call's error result."""

    code = "tool_arguments"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolSubmissionError(HelixError, ValueError):
    """A submission for a pending tool call is malformed: a result for a call that needs an
    approval (or a decision for a client tool), both or neither, or a client result that
    fails the tool's declared output schema (HTTP 400/422). A submission that is well formed
    but not acceptable now (unknown call, already decided) is a ConflictError."""

    code = "invalid_tool_submission"


class StateValidationError(HelixError, ValueError):
    """A session state its agent's ``state_type`` refuses (a human's edit through the API,
    a stored state that no longer fits the model); the message says which fields."""

    code = "state_invalid"


class JsonPatchError(HelixError, ValueError):
    """A JSON Patch (RFC 6902) that cannot apply to its document: a missing path, an
    unknown operation, a failed ``test``."""

    code = "json_patch_error"
