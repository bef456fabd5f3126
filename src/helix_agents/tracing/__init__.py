"""OpenTelemetry traces of runs over OTLP/HTTP JSON (docs/tracing.md).

One turn is one trace: a span per run instance (``invoke_agent``), per step body, per model
request (``chat``, with the GenAI semantic conventions) and per tool call
(``execute_tool``), across resumes after approvals and into sub-agents. Configured by the
standard ``OTEL_*`` variables (:func:`tracing_config`); off, and free, when they name no
endpoint. A run started over HTTP with a W3C ``traceparent`` joins the caller's trace
(:func:`incoming_trace_context`).
"""

from __future__ import annotations

from .config import TracingConfig, tracing_config
from .propagation import TraceContext, incoming_trace_context
from .spans import current_traceparent

__all__ = [
    "TraceContext",
    "TracingConfig",
    "current_traceparent",
    "incoming_trace_context",
    "tracing_config",
]
