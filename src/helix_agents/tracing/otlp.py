"""Spans to OTLP/HTTP JSON (the protobuf-JSON form of ``ExportTraceServiceRequest``), POSTed
with httpx: the same code on CPython and in the Worker (over its ``fetch`` transport).

httpx is imported at the first export, never when tracing is off.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from .config import TracingConfig
from .spans import Span

__all__ = ["encode_spans", "export_spans"]

logger = logging.getLogger("helix_agents.tracing")

SCOPE = {"name": "helix_agents", "version": "1"}


def encode_spans(config: TracingConfig, spans: list[Span]) -> dict[str, Any]:
    """The JSON body of one export: one resource, one scope, the spans in order."""
    resource = {**config.resource, "service.name": config.service_name}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource)},
                "scopeSpans": [{"scope": SCOPE, "spans": [_span(s) for s in spans]}],
            }
        ]
    }


def _span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind,
        # 64-bit integers are strings in protobuf JSON.
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns if span.end_ns is not None else span.start_ns),
        "attributes": _attributes(span.attributes),
    }
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.status is not None:
        code, message = span.status
        out["status"] = {"code": code, "message": message} if message else {"code": code}
    return out


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items()]


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


#: One client per event loop and configuration: a client is bound to the loop that first
#: used it, and building one per export (its connection pool, its TLS context) cost more
#: than the export itself.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Any]] = (
    weakref.WeakKeyDictionary()
)


def _client(config: TracingConfig) -> Any:
    import httpx

    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(id(config))
    if client is None or client.is_closed:
        client = per_loop[id(config)] = httpx.AsyncClient(
            transport=config.transport, timeout=httpx.Timeout(config.timeout)
        )
    return client


async def export_spans(config: TracingConfig, spans: list[Span]) -> None:
    """POST ``spans`` to the configured endpoint; a failure is logged, not raised."""
    body = encode_spans(config, spans)
    headers = {"content-type": "application/json", **config.headers}
    try:
        response = await _client(config).post(config.endpoint, json=body, headers=headers)
        if response.status_code >= 300:
            logger.warning(
                "OTLP export of %d spans refused: HTTP %d %s",
                len(spans),
                response.status_code,
                response.text[:200],
            )
    except Exception as exc:
        logger.warning("OTLP export of %d spans failed: %s", len(spans), exc)
