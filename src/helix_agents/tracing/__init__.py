"""OpenTelemetry traces of runs over OTLP/HTTP JSON (docs/tracing.md).

One turn is one trace: a span per run instance (``invoke_agent``), per step body, per model
request (``chat``, with the GenAI semantic conventions) and per tool call
(``execute_tool``), across resumes after approvals and into sub-agents. Configured by the
standard ``OTEL_*`` variables (:func:`tracing_config`); off, and free, when they name no
endpoint.
"""

from __future__ import annotations

from .config import TracingConfig, tracing_config
from .spans import current_traceparent

__all__ = ["TracingConfig", "current_traceparent", "tracing_config"]
