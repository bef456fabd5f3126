"""The one exception tree of helix-agents.

::

    HelixError                         everything the runtime raises on purpose
    ├── ConfigurationError             misuse of the API: bad agent, tool or host setup
    │   └── UnknownAgentError          no agent of that name in the registry
    ├── InvalidIdError                 a session / instance / stream id breaks the id rules
    ├── StoreError                     the state store refused an operation
    │   ├── SessionNotFoundError
    │   ├── ConflictError              single writer: a run is already active, or we lost the lease
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
    ├── ToolError                      raised by a tool: its message goes back to the model
    ├── ToolSubmissionError            a submitted decision or client result is malformed
    ├── UsageLimitExceededError        an agent's request / token / tool-call limit
    └── RunFailedError                 a run ended failed; carries the reason

    BaseException
    └── RunSignal                      the loop's own control flow: user code must not swallow it
        ├── SuspendSignal              stop here and persist a suspension
        ├── InterruptSignal            a soft stop was requested
        └── AbortSignal                a hard stop was requested

Foreign errors (sqlite3, JS exceptions, httpx) are translated where an adapter meets them,
so code above the ports only ever sees this tree.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AbortSignal",
    "ConfigurationError",
    "ConflictError",
    "DatabaseError",
    "DatabaseLimitError",
    "HelixError",
    "InstanceExistsError",
    "InstanceNotFoundError",
    "InterruptSignal",
    "InvalidCursorError",
    "InvalidIdError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelProtocolError",
    "ModelRateLimitedError",
    "ModelStreamInterruptedError",
    "NonDeterminismError",
    "RunFailedError",
    "RunSignal",
    "SessionNotFoundError",
    "StepError",
    "StepResultTooLargeError",
    "StepTimeoutError",
    "StorageUnavailableError",
    "StoreError",
    "StreamClosedError",
    "StreamError",
    "StreamNotFoundError",
    "StreamReaderLimitError",
    "SuspendSignal",
    "ToolError",
    "ToolSubmissionError",
    "UnknownAgentError",
    "UsageLimitExceededError",
    "ValueTooLargeError",
]


class HelixError(Exception):
    """Base of every error helix-agents raises on purpose."""

    #: A stable machine-readable code, used by the HTTP layer in ``{"error": {"code"}}``.
    code: str = "helix_error"


class ConfigurationError(HelixError):
    code = "configuration_error"


class UnknownAgentError(ConfigurationError):
    code = "unknown_agent"


class InvalidIdError(HelixError, ValueError):
    code = "invalid_id"


class StoreError(HelixError):
    code = "store_error"


class SessionNotFoundError(StoreError):
    code = "session_not_found"


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


class ToolError(HelixError):
    """Raise from a tool to send ``message`` back to the model as the tool's error result.

    The model sees the message and may correct itself; the run goes on.
    """

    code = "tool_error"


class ToolSubmissionError(HelixError, ValueError):
    """A submission for a pending tool call is malformed: a result for a call that needs an
    approval (or a decision for a client tool), both or neither, or a client result that
    fails the tool's declared output schema (HTTP 400/422). A submission that is well formed
    but not acceptable now (unknown call, already decided) is a ConflictError."""

    code = "invalid_tool_submission"


class UsageLimitExceededError(HelixError):
    code = "usage_limit_exceeded"


class RunFailedError(HelixError):
    code = "run_failed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class RunSignal(BaseException):
    """The loop's own control flow. Derives from BaseException so ``except Exception`` in
    user code (a tool, a model adapter) cannot swallow it."""


class SuspendSignal(RunSignal):
    def __init__(self, status: str, detail: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail


class InterruptSignal(RunSignal):
    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "interrupted")
        self.reason = reason


class AbortSignal(RunSignal):
    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "aborted")
        self.reason = reason
