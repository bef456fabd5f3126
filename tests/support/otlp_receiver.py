"""A local OTLP/HTTP traces receiver, written for the tests.

It speaks the receiving side of the protocol on a socket on 127.0.0.1: ``POST /v1/traces``
with ``Content-Type: application/json`` and a JSON ``ExportTraceServiceRequest`` (the
protobuf JSON mapping: hex ``traceId`` / ``spanId``, 64-bit times as decimal strings,
``AnyValue`` attributes) answers ``200`` with an ``ExportTraceServiceResponse``; a body that
breaks the mapping answers ``400`` with the reason (what a collector does), and is kept aside
so a test can fail on it. Every accepted span is kept, flattened, with its resource.

It runs in a thread of its own (``http.server``), so a test's event loop never blocks it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.serving import LocalServer

__all__ = ["OTLPReceiver", "ReceivedSpan"]

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_UINT = re.compile(r"^[0-9]+$")


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    #: The span's W3C ``tracestate`` (``traceState``; empty when unset).
    trace_state: str = ""


def _value(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"an AnyValue has exactly one field: {value!r}")
    ((kind, inner),) = value.items()
    if kind == "stringValue" and isinstance(inner, str):
        return inner
    if kind == "boolValue" and isinstance(inner, bool):
        return inner
    if kind == "intValue" and isinstance(inner, (str, int)) and re.match(r"^-?[0-9]+$", str(inner)):
        return int(inner)
    if kind == "doubleValue" and isinstance(inner, (int, float)):
        return float(inner)
    if kind == "arrayValue" and isinstance(inner, dict):
        return [_value(v) for v in inner.get("values", [])]
    raise ValueError(f"not an AnyValue: {value!r}")


def _attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise ValueError("attributes must be a list of KeyValue")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValueError(f"not a KeyValue: {item!r}")
        out[item["key"]] = _value(item.get("value"))
    return out


def parse_request(body: Any) -> list[ReceivedSpan]:
    """The spans of one ``ExportTraceServiceRequest``; ValueError where it breaks the
    protobuf JSON mapping of the OTLP trace protos."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceSpans"), list):
        raise ValueError("the body is not an ExportTraceServiceRequest")
    spans: list[ReceivedSpan] = []
    for resource_spans in body["resourceSpans"]:
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {})
            if not isinstance(scope, dict):
                raise ValueError("scope must be an InstrumentationScope")
            for span in scope_spans.get("spans", []):
                trace_id, span_id = span.get("traceId", ""), span.get("spanId", "")
                parent = span.get("parentSpanId") or None
                if not _HEX32.match(trace_id) or trace_id == "0" * 32:
                    raise ValueError(f"bad traceId {trace_id!r}")
                if not _HEX16.match(span_id) or span_id == "0" * 16:
                    raise ValueError(f"bad spanId {span_id!r}")
                if parent is not None and not _HEX16.match(parent):
                    raise ValueError(f"bad parentSpanId {parent!r}")
                start, end = span.get("startTimeUnixNano"), span.get("endTimeUnixNano")
                if not (isinstance(start, str) and _UINT.match(start)):
                    raise ValueError(f"startTimeUnixNano must be a decimal string: {start!r}")
                if not (isinstance(end, str) and _UINT.match(end)):
                    raise ValueError(f"endTimeUnixNano must be a decimal string: {end!r}")
                if int(end) < int(start):
                    raise ValueError(f"span {span.get('name')!r} ends before it starts")
                kind = span.get("kind", 0)
                if kind not in range(6):
                    raise ValueError(f"bad SpanKind {kind!r}")
                if not isinstance(span.get("name"), str) or not span["name"]:
                    raise ValueError("a span needs a name")
                trace_state = span.get("traceState", "")
                if not isinstance(trace_state, str):
                    raise ValueError(f"traceState must be a string: {trace_state!r}")
                status = span.get("status", {})
                if status and status.get("code", 0) not in (0, 1, 2):
                    raise ValueError(f"bad status {status!r}")
                spans.append(
                    ReceivedSpan(
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_id=parent,
                        name=span["name"],
                        kind=kind,
                        start_ns=int(start),
                        end_ns=int(end),
                        attributes=_attributes(span.get("attributes", [])),
                        status=status,
                        resource=resource,
                        trace_state=trace_state,
                    )
                )
    return spans


class OTLPReceiver(LocalServer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests: list[dict[str, Any]] = []  # headers of each POST
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        """The base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.spans.clear()
            self.requests.clear()
            self.rejected.clear()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/v1/traces":
                    self._answer(404, {"message": f"no such path {self.path}"})
                    return
                if "application/json" not in (self.headers.get("content-type") or ""):
                    self._answer(415, {"message": "this receiver takes OTLP/HTTP JSON"})
                    return
                try:
                    spans = parse_request(json.loads(raw))
                except ValueError as exc:
                    with receiver._lock:
                        receiver.rejected.append(str(exc))
                    self._answer(400, {"code": 3, "message": str(exc)})
                    return
                with receiver._lock:
                    receiver.requests.append(dict(self.headers.items()))
                    receiver.spans.extend(spans)
                self._answer(200, {"partialSuccess": {}})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[ReceivedSpan]:
        """The spans once ``predicate(spans)`` holds (exports may trail a run's end: they
        are sent by the run's own event loop, which this wait leaves free)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans) or time.monotonic() > deadline:
                return spans
            await asyncio.sleep(0.02)
