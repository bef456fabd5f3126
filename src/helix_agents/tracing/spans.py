"""Spans, their ids, and the tracer of one run instance.

Ids are derived, not drawn: a span's id is a hash of what it stands for (the run instance,
the step's name and attempt, the call), so an attempt that is re-run after a crash, or an
instance replayed by its engine, names its spans the same way, and nothing random happens at
import or during a replay. A turn's trace id is a hash of the turn's first instance id: every
resume of that turn computes the same trace id without storing it. A child session's
instances and the resumes of a child get their parent span as a W3C ``traceparent`` in their
params (set by whoever starts them: the delegation step, the resume's planning from the
suspension context), so a turn with sub-agents and approvals is one trace.

Spans are buffered per instance; the step that recorded them starts their export when its
body ends (:mod:`.steps`), and the instance waits for its exports before it returns or
waits. A step served from the journal runs no body, so it records and exports nothing
again.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import TracingConfig

__all__ = [
    "Span",
    "Tracer",
    "current_span",
    "current_traceparent",
    "derive_id",
    "format_traceparent",
    "parse_traceparent",
]

#: The span that a span started now is a child of (a step's, a tool call's). A contextvar:
#: concurrent tool steps (asyncio tasks) each see their own.
_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "helix_current_span", default=None
)

SpanKind = int
INTERNAL: SpanKind = 1
CLIENT: SpanKind = 3


def derive_id(size: int, *parts: str) -> str:
    """``size`` bytes of hex id derived from ``parts`` (never all zeros, which W3C forbids)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[: 2 * size]
    return digest if digest.strip("0") else "1".rjust(2 * size, "0")


def format_traceparent(trace_id: str, span_id: str) -> str:
    return f"00-{trace_id}-{span_id}-01"


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of a W3C ``traceparent``, or None when it is not one."""
    if not value:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    trace_id, span_id = parts[1].lower(), parts[2].lower()
    try:
        int(trace_id, 16)
        int(span_id, 16)
    except ValueError:
        return None
    if not trace_id.strip("0") or not span_id.strip("0"):
        return None
    return trace_id, span_id


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    kind: SpanKind = INTERNAL
    end_ns: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    #: ``(code, message)``: OTLP's 1 = ok, 2 = error; None = unset.
    status: tuple[int, str] | None = None
    #: The W3C ``tracestate`` of a trace joined from a caller (OTLP's ``traceState``).
    trace_state: str | None = None

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.attributes[key] = value

    def fail(self, error: BaseException) -> None:
        self.status = (2, f"{type(error).__name__}: {error}"[:1000])
        self.attributes["error.type"] = type(error).__name__

    @property
    def traceparent(self) -> str:
        return format_traceparent(self.trace_id, self.span_id)


def current_span() -> Span | None:
    return _current.get()


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span in progress, for a run started from inside it."""
    span = _current.get()
    return None if span is None else span.traceparent


class Tracer:
    """The spans of one run instance: its run span's identity, and the spans its steps
    recorded in this process and have not exported yet."""

    def __init__(
        self,
        config: TracingConfig,
        *,
        trace_id: str,
        run_span_id: str,
        parent_span_id: str | None,
        export: Callable[[TracingConfig, list[Span]], Any],
        now_ns: Callable[[], int] = time.time_ns,
        trace_state: str | None = None,
    ) -> None:
        self.config = config
        self.trace_id = trace_id
        self.run_span_id = run_span_id
        self.parent_span_id = parent_span_id
        #: The caller's ``tracestate`` when the instance joined a caller's trace: every span
        #: of the instance carries it, as a span carries its parent's.
        self.trace_state = trace_state
        self._export = export
        self.now_ns = now_ns
        self._done: list[Span] = []
        self._pump: asyncio.Future[None] | None = None
        #: When this process began the instance (the run span's start unless the store knows
        #: an earlier one).
        self.began_ns = now_ns()

    @property
    def run_traceparent(self) -> str:
        return format_traceparent(self.trace_id, self.run_span_id)

    def start(
        self,
        name: str,
        *,
        key: str,
        kind: SpanKind = INTERNAL,
        parent: Span | None = None,
        top: bool = False,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """A span started now under ``parent`` (default: the span in progress of this
        instance, else the run span; ``top``: the run span); its id is derived from ``key``
        (unique under its parent)."""
        if parent is None and not top:
            parent = _current.get()
            if parent is not None and parent.trace_id != self.trace_id:
                parent = None
        parent_id = parent.span_id if parent is not None else self.run_span_id
        return Span(
            trace_id=self.trace_id,
            # Under its parent's id: a child of a step's second attempt differs from the
            # same child of the first.
            span_id=derive_id(8, self.run_span_id, parent_id, key),
            parent_id=parent_id,
            name=name,
            start_ns=self.now_ns(),
            kind=kind,
            attributes=dict(attributes or {}),
            trace_state=self.trace_state,
        )

    def end(self, span: Span) -> None:
        if span.end_ns is None:
            span.end_ns = max(self.now_ns(), span.start_ns)
            self._done.append(span)

    def enter(self, span: Span) -> contextvars.Token[Span | None]:
        return _current.set(span)

    def leave(self, token: contextvars.Token[Span | None]) -> None:
        _current.reset(token)

    def flush(self) -> None:
        """Start exporting the ended spans not exported yet, beside the step's own work:
        the step does not wait for the collector. While one export is in flight, spans that
        end meanwhile wait for it and go together in the next (so a slow collector gets
        fewer, larger exports, never more than one at a time per instance)."""
        if self._done and (self._pump is None or self._pump.done()):
            self._pump = asyncio.ensure_future(self._send())

    async def drain(self) -> None:
        """Export everything ended so far and wait for it: before the instance returns, or
        waits (an engine may evict an instance that waits, and its tasks with it)."""
        self.flush()
        if self._pump is not None:
            await self._pump

    async def _send(self) -> None:
        # Never raises: telemetry must not fail a run (a failed export is dropped, and
        # logged by the exporter).
        while self._done:
            spans, self._done = self._done, []
            try:
                await self._export(self.config, spans)
            except Exception:
                pass
